"""``python -m convert_job``: flags, environment, and the (parallel) loop over dates."""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import ClassVar

from convert_job import TOOL
from convert_job.convert import Targets, convert_date
from convert_job.facts import describe
from convert_job.schema import check_codec
from shared.cli import EXIT_CODES, Outcome, Status, attempt, job_parser, report, run_main, start
from shared.config import YESTERDAY, JobSettings, load_environment
from shared.dates import Clock, parse_date, select_dates, system_clock
from shared.errors import EXIT_OK, EXIT_RETRY, ConfigError, PipelineError
from shared.last_run import LAST_RUN_FILE, last_run_dates
from shared.logs import configure_logging
from shared.observe import ObservabilitySettings, Watch, Zones, observers_for, watching
from shared.quarantine import DEFAULT_KEEP_FAILED_RUNS
from shared.settings import Integer, Number, Switch, Text, setting
from shared.storage import Partition, Stores, as_partition
from shared.storage.location import Location, LocationKind, resolved
from shared.targets import check_distinct
from shared.zones import DATASET, QUARANTINE, RAW, STAGING

log = logging.getLogger(TOOL)
JOB = "convert"
"""The job's name in lineage events and metrics."""

SINGLE_GROUP = "one partition by path, all three flags together (instead of the BASE_DIR layout)"
BY_PATH = ("--raw-dir", "--stg-dir", "--quarantine-dir")

EPILOG = f"""\
input:  BASE_DIR/raw/sales/<date>/ with its _SUCCESS manifest; a partition that is
        missing, partial or altered (sha256) is refused.
output: BASE_DIR/stg/sales/<date>/sales_<date>.avro and _SUCCESS, replaced atomically;
        invalid records in BASE_DIR/quarantine/sales/<date>/run=<run id>/rejected.jsonl,
        with that run's own _SUCCESS manifest. Staging's _SUCCESS commits the pair: it
        names the run whose rejects belong to it (and their sha256); other runs' rejects
        are removed after it, except those of runs that failed --max-invalid-ratio.
        A date is up to date (skipped) when staging holds its raw run and the quarantine
        run staging names is there.
paths:  --raw-dir, --stg-dir and --quarantine-dir, all three together, name one partition
        and its outputs instead of BASE_DIR (a side conversion never touches its zones).

{EXIT_CODES}"""


@dataclass(frozen=True, kw_only=True)
class ConvertSettings(ObservabilitySettings, JobSettings):
    """The convert job's settings, declared once (see ``shared.settings``); picklable for the worker processes."""

    default_dates: ClassVar[str] = (
        f"the dates extract's last run left complete (BASE_DIR/{RAW}/{DATASET}/{LAST_RUN_FILE}), else {YESTERDAY}"
    )

    raw_dir: Location | None = setting(
        flag="--raw-dir",
        default=None,
        kind=LocationKind(),
        metavar="PATH|URL",
        group=SINGLE_GROUP,
        help="raw partition to read",
    )
    stg_dir: Location | None = setting(
        flag="--stg-dir",
        default=None,
        kind=LocationKind(),
        metavar="PATH|URL",
        group=SINGLE_GROUP,
        help="staging partition to write",
    )
    quarantine_dir: Location | None = setting(
        flag="--quarantine-dir",
        default=None,
        kind=LocationKind(),
        metavar="PATH|URL",
        group=SINGLE_GROUP,
        help="quarantine folder to write the partition's rejects to (one run=<run id>/ folder per run)",
    )
    codec: str = setting(
        env="CONVERT_CODEC",
        flag="--codec",
        default="deflate",
        kind=Text(check_codec, "Avro codec name"),
        help="Avro codec: null, deflate, bzip2, xz, or snappy/zstandard/lz4 when their library is installed",
    )
    max_invalid_ratio: float = setting(
        env="CONVERT_MAX_INVALID_RATIO",
        flag="--max-invalid-ratio",
        default=0.01,
        kind=Number(minimum=0, maximum=1),
        metavar="R",
        help="fail a date whose share of invalid records exceeds R",
    )
    workers: int | None = setting(
        env="CONVERT_WORKERS",
        flag="--workers",
        default=None,
        kind=Integer(minimum=1),
        metavar="N",
        default_text="the number of CPUs",
        help="dates converted in parallel processes",
    )
    keep_failed_runs: int = setting(
        env="CONVERT_KEEP_FAILED_RUNS",
        flag="--keep-failed-runs",
        default=DEFAULT_KEEP_FAILED_RUNS,
        kind=Integer(minimum=1),
        metavar="N",
        help="quarantine runs that failed --max-invalid-ratio kept per date, newest first (at least 1: "
        "a failed run's error names its rejects)",
    )
    force: bool = setting(
        flag="--force",
        default=False,
        kind=Switch(),
        help="convert even when staging is already up to date",
    )


