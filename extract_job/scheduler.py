"""One bounded pool of requests over a whole range of dates.

Dates are pipelined: while one date's last pages are in flight, the next
dates' first pages start, so the pool never idles between dates. Each date
(a ``Lane``) keeps its own pagination state and is settled on its own as soon
as nothing of it is in flight and nothing more is wanted: the caller commits
it or records its failure, and the other dates go on.

Which request goes next, the oldest open date first within each tier (so dates
finish, commit and free their writers in order): pages certainly needed (the
page after the last one in; while fewer than ``max_open`` dates are open, the
next date's first page); then pages the run's estimate says are likely; only
when neither fills the pool and no date is left to open, pages fetched ahead
on a guess (``Paginator.next_request``). The number of requests in flight is whatever
``limit()`` says at each moment (the rate controller's adaptive limit).

An error that is the same for every date (``stops_run``, a rejected token)
stops all scheduling at once: the requests in flight are woken and drained,
the date that got it is settled with it, and the dates still open are handed
back as not attempted (``Scheduler.left``).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING

from extract_job.classify import Page
from extract_job.estimate import PageEstimate, Tier

if TYPE_CHECKING:
    from extract_job.pagination import Paginator


class Lane:
    """One date as the scheduler drives it; subclasses fetch (in worker threads) and keep (in the main thread)."""

    def __init__(self, state: Paginator) -> None:
        self.state = state
        self.in_flight = 0

    def fetch(self, number: int) -> Page | None:
        raise NotImplementedError

    def sink(self, page: Page) -> None:
        raise NotImplementedError


Settle = Callable[[Lane, "int | BaseException"], None]
"""Called in the main thread once per lane: its page count, or the error that failed it."""


def fixed_limit(limit: int) -> Callable[[], int]:
    return lambda: limit


class Scheduler:
    """Drives lanes from ``lanes`` (opened lazily, at most ``max_open`` unsettled at once) through one thread pool.

    The scheduling runs in a thread of its own; ``run`` settles the lanes in the
    calling thread as they finish. So a date's commit (its fsyncs) never stalls
    the requests of the others, and an interrupt (a signal, in the main thread)
    unwinds the commit it lands in as it always did.
    """

    def __init__(
        self,
        lanes: Iterator[Lane],
        settle: Settle,
        limit: Callable[[], int],
        *,
        pool_size: int | None = None,
        max_open: int | None = None,
        estimate: PageEstimate | None = None,
        stops_run: Callable[[BaseException], bool] = lambda exc: False,
        abort: Callable[[], None] = lambda: None,
        tick: Callable[[], None] | None = None,
        tick_every: float = 10.0,
    ) -> None:
        self._lanes = lanes
        self._tick = tick
        self._tick_every = tick_every
        self._settle = settle
        self._limit = limit
        self._pool_size = pool_size or limit()
        self._max_open = max_open or 2 * self._pool_size
        self.estimate = estimate or PageEstimate()
        self._stops_run = stops_run
        self._abort = abort
        self._open: list[Lane] = []
        self._unsettled = 0  # open, or finished and waiting to be settled
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)  # notified when a lane is settled, or the run quits
        self._exhausted = False
        self._in_flight: dict[Future[Page | None], tuple[Lane, int]] = {}
        self._finished: queue.SimpleQueue[tuple[Lane, int | BaseException] | _End] = queue.SimpleQueue()
        self._quit = threading.Event()
        self.stopped_by: BaseException | None = None
        self.left: list[Lane] = []
        """Lanes that were open when the run stopped: not settled, their dates not attempted."""
        self.requests = 0

    def run(self) -> None:
        """Until every lane is settled, or the run stopped (``stopped_by``); interrupts abort and propagate."""
        with ThreadPoolExecutor(max_workers=self._pool_size, thread_name_prefix="page") as pool:
            driver = threading.Thread(target=self._drive_or_report, args=(pool,), name="scheduler", daemon=True)
            driver.start()
            try:
                while not isinstance(item := self._next_finished(), _End):
                    lane, result = item
                    try:
                        self._settle(lane, result)
                    finally:
                        with self._settled:
                            self._unsettled -= 1
                            self._settled.notify_all()
                if item.error is not None:
                    raise item.error
            except BaseException:
                with self._settled:
                    self._quit.set()
                    self._settled.notify_all()
                self._abort()
                # Not cancel_futures: concurrent.futures.wait never sees a future cancelled by shutdown (no worker
                # ever reports it), so the scheduling thread would wait for it for ever. Once stopped, a queued
                # fetch ends at once, before any request.
                pool.shutdown(wait=False)
                raise
            finally:
                driver.join()

    def _next_finished(self) -> tuple[Lane, int | BaseException] | _End:
        """The next finished lane; meanwhile ``tick`` every ``tick_every`` seconds, in this thread."""
        if self._tick is None:
            return self._finished.get()
        while True:
            try:
                return self._finished.get(timeout=self._tick_every)
            except queue.Empty:
                self._tick()

    def _drive_or_report(self, pool: ThreadPoolExecutor) -> None:
        try:
            self._drive(pool)
        except BaseException as exc:
            self._finished.put(_End(exc))
        else:
            self._finished.put(_End(None))

    def _drive(self, pool: ThreadPoolExecutor) -> None:
        while True:
            if self.stopped_by is None and not self._quit.is_set():
                self._fill(pool)
            if not self._in_flight:
                if self.stopped_by is not None or self._quit.is_set():
                    self.left = self._open
                    self._open = []
                    return
                if self._exhausted:
                    return
                self._wait_for_settles()  # every open date is done; the next waits for a free slot
                continue
            done, _ = wait(self._in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                self._route(future)

    def _wait_for_settles(self) -> None:
        with self._settled:
            while self._unsettled >= self._max_open and not self._quit.is_set():
                self._settled.wait()

    def _fill(self, pool: ThreadPoolExecutor) -> None:
        while len(self._in_flight) < min(self._limit(), self._pool_size):
            choice = self._pick(Tier.CERTAIN)
            if choice is None and self._open_next():
                continue  # its first page is certain
            choice = choice or self._pick(Tier.LIKELY)
            if choice is None and self._exhausted:
                # Guesses only once no date is left to open: while dates wait for a slot (their writers are
                # bounded, the commits behind), a guess would not make the run any faster, only wasteful.
                choice = self._pick(Tier.IDLE)
            if choice is None:
                return
            lane, number = choice
            lane.state.next_page += 1
            lane.in_flight += 1
            self.requests += 1
            self._in_flight[pool.submit(lane.fetch, number)] = (lane, number)

    def _pick(self, tier: Tier) -> tuple[Lane, int] | None:
        for lane in self._open:
            number = lane.state.next_request(self.estimate, tier)
            if number is not None:
                return lane, number
        return None

    def _open_next(self) -> bool:
        with self._lock:
            if self._exhausted or self._unsettled >= self._max_open:
                return False
            self._unsettled += 1
        lane = next(self._lanes, None)  # opening a lane (its writer) happens in this thread
        if lane is None:
            with self._lock:
                self._exhausted = True
                self._unsettled -= 1
            return False
        self._open.append(lane)
        return True

    def _route(self, future: Future[Page | None]) -> None:
        lane, number = self._in_flight.pop(future)
        lane.in_flight -= 1
        state = lane.state
        try:
            page = future.result()
        except Exception as exc:
            if self.stopped_by is None and self._stops_run(exc):
                self._stop(lane, exc)
            elif self.stopped_by is None:
                state.errors[number] = exc
        else:
            if page is None:
                state.ended(number)
            else:
                state.arrived(page)
                self.estimate.observe_page(page.records)
                state.short = state.short or self.estimate.is_short(page.records)
                if state.end is None or number < state.end:
                    lane.sink(page)
        if self.stopped_by is None and lane.in_flight == 0 and not state.wanted():
            self._open.remove(lane)
            try:
                pages = state.outcome()
            except Exception as exc:
                self._finished.put((lane, exc))
            else:
                self.estimate.observe_date(pages)
                self._finished.put((lane, pages))

    def _stop(self, lane: Lane, exc: BaseException) -> None:
        """Settle ``lane`` with ``exc``; wake everything in flight and schedule nothing more."""
        self.stopped_by = exc
        self._open.remove(lane)
        self._abort()
        self._finished.put((lane, exc))


@dataclass(frozen=True)
class _End:
    """The scheduling thread is done; ``error`` is what ended it, if anything did."""

    error: BaseException | None
