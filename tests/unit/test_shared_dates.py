"""``shared.dates``: strict dates, ranges, the DATE variable and the UTC default."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from shared.dates import date_range, parse_date, select_dates, started_before_day_ended, yesterday_utc
from shared.errors import ConfigError

D = date


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2026-11-24", D(2026, 11, 24), id="plain"),
        pytest.param("2024-02-29", D(2024, 2, 29), id="leap-day"),
        pytest.param("0001-01-01", D(1, 1, 1), id="first-date"),
        pytest.param("9999-12-31", D(9999, 12, 31), id="last-date"),
    ],
)
def test_parse_date_accepts_real_dates(text: str, expected: date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param("2023-02-29", "day is out of range", id="not-a-leap-year"),
        pytest.param("2026-02-30", "day is out of range", id="february-30"),
        pytest.param("2026-04-31", "day is out of range", id="april-31"),
        pytest.param("2026-13-01", "month must be in 1..12", id="month-13"),
        pytest.param("2026-00-10", "month must be in 1..12", id="month-0"),
        pytest.param("0000-01-01", "year 0 is out of range", id="year-0"),
    ],
)
def test_parse_date_rejects_impossible_dates(text: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=f"invalid date '{text}': {reason}"):
        parse_date(text)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("20261124", id="basic-format"),
        pytest.param("2026-W48-2", id="week-date"),
        pytest.param("2026-11-24T00:00", id="datetime"),
        pytest.param("2026-11-24 ", id="trailing-blank"),
        pytest.param(" 2026-11-24", id="leading-blank"),
        pytest.param("2026-11-24\n", id="trailing-newline"),
        pytest.param("26-11-24", id="two-digit-year"),
        pytest.param("2026-1-24", id="one-digit-month"),
        pytest.param("2026/11/24", id="slashes"),
        pytest.param("../../etc", id="path-traversal"),
        pytest.param("２０２６-１１-２４", id="fullwidth-digits"),
        pytest.param("٢٠٢٦-١١-٢٤", id="arabic-indic-digits"),
        pytest.param("yesterday", id="word"),
    ],
)
def test_parse_date_is_strict(text: str) -> None:
    with pytest.raises(ConfigError, match="expected YYYY-MM-DD"):
        parse_date(text)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        pytest.param(D(2026, 11, 24), D(2026, 11, 24), [D(2026, 11, 24)], id="single-day"),
        pytest.param(
            D(2024, 2, 27),
            D(2024, 3, 1),
            [D(2024, 2, 27), D(2024, 2, 28), D(2024, 2, 29), D(2024, 3, 1)],
            id="over-a-leap-day",
        ),
        pytest.param(D(2025, 12, 31), D(2026, 1, 1), [D(2025, 12, 31), D(2026, 1, 1)], id="over-new-year"),
    ],
)
def test_date_range_is_inclusive(start: date, end: date, expected: list[date]) -> None:
    assert date_range(start, end) == expected


def test_date_range_of_a_year() -> None:
    days = date_range(D(2024, 1, 1), D(2024, 12, 31))
    assert len(days) == 366 and len(set(days)) == 366


@pytest.mark.parametrize(
    ("start", "end"),
    [(D(9999, 12, 30), D(9999, 12, 31)), (D(9999, 12, 31), D(9999, 12, 31)), (D(1, 1, 1), D(1, 1, 2))],
    ids=["ends-on-the-last-date", "only-the-last-date", "starts-on-the-first-date"],
)
def test_ranges_at_the_edges_of_the_calendar(start: date, end: date) -> None:
    days = date_range(start, end)
    assert days[0] == start and days[-1] == end and len(days) == (end - start).days + 1


def test_backwards_range_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"the range ends \(2026-11-01\) before it starts \(2026-11-02\)"):
        date_range(D(2026, 11, 2), D(2026, 11, 1))


NOW = datetime(2026, 11, 25, 0, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        pytest.param(datetime(2026, 11, 25, 0, 30, tzinfo=timezone.utc), D(2026, 11, 24), id="just-after-midnight"),
        pytest.param(datetime(2026, 11, 25, 23, 59, tzinfo=timezone.utc), D(2026, 11, 24), id="late-evening"),
        pytest.param(
            datetime(2026, 11, 25, 1, 0, tzinfo=timezone(timedelta(hours=2))),
            D(2026, 11, 23),
            id="local-time-ahead-of-utc",
        ),
        pytest.param(
            datetime(2026, 11, 24, 22, 0, tzinfo=timezone(timedelta(hours=-5))),
            D(2026, 11, 24),
            id="local-time-behind-utc",
        ),
        pytest.param(datetime(2026, 1, 1, 0, 0, tzinfo=timezone.utc), D(2025, 12, 31), id="new-year"),
        pytest.param(datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc), D(2024, 2, 29), id="after-leap-day"),
    ],
)
def test_yesterday_utc(now: datetime, expected: date) -> None:
    assert yesterday_utc(now) == expected


def test_yesterday_utc_defaults_to_the_clock() -> None:
    assert yesterday_utc() == datetime.now(timezone.utc).date() - timedelta(days=1)


@pytest.mark.parametrize(
    ("single", "start", "end", "env", "expected"),
    [
        pytest.param("2026-11-20", None, None, {}, [D(2026, 11, 20)], id="date-flag"),
        pytest.param("2026-11-20", None, None, {"DATE": "2020-01-01"}, [D(2026, 11, 20)], id="date-flag-beats-env"),
        pytest.param(
            None,
            "2026-11-20",
            "2026-11-22",
            {},
            [D(2026, 11, 20), D(2026, 11, 21), D(2026, 11, 22)],
            id="start-end-flags",
        ),
        pytest.param(
            None,
            "2026-11-20",
            "2026-11-21",
            {"DATE": "2020-01-01"},
            [D(2026, 11, 20), D(2026, 11, 21)],
            id="range-flags-beat-env",
        ),
        pytest.param(None, None, None, {"DATE": "2026-11-01"}, [D(2026, 11, 1)], id="env-date"),
        pytest.param(None, None, None, {"DATE": " 2026-11-01\n"}, [D(2026, 11, 1)], id="env-date-with-blanks"),
        pytest.param(
            None,
            None,
            None,
            {"DATE": "2026-10-30..2026-11-01"},
            [D(2026, 10, 30), D(2026, 10, 31), D(2026, 11, 1)],
            id="env-range",
        ),
        pytest.param(
            None,
            None,
            None,
            {"DATE": "2026-10-30 .. 2026-10-31"},
            [D(2026, 10, 30), D(2026, 10, 31)],
            id="env-range-with-blanks",
        ),
        pytest.param(None, None, None, {"DATE": "2026-10-30..2026-10-30"}, [D(2026, 10, 30)], id="env-range-one-day"),
        pytest.param(None, None, None, {}, [D(2026, 11, 24)], id="default-yesterday-utc"),
        pytest.param("2026-11-25", None, None, {}, [D(2026, 11, 25)], id="today-utc-is-allowed"),
        pytest.param(None, "2026-11-24", "2026-11-25", {}, [D(2026, 11, 24), D(2026, 11, 25)], id="range-up-to-today"),
        pytest.param(None, None, None, {"DATE": "  "}, [D(2026, 11, 24)], id="blank-env-is-default"),
    ],
)
def test_select_dates(
    single: str | None, start: str | None, end: str | None, env: dict[str, str], expected: list[date]
) -> None:
    assert select_dates(single, start, end, env, now=NOW) == expected


@pytest.mark.parametrize(
    ("single", "start", "end", "env", "message"),
    [
        pytest.param("2026-11-20", "2026-11-20", None, {}, "either --date or --start/--end", id="date-and-start"),
        pytest.param("2026-11-20", None, "2026-11-20", {}, "either --date or --start/--end", id="date-and-end"),
        pytest.param(None, "2026-11-20", None, {}, "--start and --end go together", id="start-alone"),
        pytest.param(None, None, "2026-11-20", {}, "--start and --end go together", id="end-alone"),
        pytest.param(None, "2026-11-22", "2026-11-20", {}, "before it starts", id="backwards-flags"),
        pytest.param("2026-02-30", None, None, {}, "invalid date '2026-02-30'", id="impossible-date-flag"),
        pytest.param(None, None, None, {"DATE": "2026-11-31"}, "invalid date '2026-11-31'", id="impossible-env"),
        pytest.param(None, None, None, {"DATE": "2026-11-02..2026-11-01"}, "before it starts", id="backwards-env"),
        pytest.param(None, None, None, {"DATE": "2026-11-01.."}, "invalid date ''", id="env-range-open-end"),
        pytest.param(None, None, None, {"DATE": "..2026-11-01"}, "invalid date ''", id="env-range-open-start"),
        pytest.param(
            None, None, None, {"DATE": "2026-11-01..2026-11-02..2026-11-03"}, "invalid date", id="env-three-parts"
        ),
        pytest.param(None, None, None, {"DATE": "2026-11-01,2026-11-02"}, "invalid date", id="env-list"),
        pytest.param(
            "2026-11-26", None, None, {}, r"^2026-11-26 is after today \(2026-11-25, UTC\)", id="tomorrow-flag"
        ),
        pytest.param("3000-01-01", None, None, {}, "^3000-01-01 is after today", id="far-future-flag"),
        pytest.param(
            None,
            "2026-11-24",
            "2026-11-28",
            {},
            r"^the range 2026-11-24..2026-11-28 reaches 2026-11-26, after today \(2026-11-25, UTC\)",
            id="range-into-the-future",
        ),
        pytest.param(None, None, None, {"DATE": "2026-11-26"}, "^2026-11-26 is after today", id="future-env"),
        pytest.param(None, None, None, {"DATE": "2026-11-20..2026-11-30"}, "reaches 2026-11-26", id="future-env-range"),
    ],
)
def test_select_dates_errors(
    single: str | None, start: str | None, end: str | None, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        select_dates(single, start, end, env, now=NOW)


def test_recorded_dates_are_taken_as_they_are() -> None:
    # Only dates an operator gives are refused: the record names what extract wrote, whatever its clock said.
    assert select_dates(None, None, None, {}, now=NOW, recorded=lambda: [D(2026, 11, 26)]) == [D(2026, 11, 26)]
    assert select_dates(None, None, None, {}, now=NOW, recorded=lambda: []) == []


@pytest.mark.parametrize(
    ("started", "before"),
    [
        pytest.param(datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc), True, id="during-the-day"),
        pytest.param(datetime(2026, 11, 24, 23, 59, 59, 999000, tzinfo=timezone.utc), True, id="last-millisecond"),
        pytest.param(datetime(2026, 11, 25, 0, 0, tzinfo=timezone.utc), False, id="at-midnight-after"),
        pytest.param(datetime(2026, 11, 25, 1, 0, tzinfo=timezone(timedelta(hours=2))), True, id="other-zone"),
        pytest.param(datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc), True, id="the-day-before"),
    ],
)
def test_started_before_day_ended(started: datetime, before: bool) -> None:
    assert started_before_day_ended(started, D(2026, 11, 24)) is before
