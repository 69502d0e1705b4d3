"""Plain helpers for the extract job's integration tests (fixtures live in ``conftest.py``; general ones in
``tests.support``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sales_api_sim import data as sim_data
from sales_api_sim.config import SimulatorConfig
from shared.filenames import SUCCESS_FILE
from shared.manifest import sha256_hex, verify_partition
from shared.zones import RAW, partition_dir

# Distinctive enough that finding it anywhere in output or files can only be a leak.
TOKEN = "tok-INTEG-7f3a9c1e5b-secret"


@dataclass
class Workspace:
    """A scratch folder with a data root, and the environment a run gets."""

    root: Path
    base: Path
    env: dict[str, str]

    def partition(self, day: str) -> Path:
        return partition_dir(self.base, RAW, date.fromisoformat(day))

    def for_simulator(self, sim: Any, token: str = TOKEN) -> dict[str, str]:
        return {**self.env, "SALES_API_URL": f"{sim.url}/sales", "AUTH_TOKEN": token}


def expected_pages(config: SimulatorConfig, day: str) -> list[bytes]:
    """The exact bodies the simulator serves for ``day``, page 1 first."""
    return [sim_data.render_page(config, day, n) for n in range(1, sim_data.pages_for_date(config, day) + 1)]


def assert_partition_matches(partition: Path, config: SimulatorConfig, day: str, source: str) -> dict[str, Any]:
    """``partition`` holds every page of ``day`` byte for byte, and a manifest that says so."""
    pages = expected_pages(config, day)
    manifest = verify_partition(partition)
    names = [f"sales_{day}_{n}.json" for n in range(1, len(pages) + 1)]
    assert sorted(p.name for p in partition.iterdir()) == sorted([*names, SUCCESS_FILE])
    for name, expected in zip(names, pages, strict=True):
        assert (partition / name).read_bytes() == expected, f"{name} differs from what the simulator sent"
    assert manifest["date"] == day
    assert manifest["pages"] == len(pages)
    assert manifest["records"] == len(pages) * config.records_per_page
    assert manifest["bytes"] == sum(len(p) for p in pages)
    assert [f["name"] for f in manifest["files"]] == names
    assert [f["sha256"] for f in manifest["files"]] == [sha256_hex(p) for p in pages]
    assert [f["records"] for f in manifest["files"]] == [config.records_per_page] * len(pages)
    assert manifest["source"] == source
    assert manifest["tool"] == "extract_job"
    assert str(uuid.UUID(manifest["run_id"])) == manifest["run_id"], "a canonical UUID"
    return manifest
