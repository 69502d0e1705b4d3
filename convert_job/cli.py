"""``python -m convert_job``: flags, environment, and the (parallel) loop over dates."""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import logging
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from convert_job.convert import Targets, convert_date
from convert_job.schema import check_codec
from shared.cli import (
    COMMON_ENVIRONMENT,
    EXIT_CODES,
    Outcome,
    add_logging_arguments,
    attempt,
    job_parser,
    log_settings,
    report,
    run_main,
)
from shared.config import base_dir, env_int, load_environment
from shared.dates import parse_date, select_dates
from shared.errors import ConfigError, PipelineError
from shared.logs import configure_logging
from shared.manifest import read_manifest
from shared.zones import QUARANTINE, RAW, STAGING, partition_dir

TOOL = "convert_job"
log = logging.getLogger(TOOL)

DEFAULT_CODEC = "deflate"
DEFAULT_MAX_INVALID_RATIO = 0.01

EPILOG = f"""\
{COMMON_ENVIRONMENT}  CONVERT_WORKERS            default for --workers (default: the number of CPUs)
  CONVERT_CODEC              default for --codec (default {DEFAULT_CODEC})
  CONVERT_MAX_INVALID_RATIO  default for --max-invalid-ratio (default {DEFAULT_MAX_INVALID_RATIO})

input:  BASE_DIR/raw/sales/<date>/ with its _SUCCESS manifest; a partition that is
        missing, partial or altered (sha256) is refused.
output: BASE_DIR/stg/sales/<date>/sales_<date>.avro and _SUCCESS, replaced atomically;
        invalid records in BASE_DIR/quarantine/sales/<date>/rejected.jsonl.

{EXIT_CODES}"""


@dataclass(frozen=True)
class ConvertSettings:
    codec: str
    max_invalid_ratio: float
    force: bool
    log_level: str
    log_format: str


def build_parser() -> argparse.ArgumentParser:
    parser = job_parser(
        "convert_job",
        "Convert complete raw JSON partitions of sales into validated Avro staging "
        "partitions, quarantining invalid records, then exit.",
        EPILOG,
    )
    single = parser.add_argument_group("one partition by path (instead of BASE_DIR layout)")
    single.add_argument("--raw-dir", type=Path, metavar="PATH", help="raw partition to read")
    single.add_argument("--stg-dir", type=Path, metavar="PATH", help="staging partition to write")
    single.add_argument(
        "--quarantine-dir",
        type=Path,
        metavar="PATH",
        help="where rejects go (default BASE_DIR/quarantine/sales/<date>)",
    )
    parser.add_argument(
        "--codec",
        help="Avro codec: null, deflate (default), bzip2, xz, or snappy/zstandard/lz4 "
        "when their library is installed (env CONVERT_CODEC)",
    )
    parser.add_argument(
        "--max-invalid-ratio",
        type=float,
        metavar="R",
        help=f"fail a date whose share of invalid records exceeds R (default {DEFAULT_MAX_INVALID_RATIO})",
    )
    parser.add_argument(
        "--workers", type=int, metavar="N", help="dates converted in parallel processes (default: the number of CPUs)"
    )
    parser.add_argument("--force", action="store_true", help="convert even when staging is already up to date")
    add_logging_arguments(parser)
    return parser


def _ratio(args: argparse.Namespace, env: dict[str, str]) -> float:
    raw = args.max_invalid_ratio if args.max_invalid_ratio is not None else env.get("CONVERT_MAX_INVALID_RATIO", "")
    if raw == "":
        return DEFAULT_MAX_INVALID_RATIO
    try:
        ratio = float(raw)
    except ValueError:
        raise ConfigError(f"CONVERT_MAX_INVALID_RATIO={raw!r} is not a number") from None
    if not 0 <= ratio <= 1:
        raise ConfigError(f"the maximum invalid ratio must be between 0 and 1, got {ratio:g}")
    return ratio


def _partition_date(raw_dir: Path, given: str | None) -> date:
    """The date of a partition named by path: its manifest's date, which ``--date`` must agree with."""
    try:
        recorded = parse_date(str(read_manifest(raw_dir).get("date", "")))
    except PipelineError as exc:
        if given:
            return parse_date(given)
        raise ConfigError(f"cannot tell the date of {raw_dir}; pass --date ({exc})") from None
    if given and parse_date(given) != recorded:
        raise ConfigError(f"--date {given} disagrees with {raw_dir}, whose manifest says {recorded}")
    return recorded


def _plan(args: argparse.Namespace, env: dict[str, str]) -> dict[date, Targets]:
    """Which partitions to convert, per date."""
    base = base_dir(env)
    if args.raw_dir or args.stg_dir:
        if not (args.raw_dir and args.stg_dir):
            raise ConfigError("--raw-dir and --stg-dir go together")
        if args.start or args.end:
            raise ConfigError("--raw-dir/--stg-dir name one partition; they cannot be used with a range")
        day = _partition_date(args.raw_dir.resolve(), args.date)
        quarantine = args.quarantine_dir or partition_dir(base, QUARANTINE, day)
        return {day: Targets(args.raw_dir.resolve(), args.stg_dir.resolve(), quarantine.resolve())}
    days = select_dates(args.date, args.start, args.end, env)
    return {
        day: Targets(
            partition_dir(base, RAW, day), partition_dir(base, STAGING, day), partition_dir(base, QUARANTINE, day)
        )
        for day in days
    }


def convert_one(day: date, targets: Targets, settings: ConvertSettings) -> Outcome:
    """One date, start to finish; runs in a worker process for ranges, so it must be importable and picklable."""
    if not logging.getLogger().handlers:
        configure_logging(settings.log_level, settings.log_format)
    return attempt(
        day, lambda d: convert_date(d, targets, settings.codec, settings.max_invalid_ratio, settings.force), log
    )


_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """Worker initializer: the kernel kills this worker when the job's process dies.

    Without it a worker outlives a ``kill -9`` of the job: it converts on, racing a
    re-run, then waits forever for work from a parent that is gone.
    """
    prctl = getattr(ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True), "prctl", None)
    if prctl is not None:  # Linux
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the job died before the request took effect
        os._exit(1)


def _run(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    env = load_environment()
    level, fmt = log_settings(args, env)
    configure_logging(level, fmt)
    plan = _plan(args, env)
    settings = ConvertSettings(
        codec=check_codec(args.codec or env.get("CONVERT_CODEC", "").strip() or DEFAULT_CODEC),
        max_invalid_ratio=_ratio(args, env),
        force=args.force,
        log_level=level,
        log_format=fmt,
    )
    # The CPUs this process may run on (a container's cpuset), not every CPU of the host.
    available = len(os.sched_getaffinity(0))
    workers = args.workers if args.workers is not None else env_int(env, "CONVERT_WORKERS", available)
    if workers < 1:
        raise ConfigError("--workers must be at least 1")
    workers = min(workers, len(plan))
    log.info("converting %d date(s) with %d worker(s), codec %s", len(plan), workers, settings.codec)
    if workers == 1:
        outcomes = [convert_one(day, targets, settings) for day, targets in plan.items()]
    else:
        with ProcessPoolExecutor(max_workers=workers, initializer=_die_with_parent, initargs=(os.getpid(),)) as pool:
            futures = [pool.submit(convert_one, day, targets, settings) for day, targets in plan.items()]
            outcomes = [future.result() for future in futures]
    return report(TOOL, outcomes, log)


def main(argv: list[str] | None = None) -> int:
    return run_main(TOOL, lambda: _run(argv))
