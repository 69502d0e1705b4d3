"""What happened to each date of a run, and the run's exit code from them."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from shared.errors import EXIT_OK, EXIT_PERMANENT, EXIT_RETRY, EXIT_SIGINT, EXIT_SIGTERM, EXIT_USAGE


class Status(enum.Enum):
    """What happened to one date."""

    DONE = "done"
    SKIPPED = "skipped"
    """Already done (up to date, or complete with ``--missing-only``)."""
    FAILED = "failed"
    NOT_ATTEMPTED = "not attempted"
    """The run ended (a failure elsewhere, an interrupt) before this date's turn; a later run may do it."""


@dataclass(frozen=True)
class Outcome:
    """What happened to one date, and the exit code that says so."""

    day: date
    status: Status
    error: str | None = None
    failure_code: int = EXIT_RETRY
    """The exit code of a failed date (its error's ``exit_code``); unused otherwise."""

    @property
    def exit_code(self) -> int:
        if self.status in (Status.DONE, Status.SKIPPED):
            return EXIT_OK
        if self.status is Status.NOT_ATTEMPTED:
            return EXIT_RETRY
        return self.failure_code


# From least to most serious: in a range the most serious code is the run's.
_SEVERITY = (EXIT_OK, EXIT_RETRY, EXIT_PERMANENT, EXIT_USAGE, EXIT_SIGTERM, EXIT_SIGINT)


def worst(codes: Iterable[int]) -> int:
    """The most serious exit code of ``codes`` (0 for none): interrupted, then usage, then 3, then 1.

    A code outside the table (it should not happen) counts as 1, a failure worth a retry.
    """
    ranks = [_SEVERITY.index(code) if code in _SEVERITY else _SEVERITY.index(EXIT_RETRY) for code in codes]
    return _SEVERITY[max(ranks, default=0)]
