"""The issue's targets, judged from measured medians. They are reported, never asserted.

Each verdict says what was measured, so a missed target shows by how much.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.convert_bench import CeilingRow, ConvertRow
from bench.extract_bench import BASELINE, ExtractRow

FLOOR_RATIO = 1.25
SPEEDUP_AT_8 = 6.0
EXTRACT_RSS_TOLERANCE = 0.10
CONVERT_SPEEDUP = 2.0
CEILING_SHARE = 0.5
CONVERT_RSS_TOLERANCE = 0.25


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


def _convert_speed(rows: Sequence[ConvertRow], ceiling: Sequence[CeilingRow]) -> list[Verdict]:
    verdicts = []
    for row in (r for r in rows if r.contender.startswith("convert_job")):
        base = next((r for r in rows if r.contender == f"baseline {row.codec}"), None)
        if base is not None:
            speedup = row.records_per_s / base.records_per_s
            verdicts.append(
                Verdict(
                    f"convert at least {CONVERT_SPEEDUP:g}x the baseline's records/s, codec "
                    f"{row.codec} ({row.scenario}, {row.workers} workers)",
                    f"{speedup:.2f}x",
                    speedup >= CONVERT_SPEEDUP,
                )
            )
        top = next((c for c in ceiling if c.codec == row.codec), None)
        if top is not None:
            share = row.records_per_s / top.records_per_s
            verdicts.append(
                Verdict(
                    f"convert at least {CEILING_SHARE:.0%} of fastavro's encode-only ceiling x "
                    f"{top.workers} workers, codec {row.codec}",
                    f"{share:.0%}",
                    share >= CEILING_SHARE,
                )
            )
    return verdicts


def _convert_memory(rows: Sequence[ConvertRow]) -> list[Verdict]:
    ours = sorted((r for r in rows if r.contender.startswith("convert_job")), key=lambda r: r.records)
    if len(ours) < 2:
        return [Verdict("convert peak RSS flat across partition sizes", "not measured", None)]
    small, large = ours[0], ours[-1]
    change = large.peak_rss_mib / small.peak_rss_mib - 1
    measured = ", ".join(f"{r.records:,} records: {r.peak_rss_mib:.1f} MiB" for r in ours) + f" ({change:+.0%})"
    return [
        Verdict(
            f"convert peak RSS within +-{CONVERT_RSS_TOLERANCE:.0%} from {small.records:,} to "
            f"{large.records:,} records per partition",
            measured,
            abs(change) <= CONVERT_RSS_TOLERANCE,
        )
    ]


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
        verdicts += _convert_speed(convert_set, ceiling)
    if sweep:
        verdicts += _convert_memory(sweep)
    return verdicts
