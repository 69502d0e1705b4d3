"""The markdown report: machine, then one table per scenario, then the targets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.convert_bench import BASELINE as CONVERT_BASELINE
from bench.convert_bench import JOB, CeilingRow, ConvertRow
from bench.extract_bench import BASELINE, ExtractRow
from bench.profiles import Profile
from bench.targets import Verdict


@dataclass
class Results:
    """Everything one run measured, ready to render or to dump as JSON."""

    command: str
    profile: Profile
    machine: dict[str, str]
    extract: list[ExtractRow] = field(default_factory=list)
    convert_set: list[ConvertRow] = field(default_factory=list)
    sweep: list[ConvertRow] = field(default_factory=list)
    ceiling: list[CeilingRow] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    elapsed_s: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table; columns of numbers right-aligned."""
    align = ["---:" if rows and isinstance(rows[0][i], (int, float)) else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _mb(size: int) -> float:
    return size / 1_000_000


def _spread(value: float) -> str:
    return f"+-{value:.0%}"


def extract_section(rows: Sequence[ExtractRow], profile: Profile) -> str:
    plan = profile.extract
    intro = (
        f"Simulator in its own process: {plan.latency * 1000:g} ms latency per request, "
        f"{plan.records_per_page} records per page, {plan.pages} pages per date. "
        "*floor* = dates x (ceil(pages / concurrency) + 1) x latency. *job s* is the time inside `main()` "
        "(imports and interpreter start-up excluded; they are in *wall s*); *x floor*, pages/s and "
        "*vs baseline* use it. *spread* = half the range of the runs over their median. *CPU s* = user + "
        "system time of the process (and its workers), start-up included."
    )
    base = {r.scenario: r for r in rows if r.contender == BASELINE}
    body = [
        (
            r.scenario,
            r.contender,
            r.runs,
            r.pages,
            r.floor_s,
            r.wall_s,
            r.run_s,
            _spread(r.run_spread),
            r.cpu_s,
            f"{r.floor_ratio:.2f}x",
            r.pages_per_s,
            r.peak_rss_mib,
            f"{base[r.scenario].run_s / r.run_s:.1f}x" if r.scenario in base else "",
        )
        for r in rows
    ]
    headers = [
        "scenario",
        "contender",
        "runs",
        "pages",
        "floor s",
        "wall s",
        "job s",
        "spread",
        "CPU s",
        "x floor",
        "pages/s",
        "peak RSS MiB",
        "vs baseline",
    ]
    return f"### Extract\n\n{intro}\n\n{table(headers, body)}\n"


def convert_section(rows: Sequence[ConvertRow], ceiling: Sequence[CeilingRow], title: str) -> str:
    if not rows:
        return ""
    base = {(r.scenario, r.codec): r for r in rows if r.kind == CONVERT_BASELINE}
    previous = {(r.scenario, r.codec): r for r in rows if r.kind == JOB and r.revision}
    per_core = {c.codec: c.per_core_records_per_s for c in ceiling}
    per_cpu = {c.codec: c.per_cpu_s_records for c in ceiling}
    body = []
    for r in rows:
        baseline = base.get((r.scenario, r.codec))
        ratio = f"{r.records_per_s / baseline.records_per_s:.2f}x" if baseline else ""
        old = previous.get((r.scenario, r.codec))
        versus = f"{r.records_per_s / old.records_per_s:.2f}x" if old and r.kind == JOB and not r.revision else ""
        share = f"{r.records_per_s / (per_core[r.codec] * r.workers):.0%}" if r.codec in per_core else ""
        cpu_share = f"{r.records_per_cpu_s / per_cpu[r.codec]:.0%}" if r.codec in per_cpu else ""
        cpu_ratio = f"{r.records_per_cpu_s / baseline.records_per_cpu_s:.2f}x" if baseline else ""
        worker = f"{r.worker_rss_mib:.1f}" if r.worker_rss_mib else "-"
        body.append(
            (
                r.scenario,
                r.contender,
                r.runs,
                r.workers,
                r.records,
                r.wall_s,
                r.run_s,
                _spread(r.run_spread),
                r.cpu_s,
                r.job_cpu_s,
                r.records_per_s,
                r.records_per_cpu_s,
                ratio,
                cpu_ratio,
                versus,
                share,
                cpu_share,
                r.peak_rss_mib,
                worker,
                _mb(r.output_bytes),
            )
        )
    headers = [
        "input",
        "contender",
        "runs",
        "processes",
        "records",
        "wall s",
        "job s",
        "spread",
        "CPU s",
        "job CPU s",
        "records/s",
        "records/CPU s",
        "vs baseline (same codec)",
        "per CPU s vs baseline",
        "vs previous revision",
        "of ceiling x processes",
        "of ceiling per CPU s",
        "peak RSS MiB",
        "per worker MiB",
        "output MB",
    ]
    return f"### {title}\n\n{table(headers, body)}\n"


def ceiling_section(rows: Sequence[CeilingRow]) -> str:
    if not rows:
        return ""
    body = [(r.codec, r.per_core_records_per_s, r.per_cpu_s_records, r.workers, r.records_per_s) for r in rows]
    return (
        "### fastavro encode-only ceiling\n\nThe records of one of the sweep's one-date inputs (100k in pages "
        "of 1000 in the full profile), already in memory in their Avro form, the job's schema and block "
        "size, bytes discarded; the median of the runs.\n\n"
        f"{table(['codec', 'records/s per core', 'records per CPU s', 'x workers', 'ceiling records/s'], body)}\n"
    )


def verdict_section(verdicts: Sequence[Verdict]) -> str:
    marks = {True: "met", False: "**missed**", None: "n/a"}
    body = [(v.target, v.measured, marks[v.met]) for v in verdicts]
    return f"### Targets\n\n{table(['target', 'measured', 'verdict'], body)}\n"


SMOKE_NOTE = "Smoke sizes: this run checks that the benchmark works; its figures and verdicts mean nothing.\n"
CONVERT_NOTE = (
    "*job s* is the time inside `main()`; records/s uses it. *CPU s* = user + system time of the "
    "process and its workers, start-up included; *job CPU s* the same inside `main()` only, which "
    "records/CPU s uses: what the code costs, whatever else the machine was running. *of ceiling per "
    "CPU s* = records/CPU s over fastavro's encode-only records per CPU second (both one thread per "
    "process), the fair form of the ceiling target on a shared machine. *of ceiling x processes* = records/s "
    "over fastavro's encode-only rate per core times the processes the contender used. *vs previous "
    "revision*: the working tree's job over the `--against` revision's (`convert_job@REV`), same input "
    "and codec. *polars* is a reference, not the same job: `polars.read_json` per page and "
    "`write_avro` per date, no validation, quarantine, manifest or fsync, its own schema. Peak RSS is "
    "the main process; *per worker* the largest worker process (they run at once, so the job needs "
    "about main + workers x that, less the pages they share).\n"
)


def render(results: Results) -> str:
    """The whole report in markdown."""
    profile = results.profile
    machine = table(["", ""], list(results.machine.items()))
    parts = [
        f"## Results: profile `{profile.name}`, medians of interleaved runs (*runs* says how many)\n",
        f"Command: `{results.command}` (took {results.elapsed_s / 60:.1f} min)\n",
        SMOKE_NOTE if profile.name == "smoke" else "",
        machine + "\n",
    ]
    if results.extract:
        parts.append(extract_section(results.extract, profile))
    if results.convert_set or results.sweep:
        parts.append(CONVERT_NOTE)
    parts.append(
        convert_section(
            results.convert_set,
            results.ceiling,
            "Convert: several dates (the job spreads dates over its worker processes)",
        )
    )
    parts.append(
        convert_section(
            results.sweep, results.ceiling, "Convert: one date, growing (time should grow linearly, memory stay flat)"
        )
    )
    parts.append(ceiling_section(results.ceiling))
    parts.append(verdict_section(results.verdicts))
    return "\n".join(p for p in parts if p)
