"""``Scheduler`` over fake dates: pipelining, bounded speculation, independent dates, a run-wide stop.

The fake dates answer at once from worker threads, so only what holds whatever
the order of completion is asserted: counts, bounds and which dates settled how.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from extract_job.classify import Page
from extract_job.pagination import Paginator
from extract_job.scheduler import Lane, Scheduler, fixed_limit
from shared.errors import ApiError, TokenRejectedError


class Pool:
    """What every fake date shares: the requests made, and the most in flight at once."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.open_lanes = 0
        self.max_open = 0
        self.lock = threading.Lock()


class FakeDate(Lane):
    """Date ``key`` with ``pages`` pages; ``errors`` maps a page number to what its request raises."""

    def __init__(self, key: int, pages: int, pool: Pool, errors: dict[int, Exception] | None = None) -> None:
        super().__init__(Paginator(max_pages=100))
        self.key, self.pages, self.pool, self.errors = key, pages, pool, errors or {}
        self.kept: list[int] = []
        with pool.lock:
            pool.open_lanes += 1
            pool.max_open = max(pool.max_open, pool.open_lanes)

    def fetch(self, number: int) -> Page | None:
        with self.pool.lock:
            self.pool.calls.append((self.key, number))
            self.pool.in_flight += 1
            self.pool.max_in_flight = max(self.pool.max_in_flight, self.pool.in_flight)
        try:
            if number in self.errors:
                raise self.errors[number]
            return Page(number, f"[{self.key}, {number}]".encode(), 1) if number <= self.pages else None
        finally:
            with self.pool.lock:
                self.pool.in_flight -= 1

    def sink(self, page: Page) -> None:
        self.kept.append(page.number)


class Run:
    """A scheduler over fake dates of the given page counts; ``settled`` maps each date to its count or error."""

    def __init__(self, counts: list[int], errors: dict[int, dict[int, Exception]] | None = None) -> None:
        self.pool = Pool()
        self.counts = counts
        self.errors = errors or {}
        self.settled: dict[int, int | BaseException] = {}
        self.opened: list[FakeDate] = []

    def lanes(self) -> Iterator[Lane]:
        for key, pages in enumerate(self.counts):
            lane = FakeDate(key, pages, self.pool, self.errors.get(key))
            self.opened.append(lane)
            yield lane

    def settle(self, lane: Lane, result: int | BaseException) -> None:
        assert isinstance(lane, FakeDate)
        assert lane.key not in self.settled, "each date is settled once"
        self.settled[lane.key] = result
        with self.pool.lock:
            self.pool.open_lanes -= 1

    def run(self, limit: int, max_open: int | None = None) -> Scheduler:
        scheduler = Scheduler(
            self.lanes(),
            self.settle,
            fixed_limit(limit),
            max_open=max_open,
            stops_run=lambda exc: isinstance(exc, TokenRejectedError),
        )
        scheduler.run()
        return scheduler


# Page counts of 30 dates between 3 and 12, as the simulator derives them.
BACKFILL = [3 + (n * 7) % 10 for n in range(30)]


@pytest.mark.parametrize("limit", [1, 4, 16])
def test_every_date_settles_with_its_pages(limit: int) -> None:
    run = Run(BACKFILL)
    run.run(limit)
    assert run.settled == dict(enumerate(BACKFILL))
    for lane in run.opened:
        assert sorted(lane.kept) == list(range(1, lane.pages + 1)), "each page kept once"
    assert run.pool.max_in_flight <= limit
    assert len(run.pool.calls) == len(set(run.pool.calls)), "no page is requested twice"


@pytest.mark.parametrize("limit", [4, 16])
def test_dates_are_pipelined_and_speculation_stays_small(limit: int) -> None:
    run = Run(BACKFILL)
    scheduler = run.run(limit)
    needed = sum(BACKFILL) + len(BACKFILL)  # every page, and one end-of-pages answer per date
    assert run.pool.max_open > 1, "several dates were in flight at once"
    assert scheduler.requests == len(run.pool.calls)
    assert len(run.pool.calls) <= needed + 2 * limit, "past the first dates, nothing is fetched far past an end"


def test_one_date_alone_fetches_ahead_up_to_the_limit() -> None:
    run = Run([40])
    run.run(6)
    assert run.settled == {0: 40}
    assert max(number for _, number in run.pool.calls) <= 41 + 6


def test_open_dates_are_bounded() -> None:
    run = Run([5] * 20)
    run.run(8, max_open=3)
    assert run.pool.max_open <= 3
    assert len(run.settled) == 20


def test_a_failed_date_does_not_stop_the_others() -> None:
    boom = ApiError("page 2: gave up after 5 attempts")
    run = Run([4, 4, 4], errors={1: {2: boom}})
    run.run(4)
    assert run.settled == {0: 4, 1: boom, 2: 4}


def test_a_rejected_token_stops_the_run_at_once() -> None:
    rejected = TokenRejectedError("the API rejected the token (401)")
    run = Run([6] * 30, errors={key: {1: rejected} for key in range(30)})
    scheduler = run.run(4)
    assert scheduler.stopped_by is not None
    assert len(run.settled) == 1, "one date carries the cause"
    assert next(iter(run.settled.values())) is rejected
    assert len(run.opened) <= 4 + 1, "no date opened after the stop but those already taken up"
    assert len(run.pool.calls) <= 4, "no request after the first answers came back"
    left = {lane.key for lane in scheduler.left if isinstance(lane, FakeDate)}
    assert left == {lane.key for lane in run.opened} - set(run.settled)


def test_an_interrupt_propagates_and_wakes_the_workers() -> None:
    woken = threading.Event()

    class Interrupting(FakeDate):
        def sink(self, page: Page) -> None:
            raise KeyboardInterrupt

    pool = Pool()
    scheduler = Scheduler(iter([Interrupting(0, 5, pool)]), lambda lane, result: None, fixed_limit(2), abort=woken.set)
    with pytest.raises(KeyboardInterrupt):
        scheduler.run()
    assert woken.is_set()
