"""``extract_job.retry``: Retry-After parsing and the backoff policy."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from extract_job.retry import RetryPolicy, parse_retry_after
from extract_job.settings import ExtractSettings
from shared.settings import resolve

NOW = datetime(2026, 11, 25, 18, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, None, id="absent"),
        pytest.param("", None, id="empty"),
        pytest.param("0", 0.0, id="zero-seconds"),
        pytest.param("120", 120.0, id="seconds"),
        pytest.param("  5 ", 5.0, id="seconds-with-blanks"),
        pytest.param("Wed, 25 Nov 2026 18:00:30 GMT", 30.0, id="http-date-30s-ahead"),
        pytest.param("Wed, 25 Nov 2026 19:00:00 +0100", 0.0, id="http-date-with-offset-is-now"),
        pytest.param("Wed, 25 Nov 2026 18:00:30 -0000", 30.0, id="http-date-unknown-zone-read-as-utc"),
        pytest.param("Wed, 25 Nov 2026 17:59:00 GMT", 0.0, id="http-date-in-the-past-is-zero"),
        pytest.param("Sun, 06 Nov 1994 08:49:37 GMT", 0.0, id="rfc-example-date-long-past"),
        pytest.param("soon", None, id="garbage-word"),
        pytest.param("-5", None, id="negative-seconds"),
        pytest.param("1.5", None, id="fractional-seconds"),
        pytest.param("1e3", None, id="exponent"),
        pytest.param("Wed, 32 Nov 2026 18:00:00 GMT", None, id="impossible-date"),
        pytest.param("Wed, 25 Nov 99999 18:00:00 GMT", None, id="year-out-of-range"),
        pytest.param("\u00b2", None, id="latin1-superscript-digit"),
        pytest.param("1\u00b9", None, id="digit-then-superscript"),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


def test_parse_retry_after_defaults_to_the_real_clock() -> None:
    later = datetime.now(timezone.utc) + timedelta(seconds=100)
    seconds = parse_retry_after(later.strftime("%a, %d %b %Y %H:%M:%S GMT"))
    assert seconds is not None and 95 <= seconds <= 100


POLICY = RetryPolicy(max_attempts=5, base_delay=0.5, max_delay=4.0, max_retry_after=60.0)


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [
        pytest.param(1, 0.25, 0.5, id="attempt-1-half-to-full-base"),
        pytest.param(2, 0.5, 1.0, id="attempt-2-doubles"),
        pytest.param(3, 1.0, 2.0, id="attempt-3-doubles-again"),
        pytest.param(4, 2.0, 4.0, id="attempt-4-reaches-cap"),
        pytest.param(10, 2.0, 4.0, id="attempt-10-capped"),
        pytest.param(5000, 2.0, 4.0, id="huge-attempt-does-not-overflow"),
    ],
)
def test_delay_has_equal_jitter_within_bounds(attempt: int, low: float, high: float) -> None:
    rng = random.Random(1)
    delays = [POLICY.delay(attempt, None, rng) for _ in range(300)]
    assert all(low <= d <= high for d in delays)
    assert max(delays) - min(delays) > (high - low) / 2, "the jitter should spread the waits"


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        pytest.param(0.0, 0.0, id="zero"),
        pytest.param(7.0, 7.0, id="honoured-exactly"),
        pytest.param(25.0, 25.0, id="above-max-delay-still-honoured"),
        pytest.param(3600.0, 60.0, id="capped-at-max-retry-after"),
        pytest.param(-3.0, 0.0, id="negative-is-zero"),
    ],
)
def test_retry_after_wins_over_backoff(retry_after: float, expected: float) -> None:
    for attempt in (1, 3, 9):
        assert POLICY.delay(attempt, retry_after, random.Random(0)) == expected


def test_the_default_settings_are_bounded() -> None:
    defaults = resolve(ExtractSettings, None, {"SALES_API_URL": "http://127.0.0.1:1/sales", "AUTH_TOKEN": "test-token"})
    policy = RetryPolicy(defaults.max_attempts, defaults.backoff, defaults.max_backoff, defaults.max_retry_after)
    assert policy.max_attempts == 5
    assert policy.delay(100, None, random.Random(0)) <= policy.max_delay
    assert policy.delay(1, 10**9, random.Random(0)) == policy.max_retry_after
