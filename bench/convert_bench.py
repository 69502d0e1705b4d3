"""Convert contenders: the project's job per codec (the working tree's and, with ``--against``, another
revision's), the classic baseline, polars as a reference, and fastavro's encode-only ceiling.

Two scenarios: a set of several dates (where the job spreads dates over its
worker processes) and one date at growing sizes and two page sizes (time
should grow linearly, memory stay flat).
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence
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
from bench.polars_convert import available as polars_available
from bench.profiles import FIRST_DATE, ConvertPlan, Profile
from bench.revision import WORKING_TREE, Tree
from shared.manifest import read_manifest
from shared.zones import RAW, STAGING, partition_dir

KIB_PER_MIB = 1024
CODECS = ("deflate", "null")
JOB, BASELINE, POLARS = "convert_job", "baseline", "polars"
CEILING_RECORDS = 100_000  # the one-date size the ceiling target is judged on


@dataclass(frozen=True)
class ConvertRow:
    """Medians of one contender on one input."""

    scenario: str
    contender: str
    kind: str  # JOB, BASELINE or POLARS
    revision: str  # "" for the working tree, "@abc1234" for --against
    codec: str
    workers: int
    dates: int
    records: int
    records_per_page: int
    wall_s: float
    run_s: float
    run_spread: float
    cpu_s: float
    job_cpu_s: float  # CPU inside main(), workers included
    records_per_s: float
    records_per_cpu_s: float  # records over job_cpu_s: what the code costs, whatever the machine's load
    peak_rss_mib: float
    worker_rss_mib: float  # largest worker process; 0 when the job ran in one process
    output_bytes: int
    runs: int


@dataclass(frozen=True)
class CeilingRow:
    """fastavro encoding records already in memory, per core and times the job's worker count."""

    codec: str
    per_core_records_per_s: float
    per_cpu_s_records: float  # records per CPU second of the encoding (one thread), the fair figure under load
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
    """What to run: the project's job (from ``tree``), the baseline or polars, with a codec."""

    kind: str
    codec: str
    tree: Tree = WORKING_TREE

    @property
    def label(self) -> str:
        return f"{self.kind}{self.tree.suffix} {self.codec}"


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
        self.records_per_page = records_per_page
        for day in days:
            ensure_partition(self.root, day, records, records_per_page)

    def run(self, contender: Contender) -> Outcome:
        with scratch_dir(self.scratch, "convert") as work:
            if contender.kind == JOB:
                return self._project(contender, work)
            return self._reference(contender, work)

    def _span(self) -> list[str]:
        return ["--start", self.days[0].isoformat(), "--end", self.days[-1].isoformat()]

    def _project(self, contender: Contender, work: Path) -> Outcome:
        base = work / "data"
        base.mkdir()
        (base / RAW).symlink_to(self.root / RAW, target_is_directory=True)
        sample = run_probe(
            "convert_job.cli:main",
            [*self._span(), "--codec", contender.codec, "--force", "--log-level", "WARNING"],
            work,
            child_env({"BASE_DIR": str(base)}),
            contender.tree.root,
        )
        for day in self.days:
            written = read_manifest(partition_dir(base, STAGING, day)).get("records_written")
            if written != self.records:
                raise BenchError(f"{contender.label} wrote {written} records for {day}, expected {self.records}")
        return Outcome(sample, _avro_bytes(base / STAGING))

    def _reference(self, contender: Contender, work: Path) -> Outcome:
        """The baseline (one Avro file per page) or polars (one per date)."""
        out = work / "out"
        module = "bench.baseline_convert" if contender.kind == BASELINE else "bench.polars_convert"
        raw = partition_dir(self.root, RAW, self.days[0]).parent
        sample = run_probe(
            f"{module}:main",
            ["--raw", str(raw), "--out", str(out), *self._span(), "--codec", contender.codec],
            work,
            child_env(),
        )
        for day in self.days:
            pages = len(list(partition_dir(self.root, RAW, day).glob("*.json")))
            expected = pages if contender.kind == BASELINE else 1
            if len(list((out / day.isoformat()).glob("*.avro"))) != expected:
                raise BenchError(f"{contender.label} did not write {expected} Avro file(s) for {day}")
        return Outcome(sample, _avro_bytes(out))

    def row(self, scenario: str, contender: Contender, outcomes: list[Outcome]) -> ConvertRow:
        med = median_sample([o.sample for o in outcomes])
        records = self.records * len(self.days)
        workers = default_workers(len(self.days)) if contender.kind == JOB else 1
        return ConvertRow(
            scenario=scenario,
            contender=contender.label,
            kind=contender.kind,
            revision=contender.tree.suffix,
            codec=contender.codec,
            workers=workers,
            dates=len(self.days),
            records=records,
            records_per_page=self.records_per_page,
            wall_s=med.wall_s,
            run_s=med.run_s,
            run_spread=spread([o.sample.run_s for o in outcomes]),
            cpu_s=med.cpu_s,
            job_cpu_s=med.job_cpu_s,
            records_per_s=records / med.run_s,
            records_per_cpu_s=records / med.job_cpu_s if med.job_cpu_s else 0.0,
            peak_rss_mib=med.maxrss_kib / KIB_PER_MIB,
            # Without a pool the only children are helpers (ldconfig, started by ctypes.util.find_library).
            worker_rss_mib=med.children_maxrss_kib / KIB_PER_MIB if workers > 1 else 0.0,
            output_bytes=outcomes[-1].output_bytes,
            runs=len(outcomes),
        )


