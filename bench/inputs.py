"""Raw partitions for the convert benchmark, generated once and cached.

They are written directly rather than fetched: the same page bytes the
simulator serves (``sales_api_sim.data.render_page``), the same file names as
the extract job, and a ``_SUCCESS`` manifest built with ``shared.manifest``, so
convert cannot tell them from extracted partitions. Generating a million
records this way takes seconds instead of minutes of simulated latency.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import date
from pathlib import Path

from extract_job.extract import page_file_name
from sales_api_sim.config import SimulatorConfig
from sales_api_sim.data import render_page
from shared.manifest import SUCCESS_FILE, FileEntry, manifest_bytes, new_manifest, new_run_id, sha256_hex, utc_now
from shared.zones import RAW, partition_dir

SEED = 42
# Part of every cache folder's name: bump it when what is generated changes, so stale inputs are never reused.
INPUT_FORMAT = 1


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


def _write_partition(folder: Path, day: date, pages: int, records_per_page: int) -> None:
    started = utc_now()
    config = SimulatorConfig(seed=SEED, records_per_page=records_per_page)
    entries: list[FileEntry] = []
    for page in range(1, pages + 1):
        body = render_page(config, day.isoformat(), page)
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
        source="bench.inputs (sales_api_sim.data.render_page)",
    )
    (folder / SUCCESS_FILE).write_bytes(manifest_bytes(manifest))
