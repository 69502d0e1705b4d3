"""One convert, ceiling encode or classic-loop run in this process, for counting instructions with callgrind.

CPU times on a shared machine move by 20% or more from run to run; the
instructions a run executes barely move (about 1%), so they are the measure
for comparing two versions of the record path. Counted inside
``fastavro.writer`` only, which for the job includes pulling every page
through reading, sha256, decoding and screening:

    valgrind --tool=callgrind --toggle-collect='*fastavro_6_write_21writer' \\
        .venv/bin/python -m bench.callgrind_driver job BASE/raw/sales/2024-01-01
    valgrind --tool=callgrind --toggle-collect='*fastavro_6_write_21writer' \\
        .venv/bin/python -m bench.callgrind_driver ceiling BASE/raw/sales/2024-01-01

or whole runs, without ``--toggle-collect``, as the total of ``--times 2``
minus that of ``--times 1`` (start-up and imports cancel out). valgrind's CPU
has no SHA extensions, so sha256 (``libcrypto`` in ``callgrind_annotate``)
costs there many times what it costs on the machine: count it apart.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from bench.baseline_convert import convert_date as classic_convert
from bench.ceiling import avro_ready_records, encode_seconds
from convert_job.cli import main as convert_main
from shared.manifest import read_manifest
from shared.zones import RAW, STAGING, partition_dir


def run_job(partition: Path, codec: str) -> int:
    """Convert ``partition`` (a raw date folder) once, one worker, into a temporary ``BASE_DIR``; the records
    written."""
    with tempfile.TemporaryDirectory(prefix="callgrind-") as work:
        base = Path(work) / "data"
        (base / RAW).mkdir(parents=True)
        (base / RAW / partition.parent.name).symlink_to(partition.parent, target_is_directory=True)
        os.environ["BASE_DIR"] = str(base)
        day = partition.name
        argv = ["--start", day, "--end", day, "--codec", codec, "--force", "--workers", "1", "--log-level", "WARNING"]
        if convert_main(argv) != 0:
            raise SystemExit(f"convert of {partition} failed")
        return int(read_manifest(partition_dir(base, STAGING, date.fromisoformat(day)))["records_written"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.callgrind_driver",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("what", choices=("job", "ceiling", "baseline"))
    parser.add_argument("raw", type=Path, help="a raw date partition, e.g. BASE/raw/sales/2024-01-01")
    parser.add_argument("--codec", default="deflate")
    parser.add_argument("--times", type=int, default=1, help="runs in this process (default 1)")
    args = parser.parse_args(argv)
    partition = args.raw.resolve()
    records = avro_ready_records(partition) if args.what == "ceiling" else []
    done = []
    for _ in range(args.times):
        if args.what == "job":
            done.append(run_job(partition, args.codec))
        elif args.what == "ceiling":
            encode_seconds(records, args.codec)
            done.append(len(records))
        else:
            out = Path(tempfile.mkdtemp(prefix="callgrind-"))
            try:
                done.append(classic_convert(partition, out / "avro", args.codec))
            finally:
                shutil.rmtree(out, ignore_errors=True)
    print(json.dumps({"what": args.what, "codec": args.codec, "records_per_run": done}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
