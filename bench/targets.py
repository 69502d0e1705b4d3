"""The issue's targets, judged from measured medians. They are reported, never asserted.

Each verdict says what was measured, so a missed target shows by how much.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.convert_bench import BASELINE as CONVERT_BASELINE
from bench.convert_bench import CEILING_RECORDS, JOB, CeilingRow, ConvertRow
from bench.extract_bench import BASELINE, ExtractRow

FLOOR_RATIO = 1.25
SPEEDUP_AT_8 = 6.0
EXTRACT_RSS_TOLERANCE = 0.10
CONVERT_SPEEDUP = 3.0
CEILING_SHARE = 0.8
CONVERT_RSS_TOLERANCE = 0.10


@dataclass(frozen=True)
class Verdict:
    target: str
    measured: str
    met: bool | None  # None: the run did not measure what the target needs


def _extract_floor(rows: Sequence[ExtractRow]) -> list[Verdict]:
    verdicts = []
    for scenario in dict.fromkeys(r.scenario for r in rows):
        ours = [r for r in rows if r.scenario == scenario and r.contender != BASELINE]
        if not ours:
            continue
        worst = max(ours, key=lambda r: r.floor_ratio)
        ratios = ", ".join(f"c={r.concurrency}: {r.floor_ratio:.2f}x" for r in ours)
        verdicts.append(
            Verdict(
                f"extract within {FLOOR_RATIO}x of the latency floor at every concurrency ({scenario})",
                ratios,
                worst.floor_ratio <= FLOOR_RATIO,
            )
        )
    return verdicts


def _extract_speedup(rows: Sequence[ExtractRow]) -> list[Verdict]:
    verdicts = []
    for scenario in dict.fromkeys(r.scenario for r in rows):
        base = next((r for r in rows if r.scenario == scenario and r.contender == BASELINE), None)
        at8 = next((r for r in rows if r.scenario == scenario and r.contender != BASELINE and r.concurrency == 8), None)
        if base is None or at8 is None:
            continue
        speedup = base.run_s / at8.run_s
        verdicts.append(
            Verdict(
                f"extract at concurrency 8 at least {SPEEDUP_AT_8:g}x faster than the baseline ({scenario})",
                f"{speedup:.1f}x",
                speedup >= SPEEDUP_AT_8,
            )
        )
    return verdicts


def _extract_memory(rows: Sequence[ExtractRow]) -> list[Verdict]:
    ours = [r for r in rows if r.contender != BASELINE]
    changes = []
    for concurrency in dict.fromkeys(r.concurrency for r in ours):
        same = sorted((r for r in ours if r.concurrency == concurrency), key=lambda r: r.pages)
        if len(same) >= 2 and same[0].pages != same[-1].pages:
            changes.append((concurrency, same[0], same[-1], same[-1].peak_rss_mib / same[0].peak_rss_mib - 1))
    if not changes:
        return [Verdict("extract peak RSS independent of the number of pages", "not measured", None)]
    _, small, large, _ = changes[0]
    measured = "; ".join(
        f"c={c}: {a.peak_rss_mib:.1f} -> {b.peak_rss_mib:.1f} MiB ({d:+.0%})" for c, a, b, d in changes
    )
    met = all(abs(d) <= EXTRACT_RSS_TOLERANCE for *_, d in changes)
    return [
        Verdict(
            f"extract peak RSS independent of the number of pages (within +-{EXTRACT_RSS_TOLERANCE:.0%} "
            f"from {small.pages} to {large.pages} pages)",
            measured,
            met,
        )
    ]


def _previous(rows: Sequence[ConvertRow], row: ConvertRow) -> ConvertRow | None:
    """The other revision's row for the same input and codec (``--against``), if measured."""
    return next(
        (r for r in rows if r.kind == JOB and r.revision and r.scenario == row.scenario and r.codec == row.codec),
        None,
    )


def _ours(rows: Sequence[ConvertRow]) -> list[ConvertRow]:
    return [r for r in rows if r.kind == JOB and not r.revision]


