"""Command-line plumbing both jobs share: common flags, per-date outcomes, exit codes.

Exit codes: 0 every date succeeded; 2 usage or configuration error (nothing
written); 1 any other failure, with one line per failed date on stderr.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from shared.errors import ConfigError, PipelineError
from shared.settings import add_arguments, environment_help

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

EXIT_CODES = """\
exit codes:
  0  every date succeeded (or was skipped as already done)
  1  at least one date failed; one line per failed date on stderr
  2  usage or configuration error; nothing was written
"""


def job_parser(module: str, description: str, settings_class: type[Any], epilog: str) -> argparse.ArgumentParser:
    """A job's parser built from its settings; the epilog lists their env variables, then ``epilog`` as written."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {module}",
        description=description,
        epilog=f"{environment_help(settings_class)}\n{epilog}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser, settings_class)
    return parser


@dataclass(frozen=True)
class Outcome:
    """What happened to one date."""

    day: date
    status: str  # "done", "skipped" or "failed"
    error: str | None = None


def attempt(day: date, work: Callable[[date], str], log: logging.Logger) -> Outcome:
    """Run ``work`` for one date; any failure becomes a failed ``Outcome`` so other dates go on.

    ``work`` returns "done" or "skipped".
    """
    try:
        return Outcome(day, work(day))
    except PipelineError as exc:
        log.error("%s failed: %s", day, exc)
        return Outcome(day, "failed", str(exc))
    except OSError as exc:
        # The file system said no (disk full, permissions): the operator needs the reason and the path, not a traceback.
        message = f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc.strerror or exc)
        log.error("%s failed: %s", day, message)
        return Outcome(day, "failed", message)
    except Exception as exc:
        log.exception("%s failed unexpectedly", day)
        return Outcome(day, "failed", f"unexpected {type(exc).__name__}: {exc}")


def report(tool: str, outcomes: Iterable[Outcome], log: logging.Logger) -> int:
    """Log the run's totals, print one stderr line per failed date, return the exit code."""
    results = list(outcomes)
    counts = {status: sum(1 for o in results if o.status == status) for status in ("done", "skipped", "failed")}
    log.info(
        "%d date(s): %d done, %d skipped, %d failed",
        len(results),
        counts["done"],
        counts["skipped"],
        counts["failed"],
        extra={"dates": len(results), **counts},
    )
    for outcome in results:
        if outcome.status == "failed":
            print(f"{tool}: {outcome.day}: {outcome.error}", file=sys.stderr)
    return EXIT_FAILED if counts["failed"] else EXIT_OK


def _stop_on_sigterm(signum: int, frame: object) -> None:
    # Unwinds like Ctrl-C, so open partition writers discard their temporary folders.
    raise KeyboardInterrupt


def run_main(tool: str, body: Callable[[], int]) -> int:
    """Call a job's body, turning configuration errors and interrupts into exit codes.

    SIGTERM is handled like SIGINT: as PID 1 in a container without an init,
    Python would otherwise ignore ``docker stop`` until it is killed.
    """
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        return body()
    except ConfigError as exc:
        print(f"{tool}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{tool}: interrupted", file=sys.stderr)
        return 130