def job_contenders(trees: Sequence[Tree], codecs: Sequence[str]) -> list[Contender]:
    """The job from every tree, the working tree's first, each codec."""
    return [Contender(JOB, codec, tree) for tree in trees for codec in codecs]


def reference_contenders(codecs: Sequence[str]) -> list[Contender]:
    kinds = [BASELINE, POLARS] if polars_available() else [BASELINE]
    return [Contender(kind, codec) for kind in kinds for codec in codecs]


def _short(records: int) -> str:
    """1000000 -> "1M", 100000 -> "100k", 500 -> "500"."""
    for unit, size in (("M", 1_000_000), ("k", 1_000)):
        if records >= size and records % size == 0:
            return f"{records // size}{unit}"
    return str(records)


def run_set(plan: ConvertPlan, reps: int, cache: Path, scratch: Path, trees: Sequence[Tree]) -> list[ConvertRow]:
    """The multi-date set: every contender, interleaved."""
    note(f"preparing {plan.set_dates} raw partitions of {plan.set_records} records (cached)")
    data = ConvertInput(cache, scratch, _dates(plan.set_dates), plan.set_records, plan.set_records_per_page)
    contenders = {c.label: c for c in [*job_contenders(trees, CODECS), *reference_contenders(CODECS)]}
    for tree in trees:  # warm-up: page cache of the inputs and of each tree's code
        data.run(Contender(JOB, "deflate", tree))
    scenario = (
        f"{plan.set_dates} date{'s' if plan.set_dates > 1 else ''} x {_short(plan.set_records)}, "
        f"pages of {plan.set_records_per_page}"
    )
    results = interleave(list(contenders), reps, lambda label: data.run(contenders[label]), f"convert {scenario}")
    return [data.row(scenario, c, results[label]) for label, c in contenders.items()]


def run_sweep(plan: ConvertPlan, reps: int, cache: Path, scratch: Path, trees: Sequence[Tree]) -> list[ConvertRow]:
    """One date at each size and page size: the job's default codec from every tree, the baseline's, polars'."""
    day = _dates(1)
    contenders = [*job_contenders(trees, ("deflate",)), Contender(BASELINE, "null")]
    if polars_available():
        contenders.append(Contender(POLARS, "deflate"))
    inputs: dict[str, tuple[ConvertInput, Contender]] = {}
    for per_page in plan.sweep_page_sizes:
        for records in plan.sweep_records:
            note(f"preparing one raw partition of {records} records in pages of {per_page} (cached)")
            data = ConvertInput(cache, scratch, day, records, per_page)
            for contender in contenders:
                inputs[f"{contender.label} @ {_short(records)}/{per_page}"] = (data, contender)
    results = interleave(list(inputs), reps, lambda label: inputs[label][0].run(inputs[label][1]), "convert sweep")
    return [
        data.row(f"one date x {_short(data.records)}, pages of {data.records_per_page}", contender, results[label])
        for label, (data, contender) in inputs.items()
    ]


def ceiling_input(plan: ConvertPlan) -> tuple[int, int]:
    """(records, records per page) of the sweep input the ceiling encodes: 100k (or the largest
    smaller size) in the largest pages."""
    sizes = [n for n in plan.sweep_records if n <= CEILING_RECORDS] or [min(plan.sweep_records)]
    return max(sizes), max(plan.sweep_page_sizes)


def run_ceiling(plan: ConvertPlan, reps: int, workers: int, cache: Path, scratch: Path) -> list[CeilingRow]:
    """fastavro's encode-only rate for each codec, on one of the sweep's inputs, in a process of its own."""
    data = ConvertInput(cache, scratch, _dates(1), *ceiling_input(plan))
    partition = partition_dir(data.root, RAW, data.days[0])
    labels = list(CODECS)
    reports = interleave(
        labels,
        reps,
        lambda codec: run_json("bench.ceiling", ["--raw", str(partition), "--codec", codec], scratch, child_env()),
        "fastavro ceiling",
    )
    rows = []
    for codec in labels:
        per_core = statistics.median(r["records_per_s"] for r in reports[codec])
        per_cpu = statistics.median(r["records_per_cpu_s"] for r in reports[codec])
        rows.append(CeilingRow(codec, per_core, per_cpu, workers, per_core * workers, len(reports[codec])))
    return rows


def run_convert(
    profile: Profile, cache: Path, scratch: Path, trees: Sequence[Tree] = (WORKING_TREE,)
) -> tuple[list[ConvertRow], list[ConvertRow], list[CeilingRow]]:
    """(multi-date set rows, one-date sweep rows, ceiling rows); ``trees``: whose job to run, the working tree first."""
    plan = profile.convert
    set_rows = run_set(plan, profile.reps, cache, scratch, trees)
    sweep_rows = run_sweep(plan, profile.reps, cache, scratch, trees)
    ceiling = run_ceiling(plan, profile.reps, default_workers(plan.set_dates), cache, scratch)
    return set_rows, sweep_rows, ceiling
