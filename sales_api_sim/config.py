"""Knobs of the sales API simulator.

One frozen dataclass holds every knob so a configuration can be hashed (the
page cache keys on it), shared across handler threads without locking, and
built the same way from tests and from the command line.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

Fault = Literal["reset", "truncate", "html", "slow"]
RetryAfterFormat = Literal["seconds", "http-date"]

FAULTS: tuple[str, ...] = get_args(Fault)
RETRY_AFTER_FORMATS: tuple[str, ...] = get_args(RetryAfterFormat)

DEFAULT_TOKEN = "dev-token"


@dataclass(frozen=True)
class SimulatorConfig:
    """Behaviour of one simulator instance; every field has a usable default.

    Per-page knobs (``fail_first``, ``fault_first``) count the requests that
    reached a given (date, page): requests rejected earlier with 401, 400 or
    429 do not use them up.
    """

    seed: int = 42
    token: str = DEFAULT_TOKEN
    records_per_page: int = 100
    pages: int | None = None
    """Pages per date; None derives 3..12 pages from the seed and the date."""
    no_sales_dates: frozenset[str] = frozenset()
    """ISO dates with no sales at all: page 1 already answers 404."""
    latency: float = 0.0
    """Seconds added to every /sales request."""
    error_rate: float = 0.0
    """Fraction of /sales requests answered with ``error_status`` (seeded RNG)."""
    error_status: int = 503
    fail_first: int = 0
    """The first K requests for each (date, page) answer ``error_status``."""
    rate_limit: int | None = None
    """Maximum /sales requests in any one-second window, across all clients."""
    retry_after: int = 1
    retry_after_format: RetryAfterFormat = "seconds"
    invalid_rate: float = 0.0
    """Fraction of records made invalid (chosen per record, deterministically)."""
    fault: Fault | None = None
    fault_pages: frozenset[int] | None = None
    """Pages the fault applies to; None means every page."""
    fault_first: int | None = None
    """The fault hits only the first K requests per (date, page); None = all."""
    slow_seconds: float = 2.0
    """Delay of the "slow" fault."""
    endless: bool = False
    """Every page of every date exists: the API never answers 404."""
    revoke_after_page: int | None = None
    """Pages greater than this answer 401, as if the token had been revoked."""

    def __post_init__(self) -> None:
        # Coerce collections so callers may pass sets or lists and the config
        # still hashes; object.__setattr__ is the documented way for frozen classes.
        object.__setattr__(self, "no_sales_dates", _iso_dates(self.no_sales_dates))
        if self.fault_pages is not None:
            object.__setattr__(self, "fault_pages", _page_set(self.fault_pages))
        self._validate()

    def _validate(self) -> None:
        _require_int("seed", self.seed)
        if not self.token or not self.token.isascii() or not self.token.isprintable():
            raise ValueError("token must be a non-empty string of printable ASCII characters")
        if self.token != self.token.strip():
            raise ValueError("token must not start or end with whitespace")
        _require_int("records_per_page", self.records_per_page, minimum=1)
        _require_optional_int("pages", self.pages, minimum=0)
        _require_non_negative_seconds("latency", self.latency)
        _require_fraction("error_rate", self.error_rate)
        _require_int("error_status", self.error_status, minimum=400)
        if self.error_status > 599:
            raise ValueError(f"error_status must be an HTTP error status 400..599, got {self.error_status}")
        _require_int("fail_first", self.fail_first, minimum=0)
        _require_optional_int("rate_limit", self.rate_limit, minimum=1)
        _require_int("retry_after", self.retry_after, minimum=0)
        if self.retry_after_format not in RETRY_AFTER_FORMATS:
            raise ValueError(
                f"retry_after_format must be one of {RETRY_AFTER_FORMATS}, got {self.retry_after_format!r}"
            )
        _require_fraction("invalid_rate", self.invalid_rate)
        if self.fault is not None and self.fault not in FAULTS:
            raise ValueError(f"fault must be None or one of {FAULTS}, got {self.fault!r}")
        _require_optional_int("fault_first", self.fault_first, minimum=0)
        _require_non_negative_seconds("slow_seconds", self.slow_seconds)
        if not isinstance(self.endless, bool):
            raise ValueError(f"endless must be a bool, got {self.endless!r}")
        _require_optional_int("revoke_after_page", self.revoke_after_page, minimum=0)

    def non_default_knobs(self) -> dict[str, object]:
        """Knobs that differ from the defaults, the token left out (safe to log)."""
        defaults = SimulatorConfig()
        return {
            field.name: getattr(self, field.name)
            for field in dataclasses.fields(self)
            if field.name != "token" and getattr(self, field.name) != getattr(defaults, field.name)
        }


def _require_int(name: str, value: object, minimum: int | None = None) -> None:
    # bool is an int subclass; True as a page count is always a mistake.
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


def _require_optional_int(name: str, value: object, minimum: int) -> None:
    if value is not None:
        _require_int(name, value, minimum)


def _require_fraction(name: str, value: object) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number between 0 and 1, got {value!r}")


def _require_non_negative_seconds(name: str, value: object) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value!r}")


def _iso_dates(values: Iterable[str | datetime.date]) -> frozenset[str]:
    if isinstance(values, str):
        raise ValueError("no_sales_dates must be a collection of dates, not a single string")
    dates = set()
    for value in values:
        if isinstance(value, datetime.date):
            dates.add(value.isoformat())
        else:
            dates.add(parse_iso_date(value).isoformat())
    return frozenset(dates)


def _page_set(values: Iterable[int]) -> frozenset[int]:
    pages = frozenset(values)
    for page in pages:
        _require_int("fault_pages entry", page, minimum=1)
    return pages


def parse_iso_date(text: object) -> datetime.date:
    """Parse a strict YYYY-MM-DD calendar date.

    ``date.fromisoformat`` alone is too lenient on 3.11 (it takes "20220801"
    and week dates), so the shape is checked first.
    """
    if (
        not isinstance(text, str)
        or len(text) != 10
        or text[4] != "-"
        or text[7] != "-"
        or not (text[:4] + text[5:7] + text[8:]).isascii()
        or not (text[:4] + text[5:7] + text[8:]).isdigit()
    ):
        raise ValueError(f"{text!r} is not a date in YYYY-MM-DD format")
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a real calendar date") from None
