"""``shared.cli``: per-date outcomes and exit codes."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from shared.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Outcome, attempt, report, run_main
from shared.errors import ApiError, ConfigError, PartitionError

DAY = date(2026, 11, 24)
log = logging.getLogger("test.cli")


def raises(exc: BaseException):
    """A callable taking any arguments that raises ``exc``."""

    def work(*_: object) -> str:
        raise exc

    return work


@pytest.mark.parametrize(
    ("work", "expected"),
    [
        pytest.param(lambda d: "done", Outcome(DAY, "done"), id="done"),
        pytest.param(lambda d: "skipped", Outcome(DAY, "skipped"), id="skipped"),
        pytest.param(raises(ApiError("page 2: gave up")), Outcome(DAY, "failed", "page 2: gave up"), id="api-error"),
        pytest.param(raises(PartitionError("altered")), Outcome(DAY, "failed", "altered"), id="partition-error"),
        pytest.param(
            raises(OSError(28, "No space left on device", "/data/raw/x.json")),
            Outcome(DAY, "failed", "No space left on device: /data/raw/x.json"),
            id="disk-full-with-path",
        ),
        pytest.param(
            raises(PermissionError(13, "Permission denied")),
            Outcome(DAY, "failed", "Permission denied"),
            id="permission-without-path",
        ),
        pytest.param(raises(KeyError("x")), Outcome(DAY, "failed", "unexpected KeyError: 'x'"), id="unexpected"),
    ],
)
def test_attempt(work, expected: Outcome) -> None:
    assert attempt(DAY, work, log) == expected


def test_attempt_lets_interrupts_through() -> None:
    with pytest.raises(KeyboardInterrupt):
        attempt(DAY, raises(KeyboardInterrupt()), log)


@pytest.mark.parametrize(
    ("statuses", "code", "stderr_lines"),
    [
        pytest.param([], EXIT_OK, [], id="no-dates"),
        pytest.param(["done", "skipped"], EXIT_OK, [], id="done-and-skipped"),
        pytest.param(
            ["done", "failed", "failed"],
            EXIT_FAILED,
            ["tool: 2026-11-25: boom 1", "tool: 2026-11-26: boom 2"],
            id="two-failed",
        ),
    ],
)
def test_report(statuses: list[str], code: int, stderr_lines: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    outcomes = []
    for i, status in enumerate(statuses):
        error = f"boom {i}" if status == "failed" else None
        outcomes.append(Outcome(date(2026, 11, 24 + i), status, error))
    assert report("tool", outcomes, log) == code
    assert capsys.readouterr().err.splitlines() == stderr_lines


@pytest.mark.parametrize(
    ("body", "code", "stderr"),
    [
        pytest.param(lambda: 0, EXIT_OK, "", id="ok"),
        pytest.param(lambda: 1, EXIT_FAILED, "", id="failed"),
        pytest.param(raises(ConfigError("bad flag")), EXIT_USAGE, "tool: error: bad flag\n", id="config-error"),
        pytest.param(raises(KeyboardInterrupt()), 130, "tool: interrupted\n", id="interrupt"),
    ],
)
def test_run_main(body, code: int, stderr: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main("tool", body) == code
    assert capsys.readouterr().err == stderr
