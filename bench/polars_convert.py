"""A reference, not a contender for the same job: polars reading the raw pages and writing Avro.

For each date, ``polars.read_json`` of every page file, concatenated, then
``DataFrame.write_avro``: no validation, no quarantine, no manifest, no fsync,
and polars' own schema (the date stays a string). It holds a whole date in
memory. polars is in the ``bench`` extra only (``scripts/uv sync --locked --extra test --extra bench``).

    python -m bench.polars_convert --raw BASE/raw/sales --out DIR --start D --end D [--codec null]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from bench.baseline_extract import days

# The job's codec names in polars' words.
COMPRESSION: dict[str, Literal["uncompressed", "deflate"]] = {"null": "uncompressed", "deflate": "deflate"}


def available() -> bool:
    try:
        import polars  # noqa: F401
    except ImportError:
        return False
    return True


def convert_date(raw: Path, out: Path, codec: str) -> int:
    """Convert one date's folder into one Avro file; returns the number of records."""
    import polars as pl

    frames = [pl.read_json(path) for path in sorted(raw.glob("*.json"))]
    frame = pl.concat(frames) if frames else pl.DataFrame()
    out.mkdir(parents=True, exist_ok=True)
    frame.write_avro(out / f"{raw.name}.avro", compression=COMPRESSION[codec])
    return int(frame.height)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.polars_convert", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--raw", type=Path, required=True, help="folder holding one sub-folder per date")
    parser.add_argument("--out", type=Path, required=True, help="one Avro file per date goes to OUT/<date>/")
    parser.add_argument("--start", required=True)
    parser.add_argument("--end", required=True)
    parser.add_argument("--codec", choices=sorted(COMPRESSION), default="null")
    args = parser.parse_args(argv)
    for day in days(args.start, args.end):
        convert_date(args.raw / day, args.out / day, args.codec)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
