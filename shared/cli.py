"""Command-line plumbing both jobs share: common flags, per-date outcomes, exit codes.

Exit codes: 0 every date succeeded; 2 usage or configuration error (nothing
written); 1 any other failure, with one line per failed date on stderr.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from shared.config import LOG_FORMATS, LOG_LEVELS, env_choice
from shared.errors import ConfigError, PipelineError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

COMMON_ENVIRONMENT = """\
environment (flags win over the environment, which wins over a .env file in the
working directory, or the file named by ENV_FILE):
  BASE_DIR        data root holding raw/, stg/ and quarantine/ (default ./data)
  DATE            date to process when no flag names one: YYYY-MM-DD or START..END
                  (default: yesterday, UTC)
  LOG_LEVEL       DEBUG, INFO, WARNING or ERROR (default INFO)
  LOG_FORMAT      text or json (default text)
"""

EXIT_CODES = """\
exit codes:
  0  every date succeeded (or was skipped as already done)
  1  at least one date failed; one line per failed date on stderr
  2  usage or configuration error; nothing was written
"""


def job_parser(module: str, description: str, epilog: str) -> argparse.ArgumentParser:
    """A job's parser with the date flags; the epilog's layout (environment, exit codes) is kept as written."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {module}",
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_date_arguments(parser)
    return parser


def add_date_arguments(parser: argparse.ArgumentParser) -> None:
    dates = parser.add_argument_group("dates (default: env DATE, else yesterday in UTC)")
    dates.add_argument("--date", metavar="YYYY-MM-DD", help="process a single date")
    dates.add_argument("--start", metavar="YYYY-MM-DD", help="first date of an inclusive range")
    dates.add_argument("--end", metavar="YYYY-MM-DD", help="last date of an inclusive range")


def add_logging_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("logging")
    group.add_argument("--log-level", choices=LOG_LEVELS, type=str.upper, help="default: env LOG_LEVEL, else INFO")
    group.add_argument("--log-format", choices=LOG_FORMATS, help="default: env LOG_FORMAT, else text")


def log_settings(args: argparse.Namespace, env: Mapping[str, str]) -> tuple[str, str]:
    """(level, format) from flags, else the environment, else INFO/text."""
    level = args.log_level or env_choice(env, "LOG_LEVEL", LOG_LEVELS, "INFO")
    fmt = args.log_format or env_choice(env, "LOG_FORMAT", LOG_FORMATS, "text")
    return level, fmt


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
