"""``python -m extract_job``: flags, environment, and the loop over dates."""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Callable
from datetime import date

from extract_job import TOOL
from extract_job.client import SalesApiClient, Timeouts, make_session
from extract_job.extract import DateJob, RangeRun, complete_manifest, fetched_too_early
from extract_job.facts import describe
from extract_job.progress import display_for
from extract_job.ratecontrol import RateController
from extract_job.retry import RetryPolicy
from extract_job.settings import ExtractSettings
from extract_job.watchdog import Watchdog
from shared.cli import EXIT_CODES, Status, job_parser, os_error_message, report, run_main, start, worst
from shared.config import load_environment
from shared.dates import Clock, select_dates, strict_date, system_clock
from shared.errors import EXIT_OK, EXIT_RETRY, ConfigError, PartitionError, PipelineError
from shared.last_run import record_last_run
from shared.logs import console_line
from shared.manifest import new_run_id
from shared.observe import Zones, observers_for, watching
from shared.outcomes import Outcome
from shared.storage import Partition, Stores
from shared.urls import public_url
from shared.zones import RAW

log = logging.getLogger(TOOL)
JOB = "extract"
"""The job's name in lineage events and metrics."""

EPILOG = f"""\
output: BASE_DIR/raw/sales/<date>/sales_<date>_<page>.json, one file per page as
received, then _SUCCESS, a JSON manifest. A date's partition is replaced whole
and atomically; a failed run leaves the previous one as it was. The dates left
complete are recorded in BASE_DIR/raw/sales/_LAST_RUN at the end of every run,
a failed or interrupted one too (then possibly none), which convert takes as
its dates when given none.

end of pages: a 200 with an empty array, or a 404 whose body matches
--end-of-pages. Any other 404 (a wrong URL whose server answers 404 for
everything) fails the date with exit 3 and writes nothing, so it cannot pass
for a day without sales.

{EXIT_CODES}"""


def build_parser() -> argparse.ArgumentParser:
    return job_parser(
        TOOL,
        "Fetch one day (or a range of days) of sales from the paginated sales API "
        "into date partitions of the raw zone, then exit.",
        ExtractSettings,
        EPILOG,
    )


def _run(argv: list[str] | None, clock: Clock) -> int:
    env = load_environment()
    settings = start(ExtractSettings, build_parser().parse_args(argv), env)
    stores = settings.stores(env)
    days = select_dates(settings.date, settings.start, settings.end, {"DATE": settings.dates_env or ""}, now=clock())
    if settings.raw_dir and len(days) > 1:
        raise ConfigError("--raw-dir names one partition; it cannot be used with a range of dates")
    named_by = "--raw-dir" if settings.raw_dir else "BASE_DIR"
    partitions = {day: _partition(day, settings, stores) for day in days}
    for partition in partitions.values():
        partition.check_output(RAW, named_by)
    if settings.raw_dir:
        _check_raw_dir_date(days[0], partitions[days[0]])
    log.info(
        "extracting %d date(s) from %s with concurrency %d",
        len(days),
        public_url(settings.api_url),
        settings.concurrency,
    )
    watchdog = Watchdog()
    source = public_url(settings.api_url)
    zones = Zones.of(settings.base_dir, settings.lineage_data_namespace)
    with (
        watching(observers_for(settings, JOB), lambda o, run_id: describe(o, run_id, zones, source)) as watch,
        make_session(settings.token, settings.concurrency, watchdog) as session,
    ):
        client = SalesApiClient(
            session,
            settings.api_url,
            RetryPolicy(
                max_attempts=settings.max_attempts,
                base_delay=settings.backoff,
                max_delay=settings.max_backoff,
                max_retry_after=settings.max_retry_after,
            ),
            Timeouts(connect=settings.connect_timeout, read=settings.read_timeout, total=settings.request_deadline),
            end_of_pages=re.compile(settings.end_of_pages),
            watchdog=watchdog,
            max_page_bytes=settings.max_page_bytes,
            control=RateController(settings.concurrency, settings.max_rps),
            date_deadline=settings.date_deadline,
        )
        jobs = [DateJob(day, partitions[day], _skip(day, partitions[day], settings)) for day in days]
        run = RangeRun(
            jobs,
            client,
            source,
            settings.max_pages,
            settings.allow_empty,
            started=lambda day: watch.running([day]),
            settled=watch.record,
            progress=display_for(settings.progress_interval, settings.log_format, sys.stderr, len(jobs)),
            clock=clock,
        )
        try:
            outcomes = run.run()
        except BaseException:  # an interrupt: convert must still take this run's dates, not the previous run's
            _record(settings, stores, run.outcomes_so_far())
            raise
        code = worst([report(TOOL, outcomes, log), _record(settings, stores, outcomes)])
        watch.finished(code)
    return code


def _record(settings: ExtractSettings, stores: Stores, outcomes: list[Outcome]) -> int:
    """Tell convert which dates this run left complete (``shared.last_run``); returns the exit code of doing so.

    Written at the end of every run that began its work, whatever the end: a run
    that left no date complete records none, so convert, given no date, does not
    convert an earlier run's dates in its place. A run into ``--raw-dir`` (a
    partition outside the BASE_DIR layout) records nothing.
    """
    if settings.raw_dir:
        return EXIT_OK
    complete = [o.day for o in outcomes if o.status in (Status.DONE, Status.SKIPPED)]
    try:
        record_last_run(stores.root(settings.base_dir), complete, new_run_id())
    except OSError as exc:
        console_line(TOOL, f"cannot record the run's dates for convert: {os_error_message(exc)}")
        return EXIT_RETRY
    except PipelineError as exc:  # the store failed
        console_line(TOOL, f"cannot record the run's dates for convert: {exc}")
        return exc.exit_code
    return EXIT_OK


def _partition(day: date, settings: ExtractSettings, stores: Stores) -> Partition:
    if settings.raw_dir:
        return stores.partition(settings.raw_dir)
    return stores.root(settings.base_dir).partition(RAW, day)


def _check_raw_dir_date(day: date, partition: Partition) -> None:
    """Refuse a ``--raw-dir`` that is another date's: named by another date, or holding another date's partition.

    Either would put ``day``'s pages where convert reads another date (or the reverse).
    """
    try:
        named: date | None = strict_date(partition.name)
    except ValueError:
        named = None  # not named by a date
    if named not in (None, day):
        raise ConfigError(
            f"--date {day} disagrees with --raw-dir {partition}, whose name is the date {named}; "
            "name that date's own folder, or one not named by a date"
        )
    try:
        manifest = partition.read_manifest()
    except PartitionError:  # nothing committed there (or a manifest no run can read), so no date to disagree with
        return
    partition.check_date(manifest, day, "--date", ConfigError)


def _skip(day: date, partition: Partition, settings: ExtractSettings) -> Callable[[], bool]:
    """Whether ``day`` is to be skipped, asked when its turn comes: complete already, with ``--missing-only``.

    A partition fetched before its day ended (an intraday pull) is complete but
    not final: it is fetched again.
    """

    def skip() -> bool:
        if not settings.missing_only:
            return False
        manifest = complete_manifest(partition, day)
        if manifest is None:
            return False
        too_early = fetched_too_early(day, manifest)
        if too_early:
            log.info("%s: complete, but %s: fetching it again (--missing-only)", day, too_early)
            return False
        partition.clean_leftovers()  # what a run killed after its swap left behind; no writer will run to remove it
        log.info("%s: already complete, skipped (--missing-only)", day)
        return True

    return skip


def main(argv: list[str] | None = None, clock: Clock = system_clock) -> int:
    return run_main(TOOL, lambda: _run(argv, clock))
