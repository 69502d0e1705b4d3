"""How a range run shows its progress: a bar on a terminal, otherwise a log line every N seconds, never both.

A person watching a terminal wants one line that moves; a container log,
Airflow or a log collector (``LOG_FORMAT=json``) wants a line now and then that
it can keep. ``display_for`` picks one; the run only hands it ``Progress``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
from typing import Protocol, TextIO

from tqdm import tqdm

log = logging.getLogger(__name__)

BAR_EVERY = 0.5
"""Seconds between redraws of the bar: often enough to look alive, rarely enough to cost nothing."""


@dataclass(frozen=True)
class Progress:
    """Where a range run stands."""

    dates_done: int
    dates: int
    pages: int
    records: int
    requests_per_s: float
    eta_s: int | None
    """Seconds left, from the dates settled so far; None before the first."""


class Display(Protocol):
    every: float
    """Seconds between two ``show`` calls."""

    def show(self, progress: Progress) -> None: ...

    def close(self, progress: Progress) -> None:
        """The run is over; ``progress`` is where it ended."""


class LogLines:
    """A progress log line (a JSON object in the json log format) every ``every`` seconds."""

    def __init__(self, every: float) -> None:
        self.every = every

    def show(self, progress: Progress) -> None:
        eta = "no estimate yet" if progress.eta_s is None else f"about {progress.eta_s}s left"
        log.info(
            "progress: %d/%d dates, %d pages, %d records, %.1f requests/s, %s",
            progress.dates_done,
            progress.dates,
            progress.pages,
            progress.records,
            progress.requests_per_s,
            eta,
            extra={"progress": True, **asdict(progress)},
        )

    def close(self, progress: Progress) -> None:
        pass


class Bar:
    """A tqdm bar of dates on ``stream``, with pages, records and requests per second beside it."""

    every = BAR_EVERY

    def __init__(self, stream: TextIO, dates: int) -> None:
        # smoothing=0: the ETA comes from the average rate of the whole run, not from the last burst.
        columns, rows = _size(stream)
        self._bar = tqdm(total=dates, unit="date", file=stream, ncols=columns, nrows=rows, smoothing=0, mininterval=0)

    def show(self, progress: Progress) -> None:
        self._bar.n = progress.dates_done
        self._bar.set_postfix_str(
            f"{progress.pages} pages, {progress.records} records, {progress.requests_per_s:.1f} req/s", refresh=False
        )
        self._bar.refresh()

    def close(self, progress: Progress) -> None:
        self.show(progress)
        self._bar.close()


def _size(stream: TextIO) -> tuple[int, int]:
    """The terminal's columns and rows; 80 x 24 where it tells none (a new pseudo-terminal says 0 x 0, and
    tqdm hides a bar that has no row to stand on)."""
    try:
        size = os.get_terminal_size(stream.fileno())
    except OSError:
        return 80, 24
    return size.columns or 80, size.lines or 24


def display_for(interval: float, log_format: str, stream: TextIO, dates: int) -> Display | None:
    """The bar on a terminal in the text log format, else log lines every ``interval`` s; None when 0."""
    if interval <= 0:
        return None
    if log_format == "text" and stream.isatty():
        return Bar(stream, dates)
    return LogLines(interval)
