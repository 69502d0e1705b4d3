"""The classic homework convert, as a yardstick: ``json.load`` each page file, ``fastavro.writer`` it.

One process, one date after another, one Avro file per JSON file, with the
homework's schema (the JSON types as they come: the date stays a string) and
no validation, quarantine, manifest or fsync.

    python -m bench.baseline_convert --raw BASE/raw/sales --out DIR --start D --end D [--codec null]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import fastavro

from bench.baseline_extract import days

SCHEMA = fastavro.parse_schema(
    {
        "type": "record",
        "name": "Sale",
        "fields": [
            {"name": "client", "type": "string"},
            {"name": "purchase_date", "type": "string"},
            {"name": "product", "type": "string"},
            {"name": "price", "type": "long"},
        ],
    }
)


def convert_date(raw: Path, out: Path, codec: str) -> int:
    """Convert every page file of one date's folder; returns the number of records."""
    out.mkdir(parents=True, exist_ok=True)
    records = 0
    for path in sorted(raw.glob("*.json")):
        with open(path, encoding="utf-8") as handle:
            page = json.load(handle)
        with open(out / f"{path.stem}.avro", "wb") as handle:
            fastavro.writer(handle, SCHEMA, page, codec=codec)
        records += len(page)
    return records


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.baseline_convert",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--raw", type=Path, required=True, help="folder holding one sub-folder per date")
    parser.add_argument("--out", type=Path, required=True, help="Avro files go to OUT/<date>/")
    parser.add_argument("--start", required=True)
    parser.add_argument("--end", required=True)
    parser.add_argument("--codec", default="null", help="fastavro codec (default null, fastavro's own default)")
    args = parser.parse_args(argv)
    for day in days(args.start, args.end):
        convert_date(args.raw / day, args.out / day, args.codec)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