def build_parser() -> argparse.ArgumentParser:
    return job_parser(
        TOOL,
        "Convert complete raw JSON partitions of sales into validated Avro staging "
        "partitions, quarantining invalid records, then exit.",
        ConvertSettings,
        EPILOG,
    )


def _partition_date(raw_dir: Partition, given: str | None) -> date:
    """The date of a partition named by path: its manifest's date, which ``--date`` must agree with."""
    try:
        manifest = raw_dir.read_manifest()
        recorded = parse_date(str(manifest.get("date", "")))
    except PipelineError as exc:
        if given:
            return parse_date(given)
        raise ConfigError(f"cannot tell the date of {raw_dir}; pass --date ({exc})") from None
    if given:
        raw_dir.check_date(manifest, parse_date(given), "--date", ConfigError)
    return recorded


def _plan(settings: ConvertSettings, stores: Stores, clock: Clock) -> dict[date, Targets]:
    """Which partitions to convert, per date; every output folder checked (``shared.targets``) before any work."""
    paths = _named_paths(settings)
    plan = _by_path_targets(paths, settings.date, stores) if paths else _base_dir_targets(settings, stores, clock)
    raw_name, staging_name, quarantine_name = BY_PATH if paths else ("BASE_DIR",) * len(BY_PATH)
    for targets in plan.values():
        raw, staging, quarantine = (as_partition(t) for t in (targets.raw, targets.staging, targets.quarantine))
        check_distinct([(raw_name, raw), (staging_name, staging), (quarantine_name, quarantine)])
        staging.check_output(STAGING, staging_name)
        quarantine.check_output(QUARANTINE, quarantine_name)
    return plan


def _named_paths(settings: ConvertSettings) -> tuple[Location, Location, Location] | None:
    """The raw, staging and quarantine folders of one partition named by path (``BY_PATH``), or None for BASE_DIR.

    All three or none: staging and its quarantine are one pair (``shared.quarantine``),
    and a partition converted by path that settled BASE_DIR's quarantine would remove
    the rejects the real staging partition names.
    """
    given = (settings.raw_dir, settings.stg_dir, settings.quarantine_dir)
    missing = [flag for flag, value in zip(BY_PATH, given, strict=True) if value is None]
    if len(missing) == len(BY_PATH):
        return None
    if missing:
        raise ConfigError(
            "--raw-dir, --stg-dir and --quarantine-dir go together: give all three to convert one partition "
            f"by path (none for the BASE_DIR layout); missing {' and '.join(missing)}"
        )
    if settings.start or settings.end:
        raise ConfigError("--raw-dir/--stg-dir/--quarantine-dir name one partition; they cannot be used with a range")
    raw, staging, quarantine = (resolved(where) for where in given if where is not None)
    return raw, staging, quarantine


def _by_path_targets(
    paths: tuple[Location, Location, Location], given: str | None, stores: Stores
) -> dict[date, Targets]:
    raw, staging, quarantine = (stores.partition(where) for where in paths)
    return {_partition_date(raw, given): Targets(raw, staging, quarantine)}


def _base_dir_targets(settings: ConvertSettings, stores: Stores, clock: Clock) -> dict[date, Targets]:
    base = stores.root(settings.base_dir)
    days = select_dates(
        settings.date,
        settings.start,
        settings.end,
        {"DATE": settings.dates_env or ""},
        now=clock(),
        recorded=lambda: last_run_dates(base),
    )
    return {
        day: Targets(base.partition(RAW, day), base.partition(STAGING, day), base.partition(QUARANTINE, day))
        for day in days
    }


