"""Extract contenders against the simulator: the project's job at each concurrency, and the baseline.

Both scenarios (one date, a backfill of several dates) hit one simulator
process serving every date with the same number of pages, so pages per second
and the latency floor are directly comparable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from bench.harness import (
    BenchError,
    Sample,
    child_env,
    interleave,
    median_sample,
    run_probe,
    scratch_dir,
    simulator,
    spread,
)
from bench.profiles import FIRST_DATE, ExtractPlan, Profile
from sales_api_sim.config import DEFAULT_TOKEN
from shared.manifest import read_manifest
from shared.zones import RAW, partition_dir

BASELINE = "baseline"
KIB_PER_MIB = 1024


@dataclass(frozen=True)
class ExtractRow:
    """Medians of one contender in one scenario."""

    scenario: str
    contender: str
    concurrency: int
    dates: int
    pages: int
    floor_s: float
    wall_s: float
    run_s: float
    run_spread: float
    cpu_s: float
    floor_ratio: float
    pages_per_s: float
    peak_rss_mib: float
    runs: int


def latency_floor(pages: int, concurrency: int, latency: float, dates: int = 1) -> float:
    """Least time the pages can take: rounds of ``concurrency`` requests, plus the 404 that ends each date."""
    return dates * (math.ceil(pages / concurrency) + 1) * latency


def contender_label(concurrency: int) -> str:
    return f"extract_job c={concurrency}"


def _dates(count: int) -> list[date]:
    first = date.fromisoformat(FIRST_DATE)
    return [first + timedelta(days=n) for n in range(count)]


class ExtractScenario:
    """One scenario's contenders, each run in a fresh folder and checked before its time counts."""

    def __init__(self, plan: ExtractPlan, url: str, scratch: Path, dates: int) -> None:
        self.plan = plan
        self.url = f"{url}/sales"
        self.scratch = scratch
        self.days = _dates(dates)
        self.labels = [BASELINE, *(contender_label(c) for c in plan.concurrencies)]
        self._concurrency = {contender_label(c): c for c in plan.concurrencies}

    def run(self, label: str) -> Sample:
        with scratch_dir(self.scratch, "extract") as work:
            data = work / "data"
            first, last = self.days[0].isoformat(), self.days[-1].isoformat()
            if label == BASELINE:
                sample = run_probe(
                    "bench.baseline_extract:main",
                    ["--url", self.url, "--out", str(data), "--start", first, "--end", last],
                    work,
                    child_env({"AUTH_TOKEN": DEFAULT_TOKEN}),
                )
                self._check_baseline(data)
            else:
                env = child_env({"BASE_DIR": str(data), "SALES_API_URL": self.url, "AUTH_TOKEN": DEFAULT_TOKEN})
                sample = run_probe(
                    "extract_job.cli:main",
                    [
                        "--start",
                        first,
                        "--end",
                        last,
                        "--concurrency",
                        str(self._concurrency[label]),
                        "--log-level",
                        "WARNING",
                    ],
                    work,
                    env,
                )
                self._check_partitions(data)
            return sample

    def _check_baseline(self, data: Path) -> None:
        for day in self.days:
            found = len(list((data / day.isoformat()).glob("*.json")))
            if found != self.plan.pages:
                raise BenchError(f"baseline extract wrote {found} pages for {day}, expected {self.plan.pages}")

    def _check_partitions(self, data: Path) -> None:
        for day in self.days:
            manifest = read_manifest(partition_dir(data, RAW, day))
            expected = (self.plan.pages, self.plan.pages * self.plan.records_per_page)
            if (manifest["pages"], manifest["records"]) != expected:
                raise BenchError(
                    f"extract_job wrote {manifest['pages']} pages, {manifest['records']} records "
                    f"for {day}, expected {expected}"
                )

    def row(self, scenario: str, label: str, samples: list[Sample]) -> ExtractRow:
        concurrency = self._concurrency.get(label, 1)
        med = median_sample(samples)
        pages = self.plan.pages * len(self.days)
        floor = latency_floor(self.plan.pages, concurrency, self.plan.latency, len(self.days))
        return ExtractRow(
            scenario=scenario,
            contender=label,
            concurrency=concurrency,
            dates=len(self.days),
            pages=pages,
            floor_s=floor,
            wall_s=med.wall_s,
            run_s=med.run_s,
            run_spread=spread([x.run_s for x in samples]),
            cpu_s=med.cpu_s,
            floor_ratio=med.run_s / floor,
            pages_per_s=pages / med.run_s,
            peak_rss_mib=med.maxrss_kib / KIB_PER_MIB,
            runs=len(samples),
        )


def run_extract(profile: Profile, scratch: Path) -> list[ExtractRow]:
    """Every extract contender in both scenarios; rows in label order."""
    plan = profile.extract
    knobs = {"latency": plan.latency, "pages": plan.pages, "records_per_page": plan.records_per_page}
    rows: list[ExtractRow] = []
    with simulator(knobs, scratch / "simulator") as url:
        scenarios = (
            ("one date", 1, plan.one_date_reps),
            (f"backfill {plan.backfill_dates} dates", plan.backfill_dates, profile.reps),
        )
        for scenario, dates, reps in scenarios:
            bench = ExtractScenario(plan, url, scratch, dates)
            bench.run(contender_label(max(plan.concurrencies)))  # warm-up: disk caches, simulator page cache
            samples = interleave(bench.labels, reps, bench.run, f"extract {scenario}")
            rows += [bench.row(scenario, label, samples[label]) for label in bench.labels]
    return rows
