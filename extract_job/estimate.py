"""How many pages a date is likely to have, learnt from the dates a run has already fetched.

The API only says where a date's pages end by answering "no such page", so
every request past the end but one is wasted. With the page counts of the dates
seen so far, a page number is worth asking for when most dates that had at
least as many pages as this one has so far reached it (the page itself, or the
end-of-pages answer right after the last page). A page holding fewer records
than the fullest page seen is taken as a date's last: only the end is asked
for after it.
"""

from __future__ import annotations

import bisect
import enum
import threading


class Tier(enum.Enum):
    """How sure the scheduler is that a request is needed; it fills the pool from the surest."""

    CERTAIN = 1
    LIKELY = 2
    IDLE = 3


MIN_DATES = 2
"""Below this many dates seen, nothing is known."""
LIKELY = 0.5
"""A page is requested ahead of need when at least this share of comparable dates reached it."""


class PageEstimate:
    """Page counts of the dates seen, and the most records one page held."""

    def __init__(self) -> None:
        self._counts: list[int] = []  # sorted
        self._full_page = 0
        self._lock = threading.Lock()

    def observe_date(self, pages: int) -> None:
        with self._lock:
            bisect.insort(self._counts, pages)

    def observe_page(self, records: int) -> None:
        with self._lock:
            self._full_page = max(self._full_page, records)

    def is_short(self, records: int) -> bool:
        """Whether a page of ``records`` holds fewer than the fullest page seen: likely a date's last."""
        with self._lock:
            return 0 < records < self._full_page

    def likely_needed(self, number: int, known: int, share: float = LIKELY) -> bool | None:
        """Whether page ``number`` is likely needed, given that pages 1..``known`` exist; None if nothing is known.

        Needed means the page exists or is the end answer: its date has at least ``number - 1`` pages.
        """
        with self._lock:
            comparable = len(self._counts) - bisect.bisect_left(self._counts, known)
            if comparable < MIN_DATES:
                return None
            reaching = len(self._counts) - bisect.bisect_left(self._counts, number - 1)
            return reaching >= share * comparable
