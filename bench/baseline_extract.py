"""The classic homework extract, as a yardstick: ``requests.get`` page after page until a 404.

One request at a time, a new connection for each (``requests.get`` has no
session), each page parsed and written back with ``json.dump`` as it arrives.
Unlike most homework it has a page cap and a timeout, so a bad server cannot
hang the benchmark; neither changes its speed.

    python -m bench.baseline_extract --url URL/sales --out DIR --start D --end D   (token in AUTH_TOKEN)
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import requests

MAX_PAGES = 100_000
TIMEOUT_S = 30.0


def fetch_date(url: str, token: str, day: str, folder: Path) -> int:
    """Write every page of ``day`` into ``folder``; returns the number of pages."""
    folder.mkdir(parents=True, exist_ok=True)
    for page in range(1, MAX_PAGES + 1):
        response = requests.get(
            url, params={"date": day, "page": str(page)}, headers={"Authorization": token}, timeout=TIMEOUT_S
        )
        if response.status_code == 404:
            return page - 1
        response.raise_for_status()
        with open(folder / f"sales_{day}_{page}.json", "w", encoding="utf-8") as handle:
            json.dump(response.json(), handle)
    raise RuntimeError(f"{day}: more than {MAX_PAGES} pages")


def days(start: str, end: str) -> list[str]:
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.baseline_extract",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", required=True, help="the sales endpoint")
    parser.add_argument("--out", type=Path, required=True, help="pages go to OUT/<date>/")
    parser.add_argument("--start", required=True)
    parser.add_argument("--end", required=True)
    args = parser.parse_args(argv)
    token = os.environ.get("AUTH_TOKEN", "")
    for day in days(args.start, args.end):
        fetch_date(args.url, token, day, args.out / day)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
