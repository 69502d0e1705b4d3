"""What happened to each date of a run, and the run's exit code from them."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from shared.errors import EXIT_OK, EXIT_PERMANENT, EXIT_RETRY, EXIT_SIGINT, EXIT_SIGTERM, EXIT_USAGE
from shared.manifest import canonical_run_id


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
    # What ``attempt`` observed of the date, for lineage and metrics (``shared.observe``); not part of its identity.
    started_at: str = field(default="", compare=False)
    finished_at: str = field(default="", compare=False)
    manifests: tuple[dict[str, Any], ...] = field(default=(), compare=False)
    """The manifests the date committed, in order (``shared.observe.collecting``)."""

    @property
    def run_id(self) -> str | None:
        """The run id the date's manifests carry, as a canonical UUID; None when it committed none."""
        ids = [str(m["run_id"]) for m in self.manifests if m.get("run_id")]
        return canonical_run_id(ids[-1]) if ids else None

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
