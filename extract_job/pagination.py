"""Concurrent pagination: fetch ahead of the known end, stop at the first page past it.

The API only says where the pages end by answering "no such page", so up to
``concurrency`` pages are in flight at once, each new request going to the next
page number, until a page comes back as the end. Pages past the end that were
already requested are never kept, and the API is held to its own end: one that
holds records fails the date (no request is made only to look). Two consecutive
pages with the same body fail it as soon as both are in: the API is ignoring
the page number and would answer up to ``max_pages`` times.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from extract_job.classify import Page
from shared.errors import FatalApiError


class Paginator:
    """Owns the pagination state: what is in flight, where the end is, which page failed first."""

    def __init__(self, concurrency: int, max_pages: int) -> None:
        self.concurrency = concurrency
        self.max_pages = max_pages
        self.next_page = 1
        self.end: int | None = None  # the first page number known to be past the last page
        self.errors: dict[int, BaseException] = {}
        self.digests: dict[int, str] = {}  # page number -> sha256, of the pages that held records

    def arrived(self, page: Page) -> None:
        """Note a page with records; a copy of its neighbour fails the run from that page on."""
        self.digests[page.number] = page.sha256
        for before, after in ((page.number - 1, page.number), (page.number, page.number + 1)):
            if before in self.digests and self.digests.get(after) == self.digests[before]:
                self.errors[after] = FatalApiError(
                    f"pages {before} and {after} are identical; the API seems to ignore the page number"
                )

    def ended(self, number: int) -> None:
        self.end = min(number, self.end or number)

    def wanted(self) -> bool:
        """Whether another page number is still worth requesting."""
        # Page max_pages + 1 is asked for too: only its answer tells exactly max_pages pages from too many.
        limit = min([self.max_pages + 2, *self.errors, *([self.end] if self.end else [])])
        return self.next_page < limit

    def outcome(self) -> int:
        """The number of pages, once nothing is in flight; raises if the run cannot succeed."""
        first_error = min(self.errors, default=None)
        if first_error is not None and (self.end is None or first_error < self.end):
            raise self.errors[first_error]
        beyond = sorted(n for n in self.digests if self.end is not None and n > self.end)
        if beyond:
            raise FatalApiError(
                f"inconsistent API: page {self.end} said the pages end, but page {beyond[0]} "
                f"(already fetched) holds records; nothing was kept"
            )
        if self.end is None:
            raise FatalApiError(
                f"the API still had pages after {self.max_pages}; stopping (raise --max-pages if that is real)"
            )
        return self.end - 1


def fetch_all(
    fetch: Callable[[int], Page | None],
    sink: Callable[[Page], None],
    concurrency: int,
    max_pages: int,
    abort: Callable[[], None] = lambda: None,
) -> int:
    """Fetch every page with ``fetch`` (in worker threads), hand each to ``sink`` (in this thread).

    Returns the number of pages. ``sink`` sees each page as it arrives, in
    completion order, so memory holds at most ``concurrency`` pages. A page that
    arrives before the end is known may turn out to lie past it (an API that
    answers beyond its own end): pages numbered above the returned count are
    not part of the result, and the caller must drop them.

    An interrupt (SIGINT, SIGTERM) in this thread calls ``abort`` first, which
    must wake the fetching threads (blocked in a read or a wait), so the pool's
    shutdown does not wait out their requests.
    """
    state = Paginator(concurrency, max_pages)
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="page") as pool:
        try:
            _drive(pool, state, fetch, sink)
        except BaseException:
            abort()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return state.outcome()


def _drive(
    pool: ThreadPoolExecutor, state: Paginator, fetch: Callable[[int], Page | None], sink: Callable[[Page], None]
) -> None:
    """Keep ``state.concurrency`` pages in flight until nothing more is wanted."""
    in_flight: dict[Future[Page | None], int] = {}
    while True:
        while len(in_flight) < state.concurrency and state.wanted():
            in_flight[pool.submit(fetch, state.next_page)] = state.next_page
            state.next_page += 1
        if not in_flight:
            return
        done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
        for future in done:
            number = in_flight.pop(future)
            try:
                page = future.result()
            except Exception as exc:
                state.errors[number] = exc
                continue
            if page is None:
                state.ended(number)
                continue
            state.arrived(page)
            if state.end is None or number < state.end:
                sink(page)
