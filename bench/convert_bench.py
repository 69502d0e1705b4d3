"""Convert contenders: the project's job per codec, the baseline, and fastavro's encode-only ceiling.

Two scenarios: a set of several dates (where the job spreads dates over its
worker processes) and one date at growing sizes (time should grow linearly,
memory stay flat).
"""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from bench.harness import (
    BenchError,
    Sample,
    child_env,
    interleave,
    median_sample,
    note,
    run_json,
    run_probe,
    scratch_dir,
    spread,
)
from bench.inputs import dataset_root, ensure_partition
from bench.profiles import FIRST_DATE, ConvertPlan, Profile
from shared.manifest import read_manifest
from shared.zones import RAW, STAGING, partition_dir

KIB_PER_MIB = 1024
CODECS = ("deflate", "null")
CEILING_RECORDS = 100_000


@dataclass(frozen=True)
class ConvertRow:
    """Medians of one contender on one input."""

    scenario: str
    contender: str
    codec: str
    workers: int
    dates: int
    records: int
    wall_s: float
    run_s: float
    run_spread: float
    cpu_s: float
    records_per_s: float
    peak_rss_mib: float
    worker_rss_mib: float  # largest worker process; 0 when the job ran in one process
    output_bytes: int
    runs: int


@dataclass(frozen=True)
class CeilingRow:
    """fastavro encoding records already in memory, per core and times the job's worker count."""

    codec: str
    per_core_records_per_s: float
    workers: int
    records_per_s: float
    runs: int


@dataclass(frozen=True)
class Outcome:
    """One checked run: its measurements and the Avro bytes it wrote (the same every run)."""

    sample: Sample
    output_bytes: int


@dataclass(frozen=True)
class Contender:
    """What to run: the project's job or the baseline, with a codec."""

    label: str
    job: str  # "convert_job" or "baseline"
    codec: str


def default_workers(dates: int) -> int:
    """How many processes the job uses for ``dates`` dates: its default (the CPUs it may use), capped by the dates."""
    return max(1, min(len(os.sched_getaffinity(0)), dates))


def _dates(count: int) -> list[date]:
    first = date.fromisoformat(FIRST_DATE)
    return [first + timedelta(days=n) for n in range(count)]


def _avro_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*.avro"))


class ConvertInput:
    """Cached raw partitions of one size, and how to run each contender on them."""

    def __init__(self, cache: Path, scratch: Path, days: list[date], records: int, records_per_page: int) -> None:
        self.root = dataset_root(cache, records, records_per_page)
        self.scratch = scratch
        self.days = days
        self.records = records
        for day in days:
            ensure_partition(self.root, day, records, records_per_page)

    def run(self, contender: Contender) -> Outcome:
        with scratch_dir(self.scratch, "convert") as work:
            if contender.job == "baseline":
                return self._baseline(contender.codec, work)
            return self._project(contender.codec, work)

    def _span(self) -> list[str]:
        return ["--start", self.days[0].isoformat(), "--end", self.days[-1].isoformat()]

    def _project(self, codec: str, work: Path) -> Outcome:
        base = work / "data"
        base.mkdir()
        (base / RAW).symlink_to(self.root / RAW, target_is_directory=True)
        sample = run_probe(
            "convert_job.cli:main",
            [*self._span(), "--codec", codec, "--force", "--log-level", "WARNING"],
            work,
            child_env({"BASE_DIR": str(base)}),
        )
        for day in self.days:
            written = read_manifest(partition_dir(base, STAGING, day)).get("records_written")
            if written != self.records:
                raise BenchError(f"convert_job wrote {written} records for {day}, expected {self.records}")
        return Outcome(sample, _avro_bytes(base / STAGING))

    def _baseline(self, codec: str, work: Path) -> Outcome:
        out = work / "out"
        sample = run_probe(
            "bench.baseline_convert:main",
            [
                "--raw",
                str(partition_dir(self.root, RAW, self.days[0]).parent),
                "--out",
                str(out),
                *self._span(),
                "--codec",
                codec,
            ],
            work,
            child_env(),
        )
        for day in self.days:
            pages = len(list(partition_dir(self.root, RAW, day).glob("*.json")))
            if len(list((out / day.isoformat()).glob("*.avro"))) != pages:
                raise BenchError(f"baseline convert did not write one Avro file per page for {day}")
        return Outcome(sample, _avro_bytes(out))

    def row(self, scenario: str, contender: Contender, outcomes: list[Outcome]) -> ConvertRow:
        med = median_sample([o.sample for o in outcomes])
        records = self.records * len(self.days)
        workers = default_workers(len(self.days)) if contender.job == "convert_job" else 1
        return ConvertRow(
            scenario=scenario,
            contender=contender.label,
            codec=contender.codec,
            workers=workers,
            dates=len(self.days),
            records=records,
            wall_s=med.wall_s,
            run_s=med.run_s,
            run_spread=spread([o.sample.run_s for o in outcomes]),
            cpu_s=med.cpu_s,
            records_per_s=records / med.run_s,
            peak_rss_mib=med.maxrss_kib / KIB_PER_MIB,
            # Without a pool the only children are helpers (ldconfig, started by ctypes.util.find_library).
            worker_rss_mib=med.children_maxrss_kib / KIB_PER_MIB if workers > 1 else 0.0,
            output_bytes=outcomes[-1].output_bytes,
            runs=len(outcomes),
        )


