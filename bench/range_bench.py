"""``python -m bench.range_bench``: extract over ranges of dates and behind a rate limit, against its floors.

Scenarios (issue 14), each at the concurrencies named:

* backfill: 30 ordinary dates (3..12 pages each, as the simulator derives them), 50 ms latency, c=4 and c=16;
  floor: the pool never idle, ceil((pages + dates) / c) x latency; requests against the pages plus one
  end-of-pages answer per date;
* rate limit: one date of 300 pages behind the simulator's limit of 20 requests/s, c=4 and c=16;
  floor: 300 / 20 = 15 s; share of 429 answers;
* one date of 60 pages at c=16: floor (ceil(pages / c) + 1) x latency, and the client's CPU per request;
* a year: 365 dates at c=16 (``--year``; long on the old revision), time and requests against the floor,
  peak RSS beside a 10-date run.

The simulator serves in this process (its counters are read directly: requests
and 429s per run); every measured run is a fresh process (``bench.probe``).
``--against REV`` runs REV's extract beside the working tree's, interleaved.
Targets are reported, never enforced.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from bench.harness import BenchError, Sample, child_env, interleave, median_sample, note, run_probe, scratch_dir
from bench.revision import WORKING_TREE, Tree, checked_out
from sales_api_sim import data
from sales_api_sim.config import DEFAULT_TOKEN, SimulatorConfig
from sales_api_sim.server import RunningSimulator, running
from shared.manifest import read_manifest
from shared.zones import RAW, partition_dir

FIRST = date(2024, 1, 1)
LATENCY = 0.05
RECORDS = 20


@dataclass(frozen=True)
class Scenario:
    name: str
    dates: int
    concurrency: int
    knobs: dict[str, object]
    floor_s: float
    pages: int
    needed: int  # pages + one end-of-pages answer per date


@dataclass(frozen=True)
class Row:
    scenario: str
    contender: str
    wall_s: float
    run_s: float
    floor_ratio: float
    requests: int
    needed: int
    throttled: int
    cpu_ms_per_request: float
    peak_rss_mib: float
    runs: int


def _days(count: int) -> list[date]:
    return [FIRST + timedelta(days=n) for n in range(count)]


def _pages(config: SimulatorConfig, days: Sequence[date]) -> int:
    return sum(data.pages_for_date(config, day.isoformat()) for day in days)


def backfill(dates: int, concurrency: int, name: str = "backfill") -> Scenario:
    knobs: dict[str, object] = {"latency": LATENCY, "records_per_page": RECORDS}
    pages = _pages(SimulatorConfig(**knobs), _days(dates))  # type: ignore[arg-type]
    floor = math.ceil((pages + dates) / concurrency) * LATENCY
    return Scenario(f"{name} {dates} dates c={concurrency}", dates, concurrency, knobs, floor, pages, pages + dates)


def rate_limited(concurrency: int, pages: int = 300, limit: int = 20) -> Scenario:
    knobs: dict[str, object] = {"latency": LATENCY, "records_per_page": RECORDS, "pages": pages, "rate_limit": limit}
    return Scenario(
        f"{pages} pages behind {limit} req/s c={concurrency}", 1, concurrency, knobs, pages / limit, pages, pages + 1
    )


def one_date(pages: int, concurrency: int) -> Scenario:
    knobs: dict[str, object] = {"latency": LATENCY, "records_per_page": RECORDS, "pages": pages}
    floor = (math.ceil(pages / concurrency) + 1) * LATENCY
    return Scenario(f"one date of {pages} pages c={concurrency}", 1, concurrency, knobs, floor, pages, pages + 1)


class Bench:
    def __init__(self, scenario: Scenario, sim: RunningSimulator, scratch: Path, trees: dict[str, Tree]) -> None:
        self.scenario = scenario
        self.sim = sim
        self.scratch = scratch
        self.trees = trees
        self.days = _days(scenario.dates)
        self.counts: dict[str, list[tuple[int, int]]] = {label: [] for label in trees}

    def run(self, label: str) -> Sample:
        with scratch_dir(self.scratch, "range") as work:
            base = work / "data"
            env = child_env(
                {"BASE_DIR": str(base), "SALES_API_URL": f"{self.sim.url}/sales", "AUTH_TOKEN": DEFAULT_TOKEN}
            )
            argv = ["--start", self.days[0].isoformat(), "--end", self.days[-1].isoformat()]
            argv += ["--concurrency", str(self.scenario.concurrency), "--log-level", "WARNING"]
            self.sim.stats.reset()
            sample = run_probe("extract_job.cli:main", argv, work, env, root=self.trees[label].root)
            statuses = self.sim.stats.responses_by_status
            self.counts[label].append((self.sim.stats.requests_total, statuses.get(429, 0)))
            self._check(base)
            return sample

    def _check(self, base: Path) -> None:
        pages = sum(read_manifest(partition_dir(base, RAW, day))["pages"] for day in self.days)
        if pages != self.scenario.pages:
            raise BenchError(f"{self.scenario.name}: {pages} pages extracted, expected {self.scenario.pages}")

    def row(self, label: str, samples: list[Sample]) -> Row:
        med = median_sample(samples)
        requests = sorted(r for r, _ in self.counts[label])[len(samples) // 2]
        throttled = sorted(t for _, t in self.counts[label])[len(samples) // 2]
        return Row(
            scenario=self.scenario.name,
            contender=label,
            wall_s=med.wall_s,
            run_s=med.run_s,
            floor_ratio=med.run_s / self.scenario.floor_s,
            requests=requests,
            needed=self.scenario.needed,
            throttled=throttled,
            cpu_ms_per_request=1000 * med.job_cpu_s / max(requests, 1),
            peak_rss_mib=med.maxrss_kib / 1024,
            runs=len(samples),
        )


def measure(scenarios: Sequence[Scenario], reps: int, trees: dict[str, Tree], scratch: Path) -> list[Row]:
    rows: list[Row] = []
    for scenario in scenarios:
        config = SimulatorConfig(token=DEFAULT_TOKEN, **scenario.knobs)  # type: ignore[arg-type]
        with running(config) as sim:
            bench = Bench(scenario, sim, scratch, trees)
            samples = interleave(list(trees), reps, bench.run, scenario.name)
            rows += [bench.row(label, samples[label]) for label in trees]
    return rows


def render(rows: Sequence[Row], scenarios: Sequence[Scenario]) -> str:
    floors = {s.name: s.floor_s for s in scenarios}
    lines = [
        "| scenario | contender | run s | floor s | x floor | requests | needed | x needed | 429s | "
        "429 share | CPU ms/request | peak RSS MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.scenario} | {r.contender} | {r.run_s:.2f} | {floors[r.scenario]:.2f} | {r.floor_ratio:.2f} | "
            f"{r.requests} | {r.needed} | {r.requests / r.needed:.2f} | {r.throttled} | "
            f"{100 * r.throttled / max(r.requests, 1):.1f}% | {r.cpu_ms_per_request:.2f} | {r.peak_rss_mib:.0f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.range_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--against", metavar="REV", help="also run REV's extract, interleaved")
    parser.add_argument("--reps", type=int, default=3, metavar="N", help="runs of each contender (default 3)")
    parser.add_argument("--year", action="store_true", help="add the 365-date range and its 10-date companion")
    parser.add_argument("--only", metavar="TEXT", help="only the scenarios whose name contains TEXT")
    args = parser.parse_args(argv)
    scenarios = [
        backfill(30, 4),
        backfill(30, 16),
        rate_limited(4),
        rate_limited(16),
        one_date(60, 16),
    ]
    if args.year:
        scenarios += [backfill(10, 16, "range"), backfill(365, 16, "year")]
    if args.only:
        scenarios = [s for s in scenarios if args.only in s.name]
    scratch = Path(tempfile.mkdtemp(prefix="range-bench-"))
    try:
        with contextlib.ExitStack() as stack:
            trees = {"working tree": WORKING_TREE}
            if args.against:
                tree = stack.enter_context(checked_out(args.against, scratch))
                trees[f"revision {tree.suffix[1:]}"] = tree
            rows = measure(scenarios, args.reps, trees, scratch)
    except BenchError as exc:
        print(f"python -m bench.range_bench: error: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(render(rows, scenarios))
    note("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
