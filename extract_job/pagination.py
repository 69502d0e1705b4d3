"""Concurrent pagination of one date: fetch ahead of the known end, stop at the first page past it.

The API only says where the pages end by answering "no such page", so pages
are requested ahead of the answers, each new request going to the next page
number, until a page comes back as the end. How far ahead is the scheduler's
choice (``extract_job.scheduler``): page ``n + 1`` once page ``n`` is in is
always needed; further pages when the run's estimate says they are likely, or
when the pool has nothing better to do. Pages past the end that were already
requested are never kept, and the API is held to its own end: one that holds
records fails the date (no request is made only to look). Two consecutive pages
with the same body fail it as soon as both are in: the API is ignoring the page
number and would answer up to ``max_pages`` times.
"""

from __future__ import annotations

from extract_job.classify import Page
from extract_job.estimate import PageEstimate, Tier
from shared.errors import FatalApiError

IDLE_SHARE = 0.2
"""With nothing better to do, a page is requested when this share of comparable dates reached it."""


class Paginator:
    """Owns the pagination state: what is in flight, where the end is, which page failed first."""

    def __init__(self, max_pages: int) -> None:
        self.max_pages = max_pages
        self.next_page = 1
        self.end: int | None = None  # the first page number known to be past the last page
        self.errors: dict[int, BaseException] = {}
        self.digests: dict[int, str] = {}  # page number -> sha256, of the pages that held records
        self.short = False  # a page held fewer records than the run's fullest: likely the last

    def arrived(self, page: Page) -> None:
        """Note a page with records; a copy of its neighbour fails the run from that page on."""
        self.digests[page.number] = page.sha256
        for before, after in ((page.number - 1, page.number), (page.number, page.number + 1)):
            if before in self.digests and self.digests.get(after) == self.digests[before]:
                self.errors[after] = FatalApiError(
                    f"pages {before} and {after} are identical; the API seems to ignore the page number"
                )

    def next_request(self, estimate: PageEstimate, tier: Tier) -> int | None:
        """The page number to request next if it is worth it at ``tier``, or None.

        ``CERTAIN``: the page right after the last one in, needed either way (a
        page, or the end). ``LIKELY``: most comparable dates reached it
        (``PageEstimate``). ``IDLE``, when the pool has free slots nothing else
        fills: with nothing known about the API's dates, fetch ahead as far as
        the pool allows (the only way one date goes fast); with an estimate,
        whatever it does not rule out.
        """
        if not self.wanted():
            return None
        number, known = self.next_page, max(self.digests, default=0)
        if number <= known + 1:
            return number
        if tier is Tier.CERTAIN:
            return None
        if tier is Tier.IDLE:
            likely = estimate.likely_needed(number, known, IDLE_SHARE)
            return number if likely is None or likely else None
        if self.short:
            return None
        return number if estimate.likely_needed(number, known) else None

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
