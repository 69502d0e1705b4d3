"""fastavro's encode-only rate: the most any convert built on it can do per core.

The records of one raw partition (the same pages the contenders convert) are
already in memory in their Avro-ready form and go to a sink that discards the
bytes, with the job's own schema and block size; what is left is fastavro's
encoding (and the codec). Prints one JSON object.

    python -m bench.ceiling --raw BASE/raw/sales/2024-01-01 --codec deflate
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, cast

import fastavro

from convert_job.avro_output import SYNC_INTERVAL
from convert_job.schema import sale_schema
from convert_job.validation import Rejection, validate
from shared.manifest import file_entries, read_manifest


class NullSink:
    """A write-only file that keeps nothing but the byte count."""

    def __init__(self) -> None:
        self.bytes = 0

    def write(self, data: bytes) -> int:
        self.bytes += len(data)
        return len(data)

    def seekable(self) -> bool:
        return False

    def flush(self) -> None:
        """Nothing to flush; fastavro calls it after the last block."""


def avro_ready_records(partition: Path) -> list[dict[str, Any]]:
    """Every record of a raw partition, validated into what the job hands fastavro."""
    records: list[dict[str, Any]] = []
    for entry in file_entries(read_manifest(partition)):
        for raw in json.loads((partition / entry.name).read_bytes()):
            ready = validate(raw)
            if isinstance(ready, Rejection):
                raise ValueError(f"{partition / entry.name}: a benchmark record is invalid: {ready.reason}")
            records.append(ready)
    return records


def encode_seconds(records: list[dict[str, Any]], codec: str) -> tuple[float, float, int]:
    """Wall seconds and CPU seconds (this process, one thread) to encode ``records`` once, and the bytes it made."""
    sink = NullSink()
    started, cpu_started = time.perf_counter(), time.process_time()
    fastavro.writer(
        cast(IO[bytes], sink), sale_schema(), records, codec=codec, sync_interval=SYNC_INTERVAL, validator=False
    )
    return time.perf_counter() - started, time.process_time() - cpu_started, sink.bytes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ceiling", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--raw", type=Path, required=True, help="a raw partition (a folder with a _SUCCESS)")
    parser.add_argument("--codec", default="deflate")
    parser.add_argument("--repeat", type=int, default=3, help="encodes in this process; the median counts")
    args = parser.parse_args(argv)
    records = avro_ready_records(args.raw)
    timings = [encode_seconds(records, args.codec) for _ in range(args.repeat)]
    seconds = statistics.median(t for t, _, _ in timings)
    cpu_seconds = statistics.median(c for _, c, _ in timings)
    print(
        json.dumps(
            {
                "codec": args.codec,
                "records": len(records),
                "seconds": seconds,
                "records_per_s": len(records) / seconds,
                "cpu_seconds": cpu_seconds,
                "records_per_cpu_s": len(records) / cpu_seconds,
                "bytes": timings[0][2],
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
