"""Misbehaviour on demand: rate limiting, random errors and per-page faults."""

from __future__ import annotations

import collections
import contextlib
import email.utils
import math
import random
import threading
import time
from collections.abc import Callable, Iterator

from sales_api_sim.config import Fault, SimulatorConfig


class RateLimiter:
    """At most ``limit`` admitted calls in any ``window``-second sliding window.

    A sliding log rather than a token bucket: "N per second" then holds for
    every window, which is what a test counting 429s expects. Rejected calls
    are not logged, so a client that backs off gets through again.
    """

    def __init__(self, limit: int, window: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._admitted: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def allow(self) -> bool:
        with self._lock:
            now = self._clock()
            while self._admitted and self._admitted[0] <= now - self._window:
                self._admitted.popleft()
            if len(self._admitted) >= self._limit:
                return False
            self._admitted.append(now)
            return True


class ConcurrencyLimiter:
    """Counts the requests in progress; ``enter`` says whether one more is within ``limit``.

    A request refused for crowding still counts while it is answered (its 429
    takes the same latency), as it does on a real server.
    """

    def __init__(self, limit: int | None) -> None:
        self._limit = limit
        self._in_progress = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def enter(self) -> Iterator[bool]:
        """Inside the block the request is in progress; yields False when it is one too many."""
        with self._lock:
            self._in_progress += 1
            admitted = self._limit is None or self._in_progress <= self._limit
        try:
            yield admitted
        finally:
            with self._lock:
                self._in_progress -= 1


class RandomErrors:
    """Decides which requests fail under ``error_rate``.

    One seeded RNG behind a lock: a single-threaded client sees the same
    sequence of failures on every run; concurrent clients share the sequence.
    """

    def __init__(self, rate: float, seed: int) -> None:
        self._rate = rate
        self._rng = random.Random(f"{seed}:errors")
        self._lock = threading.Lock()

    def should_fail(self) -> bool:
        if self._rate == 0:
            return False
        with self._lock:
            return self._rng.random() < self._rate


def fault_for(config: SimulatorConfig, page: int, attempt: int) -> Fault | None:
    """The fault to inject into the ``attempt``-th request for ``page``, if any."""
    if config.fault is None:
        return None
    if config.fault_pages is not None and page not in config.fault_pages:
        return None
    if config.fault_first is not None and attempt > config.fault_first:
        return None
    return config.fault


def retry_after_value(config: SimulatorConfig, now: float | None = None) -> str:
    """The Retry-After header value in the configured format.

    An HTTP date has whole-second resolution, so it is rounded up: a client
    that honours it never retries earlier than ``retry_after`` seconds.
    """
    if config.retry_after_format == "http-date":
        wall_clock = time.time() if now is None else now
        return email.utils.formatdate(math.ceil(wall_clock + config.retry_after), usegmt=True)
    return str(config.retry_after)