def _convert_speed(rows: Sequence[ConvertRow]) -> list[Verdict]:
    verdicts = []
    for row in _ours(rows):
        base = next((r for r in rows if r.kind == CONVERT_BASELINE and r.codec == row.codec), None)
        if base is None:
            continue
        speedup = row.records_per_s / base.records_per_s
        per_cpu = row.records_per_cpu_s / base.records_per_cpu_s
        measured = f"{speedup:.2f}x wall, {per_cpu:.2f}x per CPU second"
        if (old := _previous(rows, row)) is not None:
            measured += (
                f" (previous revision {old.revision}: {old.records_per_s / base.records_per_s:.2f}x wall, "
                f"{old.records_per_cpu_s / base.records_per_cpu_s:.2f}x per CPU second)"
            )
        verdicts.append(
            Verdict(
                f"convert at least {CONVERT_SPEEDUP:g}x the baseline's records/s, codec "
                f"{row.codec} ({row.scenario}, {row.workers} workers)",
                measured,
                speedup >= CONVERT_SPEEDUP,
            )
        )
    return verdicts


def _convert_ceiling(rows: Sequence[ConvertRow], ceiling: Sequence[CeilingRow]) -> list[Verdict]:
    """One date of the ceiling's size, one process, against fastavro's encode-only rate per core."""
    verdicts = []
    size = max((r.records for r in rows if r.records <= CEILING_RECORDS), default=None)
    for row in (r for r in _ours(rows) if r.records == size and r.workers == 1):
        top = next((c for c in ceiling if c.codec == row.codec), None)
        if top is None:
            continue
        # Judged on CPU time: both sides run one thread, and CPU seconds do not count the time a
        # shared machine kept either of them waiting. The wall-time share is shown beside it.
        share = row.records_per_cpu_s / top.per_cpu_s_records
        measured = f"{share:.0%} per CPU second ({row.records_per_s / top.per_core_records_per_s:.0%} wall)"
        if (old := _previous(rows, row)) is not None:
            measured += (
                f" (previous revision {old.revision}: {old.records_per_cpu_s / top.per_cpu_s_records:.0%} per CPU "
                f"second, {old.records_per_s / top.per_core_records_per_s:.0%} wall)"
            )
        verdicts.append(
            Verdict(
                f"convert at least {CEILING_SHARE:.0%} of fastavro's encode-only rate per CPU second, codec "
                f"{row.codec} ({row.scenario}, one process)",
                measured,
                share >= CEILING_SHARE,
            )
        )
    return verdicts


def _convert_memory(rows: Sequence[ConvertRow]) -> list[Verdict]:
    verdicts = []
    for per_page in sorted({r.records_per_page for r in _ours(rows)}):
        ours = sorted((r for r in _ours(rows) if r.records_per_page == per_page), key=lambda r: r.records)
        if len(ours) < 2:
            continue
        small, large = ours[0], ours[-1]
        change = large.peak_rss_mib / small.peak_rss_mib - 1
        measured = ", ".join(f"{r.records:,}: {r.peak_rss_mib:.1f} MiB" for r in ours) + f" ({change:+.0%})"
        verdicts.append(
            Verdict(
                f"convert peak RSS within +-{CONVERT_RSS_TOLERANCE:.0%} from {small.records:,} to "
                f"{large.records:,} records per partition (pages of {per_page})",
                measured,
                abs(change) <= CONVERT_RSS_TOLERANCE,
            )
        )
    return verdicts or [Verdict("convert peak RSS flat across partition sizes", "not measured", None)]


def judge(
    extract: Sequence[ExtractRow],
    convert_set: Sequence[ConvertRow],
    sweep: Sequence[ConvertRow],
    ceiling: Sequence[CeilingRow],
) -> list[Verdict]:
    verdicts: list[Verdict] = []
    if extract:
        verdicts += _extract_floor(extract) + _extract_speedup(extract) + _extract_memory(extract)
    if convert_set:
        verdicts += _convert_speed(convert_set)
    if sweep:
        verdicts += _convert_ceiling(sweep, ceiling) + _convert_memory(sweep)
    return verdicts
