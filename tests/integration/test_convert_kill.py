"""``kill -9`` of a running ``python -m convert_job``: staging holds the previous partition or a complete new one.

The raw partition is large enough (200 pages x 1000 records) that a conversion
takes a while, so the kills land while the Avro file is being written.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from convert_job.convert import Targets, convert_date
from shared.manifest import (
    SUCCESS_FILE,
    FileEntry,
    entries_as_json,
    manifest_bytes,
    new_run_id,
    sha256_hex,
    verify_partition,
)
from shared.zones import QUARANTINE, RAW, STAGING, partition_dir

REPO = Path(__file__).resolve().parents[2]
DAY = date(2022, 8, 9)
PAGES = 200
RECORDS_PER_PAGE = 1000
KILL_AFTER_SECONDS = (0.2, 0.4, 0.6, 0.9)


def write_large_raw(partition: Path) -> None:
    """A complete raw partition as the extract job leaves it: page files, then the ``_SUCCESS`` manifest."""
    partition.mkdir(parents=True)
    clients = ["Michael Wilson", "王伟", "Zoë Müller", "𠮷田 花子", 'Dwayne "The Rock" Johnson']
    entries = []
    for page in range(1, PAGES + 1):
        records = [
            {
                "client": clients[(page + i) % len(clients)],
                "purchase_date": DAY.isoformat(),
                "product": f"Product {i % 97}",
                "price": page * RECORDS_PER_PAGE + i,
            }
            for i in range(RECORDS_PER_PAGE)
        ]
        body = json.dumps(records, ensure_ascii=False).encode("utf-8")
        name = f"sales_{DAY.isoformat()}_{page}.json"
        (partition / name).write_bytes(body)
        entries.append(FileEntry(name, len(records), len(body), sha256_hex(body)))
    manifest = {
        "dataset": "sales",
        "zone": "raw",
        "date": DAY.isoformat(),
        "pages": PAGES,
        "files": entries_as_json(entries),
        "run_id": new_run_id(),
        "tool": "test",
    }
    (partition / SUCCESS_FILE).write_bytes(manifest_bytes(manifest))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def hidden_entries(base: Path) -> list[str]:
    return sorted(p.name for zone in (STAGING, QUARANTINE) for p in (base / zone / "sales").glob(".*"))


@pytest.fixture
def start_convert() -> Iterator[Callable[[Path], subprocess.Popen[bytes]]]:
    """``start_convert(base)``: a running ``python -m convert_job --force`` for DAY; killed at teardown if still alive."""
    started: list[subprocess.Popen[bytes]] = []
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("ENV_FILE", "DATE", "LOG_LEVEL", "LOG_FORMAT") and not name.startswith("CONVERT_")
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))

    def start(base: Path) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "convert_job", "--date", DAY.isoformat(), "--force"],
            env={**env, "BASE_DIR": str(base)},
            cwd=base,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


@pytest.fixture
def base(tmp_path: Path) -> Path:
    write_large_raw(partition_dir(tmp_path, RAW, DAY))
    return tmp_path


def test_kill_9_mid_conversion_keeps_a_complete_staging_partition(
    base: Path, start_convert: Callable[[Path], subprocess.Popen[bytes]]
) -> None:
    staging = partition_dir(base, STAGING, DAY)
    targets = Targets(partition_dir(base, RAW, DAY), staging, partition_dir(base, QUARANTINE, DAY))
    convert_date(DAY, targets, "deflate", 0.01)
    previous = snapshot(staging)
    previous_run_id = verify_partition(staging)["run_id"]
    killed_mid_write = 0

    for delay in KILL_AFTER_SECONDS:
        process = start_convert(base)
        time.sleep(delay)
        if process.poll() is None:
            if hidden_entries(base):
                killed_mid_write += 1
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

        manifest: dict[str, Any] = verify_partition(staging)  # complete: listing, sizes and sha256 all match
        if manifest["run_id"] == previous_run_id:
            assert snapshot(staging) == previous, f"staging changed yet kept its run_id (kill after {delay}s)"
        else:
            assert manifest["records_written"] == PAGES * RECORDS_PER_PAGE
            previous, previous_run_id = snapshot(staging), manifest["run_id"]

    assert killed_mid_write, "no kill landed while a conversion was writing; make the raw partition larger"

    rerun = start_convert(base)
    assert rerun.wait(timeout=60) == 0
    manifest = verify_partition(staging)
    assert manifest["run_id"] != previous_run_id
    assert manifest["records_read"] == manifest["records_written"] == PAGES * RECORDS_PER_PAGE
    assert hidden_entries(base) == []
