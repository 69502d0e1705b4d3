"""Extract dates: every page of a date into a fresh partition, the manifest last, then an atomic swap.

``RangeRun`` drives every date of a run through one scheduler
(``extract_job.scheduler``); ``extract_date`` is the same for a single date.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from extract_job import TOOL
from extract_job.classify import Page
from extract_job.client import SalesApiClient
from extract_job.pagination import Paginator
from extract_job.progress import Display, Progress
from extract_job.scheduler import Lane, Scheduler, fixed_limit
from shared import observe
from shared.cli import attempt
from shared.dates import Clock, started_before_day_ended, system_clock
from shared.errors import DataError, PartitionError, TokenRejectedError
from shared.filenames import page_file_name
from shared.manifest import (
    FileEntry,
    new_manifest,
    new_run_id,
    parse_timestamp,
    timestamp,
)
from shared.outcomes import Outcome, Status
from shared.storage import Partition, as_partition
from shared.testhook import reached
from shared.zones import RAW

log = logging.getLogger(__name__)


def _refuse_emptying(day: date, partition: Partition) -> None:
    """Raise when ``partition`` is complete and holds records: an empty answer must not erase them silently."""
    try:
        previous = partition.verify()
    except PartitionError:
        return
    records = int(previous.get("records") or 0)
    if records:
        raise DataError(
            f"the API now has no sales for {day}, but {partition} holds {records} records "
            f"(run {previous.get('run_id')}); kept as it was. Pass --allow-empty (EXTRACT_ALLOW_EMPTY=1) "
            "if the date really is empty now"
        )


def complete_manifest(partition: Path | Partition, day: date) -> dict[str, Any] | None:
    """The manifest of ``partition`` if it is a complete raw partition of ``day`` (its manifest's date, every
    file intact), else None."""
    try:
        return as_partition(partition).verify(day)
    except PartitionError:
        return None


def fetched_too_early(day: date, manifest: dict[str, Any]) -> str | None:
    """Why a complete partition of ``day`` may lack sales (its run started before the day ended), or None.

    Such a partition is an intraday pull: complete as fetched, but not final.
    """
    started = parse_timestamp(manifest.get("started_at"))
    if started is None:
        return f"its manifest has no readable started_at ({manifest.get('started_at')!r})"
    if started_before_day_ended(started, day):
        return f"its run started at {timestamp(started)}, before the day ended"
    return None


class OpenDates:
    """The dates of a run whose writers are open; ``close`` closes those left (a run stopped midway).

    A date leaves as it closes, so a long range holds on to no finished date
    (each kept its page entries, digests and writer until the run ended).
    """

    def __init__(self) -> None:
        self._runs: set[DateRun] = set()

    def add(self, run: DateRun) -> None:
        self._runs.add(run)

    def discard(self, run: DateRun) -> None:
        self._runs.discard(run)

    def close(self) -> None:
        for run in list(self._runs):
            run.close()


class DateRun(Lane):
    """One date of a run: its pages go into a fresh partition as they arrive; ``commit`` swaps it into place.

    Opened (its writer's temporary folder made) only when the scheduler takes
    it up; closing it without a commit discards the temporary folder and leaves
    the previous partition as it was.
    """

    def __init__(
        self,
        day: date,
        partition: Partition,
        client: SalesApiClient,
        source: str,
        max_pages: int,
        allow_empty: bool,
        open_dates: OpenDates,
        clock: Clock = system_clock,
    ) -> None:
        super().__init__(Paginator(max_pages))
        self.day = day
        self.partition = partition
        self._client = client
        self._source = source
        self._allow_empty = allow_empty
        self.started_at = timestamp(clock())  # the manifest's: what --missing-only judges an intraday pull by
        self._clock = time.monotonic()
        self._first_request = client.control.now()
        self.run_id = new_run_id()
        self._entries: dict[int, FileEntry] = {}
        self._close = contextlib.ExitStack()
        self._writer = self._close.enter_context(partition.writer(self.run_id))
        self._open_dates = open_dates
        open_dates.add(self)

    def fetch(self, number: int) -> Page | None:
        # Runs in the fetching threads: a page goes to disk as soon as it arrives, off the main thread.
        page = self._client.fetch_page(self.day, number, started=self._first_request)
        if page is not None:
            self._writer.write_bytes(page_file_name(self.day, number), page.body)
            reached("extract.page-stored")
        return page

    def sink(self, page: Page) -> None:
        self._entries[page.number] = FileEntry(
            self._writer.listed_name(page_file_name(self.day, page.number)), page.records, len(page.body), page.sha256
        )

    def close(self) -> None:
        """Discard the temporary folder unless committed; the previous partition stays as it was."""
        self._close.close()
        self._open_dates.discard(self)

    def commit(self, pages: int) -> dict[str, Any]:
        """Replace the partition with the ``pages`` pages fetched; returns the manifest."""
        numbers = [n for n in sorted(self._entries) if n <= pages]
        files = [self._entries[n] for n in numbers]
        self._writer.keep_only({page_file_name(self.day, n) for n in numbers})  # drop pages past the end
        if not files and not self._allow_empty:
            _refuse_emptying(self.day, self.partition)
        manifest = new_manifest(
            zone=RAW,
            day=self.day,
            tool=TOOL,
            run_id=self.run_id,
            started_at=self.started_at,
            files=files,
            pages=pages,
            records=sum(f.records for f in files),
            bytes=sum(f.bytes for f in files),
            source=self._source,
        )
        reached("extract.before-commit")
        self._writer.commit(manifest)
        observe.committed(manifest)
        self.close()
        self._log(manifest)
        return manifest

    def _log(self, manifest: dict[str, Any]) -> None:
        seconds = round(time.monotonic() - self._clock, 3)
        log.info(
            "%s: %d pages, %d records, %d bytes in %.2fs -> %s",
            self.day,
            manifest["pages"],
            manifest["records"],
            manifest["bytes"],
            seconds,
            self.partition,
            extra={
                "date": self.day.isoformat(),
                "pages": manifest["pages"],
                "records": manifest["records"],
                "bytes": manifest["bytes"],
                "seconds": seconds,
                "run_id": self.run_id,
            },
        )


@dataclass(frozen=True)
class DateJob:
    """A date to extract into ``partition``; ``skip`` (called when its turn comes) says it is done already."""

    day: date
    partition: Partition
    skip: Callable[[], bool] = lambda: False


@dataclass
class RangeRun:
    """Every date of a range through one scheduler: pipelined, each committed on its own, outcomes per date.

    ``run`` returns one outcome per date, in the order given: done, skipped,
    failed, or not attempted when a rejected token stopped the run before the
    date's turn (or while its pages were in flight). ``started`` hears of a
    date when its first request is about to go, ``settled`` of each outcome as
    soon as it is known; never two calls at once.
    """

    jobs: list[DateJob]
    client: SalesApiClient
    source: str
    max_pages: int
    allow_empty: bool = False
    started: Callable[[date], object] = lambda day: None
    settled: Callable[[Outcome], object] = lambda outcome: None
    progress: Display | None = None
    """Where the run shows how far it is; None: nowhere."""
    clock: Clock = system_clock
    """When each date starts, as its manifest says (``started_at``)."""
    requests: int = 0
    _outcomes: dict[date, Outcome] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pages: int = 0
    _records: int = 0
    _clock: float = 0.0

    def run(self) -> list[Outcome]:
        with contextlib.ExitStack() as stack:
            open_dates = stack.enter_context(contextlib.closing(OpenDates()))
            scheduler = Scheduler(
                self._lanes(open_dates),
                self._settle,
                lambda: self.client.control.limit,
                pool_size=self.client.control.ceiling,
                stops_run=lambda exc: isinstance(exc, TokenRejectedError),
                abort=self.client.stop,
                tick=None if self.progress is None else lambda: self._progress(scheduler),
                tick_every=0.0 if self.progress is None else self.progress.every,
            )
            progress = self.progress
            if progress is not None:
                stack.callback(lambda: progress.close(self._now(scheduler)))
            self._clock = time.monotonic()
            scheduler.run()
            self.requests = scheduler.requests
            for lane in scheduler.left:
                assert isinstance(lane, DateRun)
                lane.close()
        for job in self.jobs:
            if job.day not in self._outcomes:
                self._record(Outcome(job.day, Status.NOT_ATTEMPTED, str(scheduler.stopped_by or "")))
        return [self._outcomes[job.day] for job in self.jobs]

    def outcomes_so_far(self) -> list[Outcome]:
        """The outcomes known so far, in the order of the dates: all of them once ``run`` returned."""
        with self._lock:
            return [self._outcomes[job.day] for job in self.jobs if job.day in self._outcomes]

    def _progress(self, scheduler: Scheduler) -> None:
        if self.progress is not None:
            self.progress.show(self._now(scheduler))

    def _now(self, scheduler: Scheduler) -> Progress:
        """Dates settled of all, pages and records committed, requests per second, a rough ETA."""
        with self._lock:
            settled, total = len(self._outcomes), len(self.jobs)
            pages, records = self._pages, self._records
        elapsed = max(time.monotonic() - self._clock, 1e-9)
        eta = round(elapsed / settled * (total - settled)) if settled else None
        return Progress(settled, total, pages, records, round(scheduler.requests / elapsed, 1), eta)

    def _record(self, outcome: Outcome) -> None:
        with self._lock:  # dates are opened in the scheduling thread, settled in this one
            self._outcomes[outcome.day] = outcome
            self.settled(outcome)

    def _lanes(self, open_dates: OpenDates) -> Iterator[Lane]:
        """The dates, each opened only when the scheduler takes it up (so at most its bound are open)."""
        for job in self.jobs:
            opened: list[DateRun] = []

            def start(day: date, job: DateJob = job, opened: list[DateRun] = opened) -> Status:
                if job.skip():
                    return Status.SKIPPED
                with self._lock:
                    self.started(day)
                opened.append(
                    DateRun(
                        day,
                        job.partition,
                        self.client,
                        self.source,
                        self.max_pages,
                        self.allow_empty,
                        open_dates,
                        self.clock,
                    )
                )
                return Status.DONE

            outcome = attempt(job.day, start, log)
            if opened:
                yield opened[0]
            else:
                self._record(outcome)

    def _settle(self, lane: Lane, result: int | BaseException) -> None:
        assert isinstance(lane, DateRun)

        def finish(day: date) -> Status:
            try:
                if isinstance(result, BaseException):
                    raise result
                manifest = lane.commit(result)
            finally:
                lane.close()
            with self._lock:
                self._pages += int(manifest["pages"])
                self._records += int(manifest["records"])
            return Status.DONE

        self._record(replace(attempt(lane.day, finish, log), started_at=lane.started_at))


def extract_date(
    day: date,
    partition: Path | Partition,
    client: SalesApiClient,
    source: str,
    concurrency: int,
    max_pages: int,
    allow_empty: bool = False,
) -> dict[str, Any]:
    """Fetch every page of ``day`` and replace ``partition`` with them; on failure it stays as it was.

    A date the API answers with no sales does not replace a complete partition
    holding records (``DataError``) unless ``allow_empty``. Returns the committed manifest.
    """
    manifests: list[dict[str, Any]] = []

    def settle(lane: Lane, result: int | BaseException) -> None:
        assert isinstance(lane, DateRun)
        try:
            if isinstance(result, BaseException):
                raise result
            manifests.append(lane.commit(result))
        finally:
            lane.close()

    with contextlib.closing(OpenDates()) as open_dates:
        run = DateRun(day, as_partition(partition), client, source, max_pages, allow_empty, open_dates)
        Scheduler(iter([run]), settle, fixed_limit(concurrency), abort=client.stop).run()
    return manifests[0]
