"""How long to wait before the next attempt: exponential backoff with jitter, or what the server asked."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class RetryPolicy:
    """``max_attempts`` tries in all; waits grow from ``base_delay`` and never exceed ``max_delay``.

    The values come from the job's settings (``extract_job.settings``), which hold the defaults.
    """

    max_attempts: int
    base_delay: float
    max_delay: float
    max_retry_after: float

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based).

        The server's ``Retry-After`` wins (capped at ``max_retry_after``); otherwise
        "equal jitter": half the exponential step plus a random share of the other half,
        so parallel workers do not retry in lockstep.
        """
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        step = min(self.max_delay, self.base_delay * 2.0 ** min(attempt - 1, 64))  # a float overflows past ~2**1023
        return step / 2 + rng.uniform(0, step / 2)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from now: either delay-seconds or an HTTP date. None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # str.isdigit alone takes "²", which float() refuses
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = now or datetime.now(timezone.utc)
    return max(0.0, (when - current).total_seconds())