def convert_one(day: date, targets: Targets, settings: ConvertSettings) -> Outcome:
    """One date, start to finish; runs in a worker process for ranges, so it must be importable and picklable."""
    if not logging.getLogger().handlers:
        configure_logging(settings.log_level, settings.log_format)
    return attempt(
        day,
        lambda d: convert_date(
            d, targets, settings.codec, settings.max_invalid_ratio, settings.force, settings.keep_failed_runs
        ),
        log,
    )


def available_cpus() -> int:
    """The CPUs this process may run on: a container's cpuset where the system says (Linux), else every CPU."""
    affinity = getattr(os, "sched_getaffinity", None)  # absent on macOS
    if affinity is not None:
        return len(affinity(0))
    return os.cpu_count() or 1


_PR_SET_PDEATHSIG = 1


def _init_worker(parent: int) -> None:
    """Worker initializer: signals are the job's business, and the kernel kills this worker when the job dies.

    Ctrl-C reaches the whole process group: the workers ignore it and the job
    stops them (SIGTERM, which kills a worker outright). Without the death signal a
    worker outlives a ``kill -9`` of the job: it converts on, racing a re-run, then
    waits forever for work from a parent that is gone.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    prctl = getattr(ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True), "prctl", None)
    if prctl is not None:  # Linux
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the job died before the request took effect
        os._exit(1)


def _run(argv: list[str] | None, clock: Clock) -> int:
    env = load_environment()
    settings = start(ConvertSettings, build_parser().parse_args(argv), env)
    plan = _plan(settings, settings.stores(env), clock)
    if not plan:  # only a record of no dates gives none: extract's last run failed or was stopped before any
        log.info("extract's last run left no date complete: nothing to convert")
        return EXIT_OK
    workers = min(settings.workers or available_cpus(), len(plan))
    log.info("converting %d date(s) with %d worker(s), codec %s", len(plan), workers, settings.codec)
    zones = Zones.of(settings.base_dir, settings.lineage_data_namespace)
    with watching(observers_for(settings, JOB), lambda o, run_id: describe(o, run_id, zones)) as watch:
        if workers == 1:
            outcomes = [
                watch.attempt(day, partial(convert_one, targets=targets, settings=settings))
                for day, targets in plan.items()
            ]
        else:
            outcomes = _convert_in_workers(plan, settings, workers, watch)
        code = report(TOOL, outcomes, log)
        watch.finished(code)
    return code


def _convert_in_workers(
    plan: dict[date, Targets], settings: ConvertSettings, workers: int, watch: Watch
) -> list[Outcome]:
    """Each date in a worker process; a worker that dies fails its date (and those not yet started) in one line.

    On an interrupt the workers are killed at once (they are the job's own work;
    nothing of theirs is committed half-way) and the temporaries they leave are
    removed here, once no worker holds their locks.
    """
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(os.getpid(),))
    futures: dict[date, Future[Outcome]] = {}
    try:
        futures = {day: pool.submit(convert_one, day, targets, settings) for day, targets in plan.items()}
        outcomes = [watch.record(_outcome(day, future)) for day, future in futures.items()]
    except BaseException:
        watch.running(day for day, future in futures.items() if future.running())  # what the interrupt aborts
        for process in list(getattr(pool, "_processes", {}).values()):  # the executor has no public handle on them
            with contextlib.suppress(OSError):
                process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        _clean_after_workers(plan.values())
        raise
    pool.shutdown(wait=True)
    _clean_after_workers(plan[o.day] for o in outcomes if o.status is Status.FAILED)
    return outcomes


def _clean_after_workers(targets: Iterable[Targets]) -> None:
    for target in targets:
        as_partition(target.staging).clean_leftovers()
        as_partition(target.quarantine).clean_leftovers()


def _outcome(day: date, future: Future[Outcome]) -> Outcome:
    try:
        return future.result()
    except BrokenProcessPool:
        message = "a worker process died (killed by a signal, e.g. the out-of-memory killer); not converted"
        log.error("%s failed: %s", day, message)
        return Outcome(day, Status.FAILED, message, EXIT_RETRY)


def main(argv: list[str] | None = None, clock: Clock = system_clock) -> int:
    return run_main(TOOL, lambda: _run(argv, clock))
