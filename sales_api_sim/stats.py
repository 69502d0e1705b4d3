"""Request counters that tests read to check how a client behaved.

Handler threads update the counters concurrently, so every access goes through
one lock and readers get copies, never the live dictionaries.
"""

from __future__ import annotations

import threading
from collections import Counter

PageKey = tuple[str, int]


class RequestStats:
    """Counts of connections, /sales requests, per-page requests and statuses.

    ``requests_total`` counts every /sales request, rejected or not.
    ``requests_by_page`` counts the requests that reached a (date, page), that
    is passed the token check, parameter validation and rate limiting; it is
    the attempt number ``fail_first`` and ``fault_first`` look at.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections_total = 0
        self._requests_total = 0
        self._by_page: Counter[PageKey] = Counter()
        self._by_status: Counter[int] = Counter()

    def count_connection(self) -> None:
        with self._lock:
            self._connections_total += 1

    def count_request(self) -> None:
        with self._lock:
            self._requests_total += 1

    def count_page(self, day: str, page: int) -> int:
        """Record one request for (day, page) and return its attempt number, from 1."""
        with self._lock:
            self._by_page[(day, page)] += 1
            return self._by_page[(day, page)]

    def count_status(self, status: int) -> None:
        with self._lock:
            self._by_status[status] += 1

    @property
    def connections_total(self) -> int:
        """TCP connections accepted (shows whether a client reuses connections)."""
        with self._lock:
            return self._connections_total

    @property
    def requests_total(self) -> int:
        with self._lock:
            return self._requests_total

    @property
    def requests_by_page(self) -> dict[PageKey, int]:
        with self._lock:
            return dict(self._by_page)

    @property
    def responses_by_status(self) -> dict[int, int]:
        """How many /sales responses were sent with each status."""
        with self._lock:
            return dict(self._by_status)

    def page_requests(self, day: str, page: int) -> int:
        with self._lock:
            return self._by_page[(day, page)]

    def reset(self) -> None:
        """Zero every counter, e.g. between tests sharing one server.

        Per-page attempt numbers restart too, so ``fail_first`` applies again.
        """
        with self._lock:
            self._connections_total = 0
            self._requests_total = 0
            self._by_page.clear()
            self._by_status.clear()
