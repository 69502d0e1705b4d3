"""How big each benchmark run is: the full run, a quicker look, and a smoke run for tests.

The sizes live in one place so the report can print exactly what was measured.
"""

from __future__ import annotations

from dataclasses import dataclass

FIRST_DATE = "2024-01-01"


@dataclass(frozen=True)
class ExtractPlan:
    """Simulator knobs and extract contenders."""

    one_date_reps: int  # more than the profile's reps: these runs are short, so noise weighs more
    latency: float
    records_per_page: int
    pages: int
    backfill_dates: int
    concurrencies: tuple[int, ...]


@dataclass(frozen=True)
class ConvertPlan:
    """Input sizes for the convert contenders (records are split into pages as extract would).

    The set of several dates uses pages of ``set_records_per_page``; the one-date
    sweep runs every size at every page size of ``sweep_page_sizes``.
    """

    set_dates: int
    set_records: int
    set_records_per_page: int
    sweep_records: tuple[int, ...]
    sweep_page_sizes: tuple[int, ...]


@dataclass(frozen=True)
class Profile:
    name: str
    reps: int
    extract: ExtractPlan
    convert: ConvertPlan


PROFILES: dict[str, Profile] = {
    "full": Profile(
        name="full",
        reps=3,
        extract=ExtractPlan(
            one_date_reps=5,
            latency=0.05,
            records_per_page=100,
            pages=60,
            backfill_dates=10,
            concurrencies=(1, 4, 8, 16),
        ),
        convert=ConvertPlan(
            set_dates=10,
            set_records=100_000,
            set_records_per_page=1000,
            sweep_records=(10_000, 100_000, 1_000_000),
            sweep_page_sizes=(100, 1000),
        ),
    ),
    "quick": Profile(
        name="quick",
        reps=1,
        extract=ExtractPlan(
            one_date_reps=2, latency=0.05, records_per_page=100, pages=60, backfill_dates=3, concurrencies=(1, 4, 8, 16)
        ),
        convert=ConvertPlan(
            set_dates=4,
            set_records=100_000,
            set_records_per_page=1000,
            sweep_records=(10_000, 100_000),
            sweep_page_sizes=(100, 1000),
        ),
    ),
    "smoke": Profile(
        name="smoke",
        reps=1,
        extract=ExtractPlan(
            one_date_reps=1, latency=0.01, records_per_page=100, pages=3, backfill_dates=2, concurrencies=(1, 4, 8, 16)
        ),
        convert=ConvertPlan(
            set_dates=2,
            set_records=1_000,
            set_records_per_page=100,
            sweep_records=(500, 1_000),
            sweep_page_sizes=(100, 500),
        ),
    ),
}
