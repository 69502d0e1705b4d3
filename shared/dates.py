"""Date parsing and ranges.

Dates are accepted only as real ``YYYY-MM-DD`` calendar dates: they become
partition folder names, so anything looser could steer a path elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, time, timedelta, timezone

from shared.errors import ConfigError

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # ASCII digits only, unlike \d


def strict_date(text: object) -> date:
    """A real ``YYYY-MM-DD`` calendar date, or ``ValueError`` saying why.

    ``date.fromisoformat`` alone is too lenient on 3.11 (it takes "20220801" and
    week dates), so the shape is checked first. The one strict date check of the
    project: the jobs, the validation of records and the simulator use it.
    """
    if not isinstance(text, str) or not _ISO_DATE.fullmatch(text):
        raise ValueError(f"invalid date {text!r}: expected YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"invalid date {text!r}: {exc}") from None


def parse_date(text: str) -> date:
    """Parse a strict ``YYYY-MM-DD`` date or raise ``ConfigError`` saying why."""
    try:
        return strict_date(text)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def date_range(start: date, end: date) -> list[date]:
    """Every date from ``start`` to ``end``, both included."""
    if end < start:
        raise ConfigError(f"the range ends ({end}) before it starts ({start})")
    return list(_days(start, end))


def _days(start: date, end: date) -> Iterator[date]:
    day = start
    while day <= end:
        yield day
        if day == date.max:  # 9999-12-31 has no next day: date + 1 day would overflow
            return
        day += timedelta(days=1)


Clock = Callable[[], datetime]
"""Where "now" comes from: ``system_clock`` in the jobs, a fixed time in tests."""


def system_clock() -> datetime:
    return datetime.now(timezone.utc)


def yesterday_utc(now: datetime | None = None) -> date:
    """The default business date: yesterday in UTC, so a nightly run fetches a closed day."""
    current = now or datetime.now(timezone.utc)
    return current.astimezone(timezone.utc).date() - timedelta(days=1)


def select_dates(
    single: str | None,
    start: str | None,
    end: str | None,
    env: Mapping[str, str],
    now: datetime,
    recorded: Callable[[], list[date] | None] | None = None,
) -> list[date]:
    """Resolve the dates to process: ``--date``, or ``--start``/``--end``, or env ``DATE``, or
    the dates ``recorded`` returns (convert: those extract last wrote), or yesterday (UTC).

    ``DATE`` may also hold a range as ``START..END`` so a compose ``.env`` can backfill.
    A date given after today (UTC, at ``now``) is refused (``refuse_future``).
    """
    given = _given_dates(single, start, end, env)
    if given is not None:
        refuse_future(given, now)
        return given
    days = recorded() if recorded else None
    return days if days is not None else [yesterday_utc(now)]


def _given_dates(single: str | None, start: str | None, end: str | None, env: Mapping[str, str]) -> list[date] | None:
    """The dates named by a flag or by ``DATE``; None when none is."""
    if single and (start or end):
        raise ConfigError("give either --date or --start/--end, not both")
    if single:
        return [parse_date(single)]
    if start or end:
        if not (start and end):
            raise ConfigError("--start and --end go together")
        return date_range(parse_date(start), parse_date(end))
    from_env = env.get("DATE", "").strip()
    if not from_env:
        return None
    if ".." in from_env:
        first, _, last = from_env.partition("..")
        return date_range(parse_date(first.strip()), parse_date(last.strip()))
    return [parse_date(from_env)]


def refuse_future(days: list[date], now: datetime) -> None:
    """``ConfigError`` when a date of ``days`` (in order) is after today, UTC: its sales cannot exist yet.

    Today is allowed (an intraday pull); a partition of today is not final
    (``started_before_day_ended``).
    """
    today = now.astimezone(timezone.utc).date()
    if not days or days[-1] <= today:
        return
    future = next(day for day in days if day > today)
    if len(days) == 1:
        raise ConfigError(f"{future} is after today ({today}, UTC): it has no sales yet")
    raise ConfigError(
        f"the range {days[0]}..{days[-1]} reaches {future}, after today ({today}, UTC): it has no sales yet"
    )


def end_of_day(day: date) -> datetime:
    """The moment ``day`` ends in UTC: midnight at the start of the next day."""
    return datetime.combine(day, time.min, timezone.utc) + timedelta(days=1)


def started_before_day_ended(started_at: datetime, day: date) -> bool:
    """Whether a run that started at ``started_at`` may have missed sales of ``day`` still to come."""
    return started_at < end_of_day(day)
