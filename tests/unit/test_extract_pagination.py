"""One date's ``Paginator`` driven by the ``Scheduler``, as a run drives it, over a fake fetch function:
where pagination stops, what it ignores, how much it fetches ahead. (Many dates at once: test_extract_scheduler.py.)"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

import pytest

from extract_job.classify import Page
from extract_job.pagination import Paginator
from extract_job.scheduler import Lane, Scheduler, fixed_limit
from shared.errors import ApiError, FatalApiError

ENDLESS = 10**9


class FakeApi:
    """A fetch function: pages 1..last exist, ``errors`` maps page numbers to exceptions to raise.

    ``beyond`` decides what pages past the end answer: None (the end again) or a Page
    (an API that keeps answering after its own end). Records every call and the
    most requests ever in flight at once.
    """

    def __init__(
        self,
        last: int,
        errors: dict[int, Exception] | None = None,
        beyond: str = "end",
        delay: Callable[[int], float] = lambda n: 0.0,
    ) -> None:
        self.last = last
        self.errors = errors or {}
        self.beyond = beyond
        self.delay = delay
        self.calls: list[int] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()

    def __call__(self, number: int) -> Page | None:
        with self._lock:
            self.calls.append(number)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            time.sleep(self.delay(number))
            if number in self.errors:
                raise self.errors[number]
            if number <= self.last or (number > self.last + 1 and self.beyond == "page"):
                return Page(number, f"[{number}]".encode(), 1)
            return None
        finally:
            with self._lock:
                self.in_flight -= 1


class Sink:
    def __init__(self) -> None:
        self.pages: list[int] = []
        self.threads: set[str] = set()

    def __call__(self, page: Page) -> None:
        self.pages.append(page.number)
        self.threads.add(threading.current_thread().name)


class OneDate(Lane):
    """A date whose pages come from ``fetch`` (in the scheduler's threads) and go to ``sink`` (in the settling one)."""

    def __init__(self, fetch: Callable[[int], Page | None], sink: Callable[[Page], None], max_pages: int) -> None:
        super().__init__(Paginator(max_pages))
        self._fetch, self._sink = fetch, sink

    def fetch(self, number: int) -> Page | None:
        return self._fetch(number)

    def sink(self, page: Page) -> None:
        self._sink(page)


def fetch_all(
    fetch: Callable[[int], Page | None], sink: Callable[[Page], None], concurrency: int, max_pages: int
) -> int:
    """The date's page count as the scheduler settles it with ``concurrency`` requests at once; raises its error."""
    settled: list[int | BaseException] = []
    Scheduler(
        iter([OneDate(fetch, sink, max_pages)]), lambda lane, result: settled.append(result), fixed_limit(concurrency)
    ).run()
    [result] = settled
    if isinstance(result, BaseException):
        raise result
    return result


def jitter(seed: int) -> Callable[[int], float]:
    rng = random.Random(seed)
    lock = threading.Lock()

    def delay(_: int) -> float:
        with lock:
            return rng.uniform(0, 0.004)

    return delay


@pytest.mark.parametrize(
    ("last", "concurrency"),
    [
        pytest.param(0, 1, id="no-pages-sequential"),
        pytest.param(0, 4, id="no-pages-concurrent"),
        pytest.param(1, 1, id="one-page-sequential"),
        pytest.param(5, 1, id="five-pages-sequential"),
        pytest.param(5, 3, id="five-pages-concurrency-3"),
        pytest.param(12, 4, id="twelve-pages-concurrency-4"),
        pytest.param(3, 8, id="concurrency-above-page-count"),
        pytest.param(40, 6, id="forty-pages-concurrency-6"),
    ],
)
def test_stops_at_the_first_end_and_sink_gets_each_page_once(last: int, concurrency: int) -> None:
    api, sink = FakeApi(last, delay=jitter(last * 10 + concurrency)), Sink()
    assert fetch_all(api, sink, concurrency, max_pages=1000) == last
    assert sorted(sink.pages) == list(range(1, last + 1)), "every page exactly once"
    # One scheduling thread calls it (issue 14: so commits in the calling thread never stall the requests).
    assert len(sink.threads) <= 1, "the sink is called from one thread, never from two at once"
    assert api.max_in_flight <= concurrency
    assert max(api.calls) <= last + concurrency, "fetch-ahead past the end is bounded by the concurrency"
    assert last + 1 in api.calls, "the end was asked for"
    assert len(api.calls) == len(set(api.calls)), "no page is requested twice"


def test_concurrency_one_is_strictly_sequential() -> None:
    api, sink = FakeApi(6), Sink()
    assert fetch_all(api, sink, concurrency=1, max_pages=100) == 6
    assert api.calls == [1, 2, 3, 4, 5, 6, 7]
    assert sink.pages == [1, 2, 3, 4, 5, 6]
    assert api.max_in_flight == 1


def test_concurrency_is_used() -> None:
    api = FakeApi(12, delay=lambda n: 0.02)
    assert fetch_all(api, Sink(), concurrency=4, max_pages=100) == 12
    assert api.max_in_flight == 4


@pytest.mark.parametrize(
    "delay",
    [
        pytest.param(lambda n: 0.03 if n > 4 else 0.0, id="end-known-first"),
        pytest.param(lambda n: 0.05 if n == 4 else 0.0, id="end-known-last"),
    ],
)
def test_records_fetched_past_the_end_fail_the_run(delay: Callable[[int], float]) -> None:
    # Page 4 ends the pages, but pages from 5 on (already in flight) hold records: the API contradicts itself.
    api, sink = FakeApi(3, beyond="page", delay=delay), Sink()
    with pytest.raises(FatalApiError, match="inconsistent API: page 4 said the pages end, but page 5"):
        fetch_all(api, sink, concurrency=5, max_pages=30)
    assert api.max_in_flight <= 5
    assert max(api.calls) <= 31, "max_pages still bounds the requests"


def test_no_request_is_made_only_to_look_past_the_end() -> None:
    api = FakeApi(3, beyond="page")
    assert fetch_all(api, Sink(), concurrency=1, max_pages=100) == 3
    assert api.calls == [1, 2, 3, 4]


@pytest.mark.parametrize("concurrency", [1, 4], ids=lambda c: f"concurrency-{c}")
def test_an_api_ignoring_the_page_number_fails_early(concurrency: int) -> None:
    def same_page(number: int) -> Page:
        return Page(number, b'[{"sale": 1}]', 1)

    calls: list[int] = []

    def fetch(number: int) -> Page:
        calls.append(number)
        return same_page(number)

    with pytest.raises(FatalApiError, match="pages 1 and 2 are identical; the API seems to ignore the page number"):
        fetch_all(fetch, Sink(), concurrency=concurrency, max_pages=10_000)
    assert len(calls) <= concurrency + 2, "stopped as soon as two pages were seen"


def test_lowest_end_wins_when_several_pages_answer_the_end() -> None:
    api = FakeApi(2, delay=lambda n: 0.05 if n == 3 else 0.0)
    assert fetch_all(api, Sink(), concurrency=4, max_pages=100) == 2


def test_error_beyond_the_end_is_ignored() -> None:
    # Pages 1..5 are all in flight before any answer is looked at, so page 5 is always requested.
    api = FakeApi(3, errors={5: FatalApiError("page 5: unexpected HTTP 500")})
    assert fetch_all(api, Sink(), concurrency=5, max_pages=100) == 3
    assert 5 in api.calls


def test_error_beyond_an_empty_date_is_ignored() -> None:
    api = FakeApi(0, errors={2: ApiError("page 2: gave up")})
    assert fetch_all(api, Sink(), concurrency=3, max_pages=100) == 0


@pytest.mark.parametrize("concurrency", [1, 2, 4], ids=lambda c: f"concurrency-{c}")
def test_error_before_the_end_fails_the_run(concurrency: int) -> None:
    boom = ApiError("page 2: gave up after 5 attempts")
    api = FakeApi(5, errors={2: boom})
    with pytest.raises(ApiError) as caught:
        fetch_all(api, Sink(), concurrency, max_pages=100)
    assert caught.value is boom


def test_an_error_stops_new_requests() -> None:
    api = FakeApi(10, errors={3: ApiError("page 3: gave up")})
    with pytest.raises(ApiError):
        fetch_all(api, Sink(), concurrency=1, max_pages=100)
    assert api.calls == [1, 2, 3]


def test_the_lowest_failed_page_is_reported() -> None:
    first, second = ApiError("page 2"), ApiError("page 3")
    api = FakeApi(10, errors={2: first, 3: second}, delay=lambda n: 0.05 if n == 2 else 0.0)
    with pytest.raises(ApiError) as caught:
        fetch_all(api, Sink(), concurrency=4, max_pages=100)
    assert caught.value is first


def test_unexpected_exceptions_propagate_unchanged() -> None:
    api = FakeApi(3, errors={1: ValueError("not an API error")})
    with pytest.raises(ValueError, match="not an API error"):
        fetch_all(api, Sink(), concurrency=2, max_pages=100)


def test_sink_failure_propagates() -> None:
    def full_disk(page: Page) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        fetch_all(FakeApi(3), full_disk, concurrency=2, max_pages=100)


@pytest.mark.parametrize("concurrency", [1, 4], ids=lambda c: f"concurrency-{c}")
def test_max_pages_guard_stops_an_endless_api(concurrency: int) -> None:
    api = FakeApi(ENDLESS)
    with pytest.raises(ApiError, match=r"the API still had pages after 20; stopping \(raise --max-pages"):
        fetch_all(api, Sink(), concurrency, max_pages=20)
    assert max(api.calls) == 21, "never asks beyond max_pages + 1"
    assert sorted(api.calls) == list(range(1, 22))


@pytest.mark.parametrize("concurrency", [1, 4], ids=lambda c: f"concurrency-{c}")
def test_exactly_max_pages_is_not_too_many(concurrency: int) -> None:
    assert fetch_all(FakeApi(20), Sink(), concurrency, max_pages=20) == 20


def test_one_page_more_than_max_pages_fails() -> None:
    with pytest.raises(ApiError, match="still had pages after 20"):
        fetch_all(FakeApi(21), Sink(), concurrency=3, max_pages=20)