def set_contenders() -> list[Contender]:
    project = [Contender(f"convert_job {codec}", "convert_job", codec) for codec in CODECS]
    baseline = [Contender(f"baseline {codec}", "baseline", codec) for codec in CODECS]
    return [*project, *baseline]


def _short(records: int) -> str:
    """1000000 -> "1M", 100000 -> "100k", 500 -> "500"."""
    for unit, size in (("M", 1_000_000), ("k", 1_000)):
        if records >= size and records % size == 0:
            return f"{records // size}{unit}"
    return str(records)


def run_set(plan: ConvertPlan, reps: int, cache: Path, scratch: Path) -> list[ConvertRow]:
    """The multi-date set: every contender, interleaved."""
    note(f"preparing {plan.set_dates} raw partitions of {plan.set_records} records (cached)")
    data = ConvertInput(cache, scratch, _dates(plan.set_dates), plan.set_records, plan.records_per_page)
    contenders = {c.label: c for c in set_contenders()}
    data.run(contenders["convert_job deflate"])  # warm-up: page cache of the inputs and of the code
    scenario = f"{plan.set_dates} date{'s' if plan.set_dates > 1 else ''} x {_short(plan.set_records)}"
    results = interleave(list(contenders), reps, lambda label: data.run(contenders[label]), f"convert {scenario}")
    return [data.row(scenario, c, results[label]) for label, c in contenders.items()]


def run_sweep(plan: ConvertPlan, reps: int, cache: Path, scratch: Path) -> list[ConvertRow]:
    """One date at each size: the project's default codec and the baseline's, interleaved across sizes."""
    day = _dates(1)
    inputs: dict[str, tuple[ConvertInput, Contender]] = {}
    for records in plan.sweep_records:
        note(f"preparing one raw partition of {records} records (cached)")
        data = ConvertInput(cache, scratch, day, records, plan.records_per_page)
        for contender in (
            Contender("convert_job deflate", "convert_job", "deflate"),
            Contender("baseline null", "baseline", "null"),
        ):
            inputs[f"{contender.label} @ {_short(records)}"] = (data, contender)
    results = interleave(list(inputs), reps, lambda label: inputs[label][0].run(inputs[label][1]), "convert sweep")
    return [
        data.row(f"one date x {_short(data.records)}", contender, results[label])
        for label, (data, contender) in inputs.items()
    ]


def run_ceiling(reps: int, workers: int, scratch: Path) -> list[CeilingRow]:
    """fastavro's encode-only rate for each codec, in a process of its own."""
    labels = list(CODECS)
    rates = interleave(
        labels,
        reps,
        lambda codec: run_json(
            "bench.ceiling", ["--records", str(CEILING_RECORDS), "--codec", codec], scratch, child_env()
        )["records_per_s"],
        "fastavro ceiling",
    )
    rows = []
    for codec in labels:
        per_core = statistics.median(rates[codec])
        rows.append(CeilingRow(codec, per_core, workers, per_core * workers, len(rates[codec])))
    return rows


def run_convert(
    profile: Profile, cache: Path, scratch: Path
) -> tuple[list[ConvertRow], list[ConvertRow], list[CeilingRow]]:
    """(multi-date set rows, one-date sweep rows, ceiling rows)."""
    plan = profile.convert
    set_rows = run_set(plan, profile.reps, cache, scratch)
    sweep_rows = run_sweep(plan, profile.reps, cache, scratch)
    ceiling = run_ceiling(profile.reps, default_workers(plan.set_dates), scratch)
    return set_rows, sweep_rows, ceiling
