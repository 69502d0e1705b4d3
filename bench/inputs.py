"""Raw partitions for the convert benchmark, generated once and cached.

They are written directly rather than fetched: the simulator's records
(``sales_api_sim.data.page_records``) made more like a real day's
(``realistic_page``), the same file names as the extract job, and a
``_SUCCESS`` manifest built with ``shared.manifest``, so convert cannot tell
them from extracted partitions. Generating a million records this way takes
seconds instead of minutes of simulated latency.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from sales_api_sim.config import SimulatorConfig
from sales_api_sim.data import page_records
from shared.filenames import SUCCESS_FILE, page_file_name
from shared.manifest import FileEntry, manifest_bytes, new_manifest, new_run_id, sha256_hex, utc_now
from shared.zones import RAW, partition_dir

SEED = 42
# Part of every cache folder's name: bump it when what is generated changes, so stale inputs are never reused.
INPUT_FORMAT = 2
# Realistic content: a share of long free-text names and prices over many magnitudes (up to 10^12).
LONG_TEXT_SHARE = 0.03
LONG_TEXT_CHARS = 300
MAX_PRICE_EXPONENT = 12
_LONG_TEXT_WORDS = ("Kaffeevollautomat", "für", "Büro", "日本語", "のテキスト", "Ελληνικά", "доставка", "café", "naïve")


def default_cache_dir() -> Path:
    return Path(tempfile.gettempdir()) / "sales-pipeline-bench-cache"


def dataset_root(cache: Path, records: int, records_per_page: int) -> Path:
    """A ``BASE_DIR``-shaped folder whose ``raw/`` holds partitions of ``records`` records each."""
    return cache / f"v{INPUT_FORMAT}-seed{SEED}-{records}rec-{records_per_page}pp"


def ensure_partition(root: Path, day: date, records: int, records_per_page: int) -> Path:
    """The raw partition of ``day`` under ``root``, generated unless a previous run left it complete."""
    if records % records_per_page:
        raise ValueError(f"{records} records do not fill pages of {records_per_page}")
    target = partition_dir(root, RAW, day)
    if (target / SUCCESS_FILE).is_file():
        return target
    building = target.parent / f".{target.name}.building-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    _write_partition(building, day, records // records_per_page, records_per_page)
    shutil.rmtree(target, ignore_errors=True)
    os.rename(building, target)  # whole partitions only: an interrupted build is never taken for a cached one
    return target


def _long_text(rng: random.Random) -> str:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < LONG_TEXT_CHARS:
        words.append(rng.choice(_LONG_TEXT_WORDS))
    return " ".join(words)[:LONG_TEXT_CHARS]


def realistic_records(day: str, page: int, records_per_page: int) -> list[dict[str, Any]]:
    """One page of valid records: the simulator's names (92% non-ASCII, some outside the BMP), a few
    300-character strings, prices from 1 to 10^12; a pure function of its arguments."""
    records = page_records(SimulatorConfig(seed=SEED, records_per_page=records_per_page), day, page)
    rng = random.Random(f"{SEED}:{day}:{page}:realistic")
    for record in records:
        record["price"] = int(10 ** rng.uniform(0, MAX_PRICE_EXPONENT))
        if rng.random() < LONG_TEXT_SHARE:
            record[rng.choice(("client", "product"))] = _long_text(rng)
    return records


def realistic_page(day: str, page: int, records_per_page: int) -> bytes:
    """The page file's bytes, as the API sends them (UTF-8, non-ASCII unescaped)."""
    return json.dumps(realistic_records(day, page, records_per_page), ensure_ascii=False).encode("utf-8")


def _write_partition(folder: Path, day: date, pages: int, records_per_page: int) -> None:
    started = utc_now()
    entries: list[FileEntry] = []
    for page in range(1, pages + 1):
        body = realistic_page(day.isoformat(), page, records_per_page)
        name = page_file_name(day, page)
        (folder / name).write_bytes(body)
        entries.append(FileEntry(name, records_per_page, len(body), sha256_hex(body)))
    manifest = new_manifest(
        zone=RAW,
        day=day,
        tool="bench.inputs",
        run_id=new_run_id(),
        started_at=started,
        files=entries,
        pages=pages,
        records=sum(e.records for e in entries),
        bytes=sum(e.bytes for e in entries),
        source="bench.inputs (bench.inputs.realistic_page)",
    )
    (folder / SUCCESS_FILE).write_bytes(manifest_bytes(manifest))
