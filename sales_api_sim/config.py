"""Knobs of the sales API simulator, declared once (see ``shared.settings``).

One frozen dataclass holds every knob so a configuration can be hashed (the
page cache keys on it), shared across handler threads without locking, and
built the same way from tests and from the command line: each field carries
its env name, flag, default, parser, check and help.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from shared.dates import strict_date
from shared.settings import Choice, CommaSet, Integer, Invalid, Kind, Number, Switch, Text, check_values, setting

Fault = Literal["reset", "truncate", "html", "slow"]
RetryAfterFormat = Literal["seconds", "http-date"]

FAULTS: tuple[str, ...] = get_args(Fault)
RETRY_AFTER_FORMATS: tuple[str, ...] = get_args(RetryAfterFormat)

DEFAULT_TOKEN = "dev-token"
BEHAVIOUR = "behaviour"


class TokenKind(Text):
    """The whole ``Authorization`` value: printable ASCII, no surrounding whitespace."""

    def check(self, value: object) -> str:
        token = super().check(value)
        if not token.isascii() or not token.isprintable() or token != token.strip():
            raise Invalid("must be printable ASCII without surrounding whitespace")
        return token


class IsoDate(Kind[str]):
    description = "YYYY-MM-DD date"

    def check(self, value: object) -> str:
        try:
            return strict_date(value).isoformat()
        except ValueError as exc:
            raise Invalid(str(exc)) from None


@dataclass(frozen=True)
class SimulatorConfig:
    """Behaviour of one simulator instance; every field has a usable default.

    Per-page knobs (``fail_first``, ``fault_first``) count the requests that
    reached a given (date, page): requests rejected earlier with 401, 400 or
    429 do not use them up.
    """

    seed: int = setting(
        env="SIM_SEED",
        flag="--seed",
        default=42,
        kind=Integer(),
        group=BEHAVIOUR,
        help="seed of all generated data and random errors",
    )
    token: str = setting(
        env="SIM_TOKEN",
        flag="--token",
        default=DEFAULT_TOKEN,
        kind=TokenKind(),
        secret=True,
        group=BEHAVIOUR,
        default_text=DEFAULT_TOKEN,
        help="token expected as the whole Authorization header value",
    )
    records_per_page: int = setting(
        env="SIM_RECORDS_PER_PAGE",
        flag="--records-per-page",
        default=100,
        kind=Integer(minimum=1),
        metavar="N",
        group=BEHAVIOUR,
        help="records on every page",
    )
    pages: int | None = setting(
        env="SIM_PAGES",
        flag="--pages",
        default=None,
        kind=Integer(minimum=0),
        metavar="N",
        group=BEHAVIOUR,
        help="pages per date; 0 means no date has sales; unset derives 3..12 from seed and date",
    )
    no_sales_dates: frozenset[str] = setting(
        env="SIM_NO_SALES_DATES",
        flag="--no-sales-dates",
        default=frozenset(),
        kind=CommaSet(IsoDate()),
        metavar="DATE[,DATE...]",
        group=BEHAVIOUR,
        help="comma-separated dates without sales (page 1 answers 404)",
    )
    latency: float = setting(
        env="SIM_LATENCY",
        flag="--latency",
        default=0.0,
        kind=Number(minimum=0),
        metavar="SECONDS",
        group=BEHAVIOUR,
        help="seconds added to every /sales request",
    )
    error_rate: float = setting(
        env="SIM_ERROR_RATE",
        flag="--error-rate",
        default=0.0,
        kind=Number(minimum=0, maximum=1),
        metavar="FRACTION",
        group=BEHAVIOUR,
        help="fraction of /sales requests answered with --error-status (seeded, so repeatable)",
    )
    error_status: int = setting(
        env="SIM_ERROR_STATUS",
        flag="--error-status",
        default=503,
        kind=Integer(minimum=400, maximum=599, description="HTTP error status 400..599"),
        metavar="STATUS",
        group=BEHAVIOUR,
        help="status of simulated errors",
    )
    fail_first: int = setting(
        env="SIM_FAIL_FIRST",
        flag="--fail-first",
        default=0,
        kind=Integer(minimum=0),
        metavar="K",
        group=BEHAVIOUR,
        help="the first K requests for each (date, page) answer --error-status",
    )
    rate_limit: int | None = setting(
        env="SIM_RATE_LIMIT",
        flag="--rate-limit",
        default=None,
        kind=Integer(minimum=1),
        metavar="N",
        group=BEHAVIOUR,
        help="maximum /sales requests per second across all clients, then 429; unset = no limit",
    )
    max_concurrent: int | None = setting(
        env="SIM_MAX_CONCURRENT",
        flag="--max-concurrent",
        default=None,
        kind=Integer(minimum=1),
        metavar="N",
        group=BEHAVIOUR,
        help="maximum /sales requests in progress at once across all clients, then 429; unset = no limit",
    )
    retry_after: int = setting(
        env="SIM_RETRY_AFTER",
        flag="--retry-after",
        default=1,
        kind=Integer(minimum=0),
        metavar="SECONDS",
        group=BEHAVIOUR,
        help="seconds announced in Retry-After on 429 (rate limit, concurrency limit, --error-status 429)",
    )
    retry_after_format: RetryAfterFormat = setting(
        env="SIM_RETRY_AFTER_FORMAT",
        flag="--retry-after-format",
        default="seconds",
        kind=Choice(RETRY_AFTER_FORMATS),
        group=BEHAVIOUR,
        help="Retry-After as delta seconds or as an HTTP date",
    )
    invalid_rate: float = setting(
        env="SIM_INVALID_RATE",
        flag="--invalid-rate",
        default=0.0,
        kind=Number(minimum=0, maximum=1),
        metavar="FRACTION",
        group=BEHAVIOUR,
        help="fraction of records made invalid (wrong types, missing field, impossible date, ...)",
    )
    fault: Fault | None = setting(
        env="SIM_FAULT",
        flag="--fault",
        default=None,
        kind=Choice(FAULTS),
        group=BEHAVIOUR,
        help="reset: cut the body and close the connection; truncate: 200 with cut JSON; "
        "html: 200 text/html page; slow: wait --slow-seconds first",
    )
    fault_pages: frozenset[int] | None = setting(
        env="SIM_FAULT_PAGES",
        flag="--fault-pages",
        default=None,
        kind=CommaSet(Integer(minimum=1)),
        metavar="PAGE[,PAGE...]",
        group=BEHAVIOUR,
        help="comma-separated pages the fault hits; unset = every page",
    )
    fault_first: int | None = setting(
        env="SIM_FAULT_FIRST",
        flag="--fault-first",
        default=None,
        kind=Integer(minimum=0),
        metavar="K",
        group=BEHAVIOUR,
        help="the fault hits only the first K requests per (date, page); unset = all",
    )
    slow_seconds: float = setting(
        env="SIM_SLOW_SECONDS",
        flag="--slow-seconds",
        default=2.0,
        kind=Number(minimum=0),
        metavar="SECONDS",
        group=BEHAVIOUR,
        help="delay of the slow fault",
    )
    endless: bool = setting(
        env="SIM_ENDLESS",
        flag="--endless",
        default=False,
        kind=Switch(),
        group=BEHAVIOUR,
        help="every page exists, never answer 404 past the last page",
    )
    revoke_after_page: int | None = setting(
        env="SIM_REVOKE_AFTER_PAGE",
        flag="--revoke-after-page",
        default=None,
        kind=Integer(minimum=0),
        metavar="PAGE",
        group=BEHAVIOUR,
        help="pages greater than this answer 401, as if the token were revoked mid-run",
    )

    def __post_init__(self) -> None:
        # Coerce collections so callers may pass sets, lists or dates and the config still
        # hashes; object.__setattr__ is the documented way for frozen classes.
        object.__setattr__(self, "no_sales_dates", _iso_dates(self.no_sales_dates))
        if self.fault_pages is not None:
            object.__setattr__(self, "fault_pages", _frozen(self.fault_pages))
        check_values(self)

    def non_default_knobs(self) -> dict[str, object]:
        """Knobs that differ from the defaults, the token left out (safe to log)."""
        defaults = SimulatorConfig()
        return {
            field.name: getattr(self, field.name)
            for field in dataclasses.fields(self)
            if field.name != "token" and getattr(self, field.name) != getattr(defaults, field.name)
        }


def _iso_dates(values: Iterable[str | datetime.date]) -> object:
    if isinstance(values, str) or not isinstance(values, Iterable):
        return values  # refused by the check, with the field's name
    return frozenset(value.isoformat() if isinstance(value, datetime.date) else value for value in values)


def _frozen(values: Iterable[int]) -> object:
    return frozenset(values) if isinstance(values, Iterable) else values
