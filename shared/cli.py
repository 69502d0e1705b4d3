"""Command-line plumbing both jobs share: common flags, per-date outcomes, exit codes.

The exit codes are the contract in ``shared/errors.py`` (and README, "Exit codes"):
each failed date carries its error's code, and the run exits with the most
serious one (see ``worst``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import date
from typing import Any, NoReturn, TypeVar

from shared.config import LOG_FORMATS, JobSettings
from shared.errors import (
    EXIT_OK,
    EXIT_PERMANENT,
    EXIT_RETRY,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    EXIT_USAGE,
    PipelineError,
)
from shared.logs import configure_logging, console_line
from shared.manifest import utc_now
from shared.observe import collecting
from shared.outcomes import Outcome, Status, worst
from shared.settings import Choice, add_arguments, environment_help, resolve
from shared.signals import Terminated, raise_on_sigterm

S = TypeVar("S", bound=JobSettings)

__all__ = ["Outcome", "Status", "worst"]  # re-exported: the jobs' CLIs take them from here

EXIT_CODES = f"""\
exit codes (when dates fail differently, the most serious wins: {EXIT_SIGINT} or {EXIT_SIGTERM},
then {EXIT_PERMANENT}, then {EXIT_RETRY}):
  {EXIT_OK}    every date succeeded or was skipped as already done
  {EXIT_RETRY}    a date failed in a way a later retry may fix (network, timeouts, 5xx/429
       after the last attempt, disk full); one line per failed date on stderr
  {EXIT_USAGE}    usage or configuration error, found before any work; nothing was written
  {EXIT_PERMANENT}    a date failed in a way no retry fixes until someone changes something
       (token rejected, wrong URL, inconsistent API, raw partition missing, partial
       or altered, too many invalid records); one line per failed date on stderr
  {EXIT_SIGINT}  interrupted (SIGINT, Ctrl-C)
  {EXIT_SIGTERM}  stopped (SIGTERM, docker stop)
"""


class JobArgumentParser(argparse.ArgumentParser):
    """Usage errors as one operator line (a JSON object in the json format), exit 2.

    The line is ``tool``'s, like every other line of the job (the logger of a
    JSON object included), not the usage's ``python -m tool``.
    """

    def __init__(self, tool: str, **options: Any) -> None:
        super().__init__(prog=f"python -m {tool}", **options)
        self.tool = tool

    def error(self, message: str) -> NoReturn:
        fmt = _early_format(None, os.environ)
        configure_logging("INFO", fmt)
        if fmt != "json":
            self.print_usage(sys.stderr)
        console_line(self.tool, f"error: {message}")
        sys.exit(EXIT_USAGE)


def job_parser(module: str, description: str, settings_class: type[Any], epilog: str) -> argparse.ArgumentParser:
    """A job's parser built from its settings; the epilog lists their env variables, then ``epilog`` as written."""
    parser = JobArgumentParser(
        module,
        description=description,
        epilog=f"{environment_help(settings_class)}\n{epilog}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser, settings_class)
    return parser


def _early_format(args: argparse.Namespace | None, env: Mapping[str, str]) -> str:
    """The log format asked for, before the settings are known to be valid (their errors need it too)."""
    chosen = getattr(args, "log_format", None) or env.get("LOG_FORMAT", "")
    try:
        return Choice(LOG_FORMATS).parse(str(chosen))
    except ValueError:
        return "text"


def start(settings_class: type[S], args: argparse.Namespace, env: Mapping[str, str]) -> S:
    """Resolve a job's settings and configure logging from them.

    The format is set first from the raw flag or variable, so that a configuration
    error is reported in the format the operator asked for.
    """
    configure_logging("INFO", _early_format(args, env))
    settings = resolve(settings_class, args, env)
    configure_logging(settings.log_level, settings.log_format)
    return settings


def os_error_message(exc: OSError) -> str:
    """The file system's reason and the path (disk full, permissions), not a traceback."""
    reason = exc.strerror or str(exc)
    return f"{reason}: {exc.filename}" if exc.filename else reason


def attempt(day: date, work: Callable[[date], Status], log: logging.Logger) -> Outcome:
    """Run ``work`` for one date; any failure becomes a failed ``Outcome`` so other dates go on.

    A ``PipelineError`` carries its own exit code; a file-system error (disk full,
    permissions) may go away, so it counts as 1, and so does an unexpected error.
    Interrupts are not caught: they end the whole run. The outcome carries the
    date's times and the manifests it committed (``shared.observe``).
    """
    started = utc_now()
    with collecting() as manifests:
        outcome = _attempt(day, work, log)
    return replace(outcome, started_at=started, finished_at=utc_now(), manifests=tuple(manifests))


def _attempt(day: date, work: Callable[[date], Status], log: logging.Logger) -> Outcome:
    try:
        return Outcome(day, work(day))
    except PipelineError as exc:
        log.error("%s failed: %s", day, exc)
        return Outcome(day, Status.FAILED, str(exc), exc.exit_code)
    except OSError as exc:
        message = os_error_message(exc)
        log.error("%s failed: %s", day, message)
        return Outcome(day, Status.FAILED, message, EXIT_RETRY)
    except Exception as exc:
        log.exception("%s failed unexpectedly", day)
        return Outcome(day, Status.FAILED, f"unexpected {type(exc).__name__}: {exc}", EXIT_RETRY)


def report(tool: str, outcomes: Iterable[Outcome], log: logging.Logger) -> int:
    """Log the run's totals, print one stderr line per failed date, return the run's exit code."""
    results = list(outcomes)
    counts = {status.value: sum(1 for o in results if o.status is status) for status in Status}
    log.info(
        "%d date(s): %s",
        len(results),
        ", ".join(f"{count} {status}" for status, count in counts.items() if count or status != "not attempted"),
        extra={"dates": len(results), **{status.replace(" ", "_"): count for status, count in counts.items()}},
    )
    for outcome in results:
        if outcome.status is Status.FAILED:
            console_line(tool, f"{outcome.day}: {outcome.error}", date=outcome.day.isoformat())
    return worst(outcome.exit_code for outcome in results)


def run_main(tool: str, body: Callable[[], int]) -> int:
    """Call a job's body, turning configuration errors and interrupts into exit codes.

    SIGTERM is handled like SIGINT but exits 143: as PID 1 in a container without
    an init, Python would otherwise ignore ``docker stop`` until it is killed. The
    run unwinds as on Ctrl-C, so open partition writers discard their temporary
    folders (``shared.signals``: the handler only raises).
    """
    raise_on_sigterm()
    try:
        return body()
    except PipelineError as exc:  # a configuration error, or a store refusing us before any date started
        console_line(tool, f"error: {exc}")
        return exc.exit_code
    except Terminated:
        console_line(tool, "stopped (SIGTERM)")
        return EXIT_SIGTERM
    except KeyboardInterrupt:
        console_line(tool, "interrupted")
        return EXIT_SIGINT
