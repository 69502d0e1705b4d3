"""One rate controller for every worker of a run: a shared pause, an adaptive in-flight limit, a token bucket.

A throttled API (429, or 503 with Retry-After) speaks to the client, not to one
thread: every worker pauses until the announced time, not only the one that was
told. Two quantities then adapt, as botocore's adaptive retries and Netflix's
``AIMDLimit`` do:

* the number of requests in flight: ``concurrency`` until the first throttle,
  halved on a throttle, then one more per round of successes; never above
  ``concurrency``. There is no slow start: measured behind a 20 requests/s
  limit, starting at 4 and doubling per round left the 429s as they were (the
  limiter admits a second's worth before it refuses anything, so the first
  refusals meet a full window either way), and cost a single date of 60 pages
  two rounds of its five (docs/benchmarks.md);
* the request rate: unlimited (or ``max_rps``) until the first throttle, then a
  token bucket filled at just under the rate the API admitted in the last
  second, probing slowly upwards from there; never above ``max_rps``.

One throttle episode lowers the limits once: the answers to requests sent
before the last decrease say nothing new. The object is fed events and reads a
clock; it never sleeps, so it is tested with a fake clock.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Callable

WINDOW_S = 1.0
"""The admitted rate is measured over this trailing window."""
BACKOFF_SHARE = 0.95
"""After a throttle the bucket fills at this share of the rate the API admitted in the last window."""
PROBE_PER_S = 0.01
"""After a throttle the rate grows by this share per second: slowly, since each new throttle costs a pause."""
MIN_ADMITTED = 4
"""The bucket is set only from a rate measured on at least this many answers in the window."""
MIN_RPS = 0.5
"""The bucket never fills slower than this, so a throttled run still makes progress and ends."""


_EPSILON = 1e-9


class RateController:
    """Thread-safe: workers call ``reserve`` before a request and report its answer."""

    def __init__(
        self,
        concurrency: int,
        max_rps: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ceiling = concurrency
        self._max_rps = max_rps
        self._clock = clock
        self._lock = threading.Lock()
        self._limit = float(concurrency)
        self._round = 0  # successes since the limit last grew
        self._rate = max_rps
        self._tokens = 1.0
        self._filled_at = clock()
        self._paused_until = -math.inf
        self._last_decrease = -math.inf
        self._admitted: collections.deque[float] = collections.deque()
        self.throttles = 0
        """Throttled answers seen (a count for the run's summary)."""

    @property
    def ceiling(self) -> int:
        """The most requests ever in flight (``--concurrency``)."""
        return self._ceiling

    @property
    def limit(self) -> int:
        """How many requests may be in flight now."""
        with self._lock:
            return max(1, min(self._ceiling, int(self._limit)))

    @property
    def rate(self) -> float | None:
        """Requests per second the token bucket allows now; None while it is off."""
        with self._lock:
            return self._rate

    def paused_for(self) -> float:
        """Seconds until the shared pause ends (0.0 when there is none)."""
        with self._lock:
            return max(0.0, self._paused_until - self._clock())

    def claim(self) -> float | None:
        """Claim a turn and return the seconds until it is due (0.0: go now); None while paused, nothing claimed.

        A claimed turn is the caller's: after waiting that long it goes without
        asking again (unless a pause began meanwhile, ``paused_for``). So workers
        waiting for the bucket each sleep until their own turn instead of all
        waking for every token.
        """
        with self._lock:
            now = self._clock()
            if now < self._paused_until:
                return None
            if self._rate is None:
                return 0.0
            # One token of credit at most: after a pause, requests resume at the rate, not in a burst that a
            # sliding-window limiter would refuse again. Below zero are the turns already claimed.
            self._tokens = min(1.0, self._tokens + (now - self._filled_at) * self._rate)
            self._filled_at = now
            self._tokens -= 1.0
            if self._tokens >= -_EPSILON:  # not bare 0.0: a wait computed to refill it exactly must do so
                return 0.0
            return -self._tokens / self._rate

    def reserve(self) -> float:
        """``claim``, or while paused the seconds the pause has left."""
        turn = self.claim()
        return self.paused_for() if turn is None else turn

    def succeeded(self) -> None:
        """A request was answered (any answer but a throttle)."""
        with self._lock:
            now = self._clock()
            self._admitted.append(now)
            self._trim(now)
            self._round += 1
            if self._limit < self._ceiling and self._round >= self._limit:
                self._limit = min(self._limit + 1.0, float(self._ceiling))
                self._round = 0
            if self._rate is not None and (self._max_rps is None or self._rate < self._max_rps):
                # About ``rate`` successes a second: the rate grows by PROBE_PER_S of itself per second.
                self._rate += PROBE_PER_S
                if self._max_rps is not None:
                    self._rate = min(self._rate, self._max_rps)

    def throttled(self, sent_at: float, pause: float) -> None:
        """A request sent at ``sent_at`` (this clock) was throttled; every worker waits ``pause`` seconds."""
        with self._lock:
            now = self._clock()
            self.throttles += 1
            self._paused_until = max(self._paused_until, now + max(pause, 0.0))
            if sent_at < self._last_decrease:
                return  # already in flight when the run slowed down: nothing new
            self._last_decrease = now
            self._limit = max(1.0, float(int(self._limit) // 2))
            self._round = 0
            self._trim(now)
            if len(self._admitted) < MIN_ADMITTED:
                return  # nothing to measure a rate on yet: the pause and the smaller limit do
            rate = max(MIN_RPS, BACKOFF_SHARE * len(self._admitted) / WINDOW_S)
            if self._rate is not None:
                rate = min(rate, self._rate)
            self._rate = rate
            self._tokens = 0.0  # turns claimed before the throttle are void: their workers see the pause
            self._filled_at = now

    def now(self) -> float:
        return self._clock()

    def _trim(self, now: float) -> None:
        while self._admitted and self._admitted[0] <= now - WINDOW_S:
            self._admitted.popleft()
