"""Which progress display a run gets: a bar only on a terminal in the text log format, never both, none at 0."""

from __future__ import annotations

import io

import pytest

from extract_job.progress import Bar, LogLines, display_for


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("interval", "log_format", "stream", "expected"),
    [
        pytest.param(10.0, "text", Terminal(), Bar, id="terminal-text-bar"),
        pytest.param(10.0, "json", Terminal(), LogLines, id="terminal-json-lines"),
        pytest.param(10.0, "text", io.StringIO(), LogLines, id="pipe-text-lines"),
        pytest.param(0.0, "text", Terminal(), type(None), id="zero-none"),
    ],
)
def test_display_for(interval: float, log_format: str, stream: io.StringIO, expected: type) -> None:
    assert isinstance(display_for(interval, log_format, stream, dates=3), expected)


def test_log_lines_come_every_interval() -> None:
    display = display_for(2.5, "json", io.StringIO(), dates=3)
    assert display is not None and display.every == 2.5
