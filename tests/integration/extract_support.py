"""Plain helpers for the extract job's integration tests (fixtures live in ``conftest.py``)."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sales_api_sim import data as sim_data
from sales_api_sim.config import SimulatorConfig
from shared.manifest import SUCCESS_FILE, sha256_hex, verify_partition
from shared.zones import RAW, partition_dir

REPO = Path(__file__).resolve().parents[2]
# Distinctive enough that finding it anywhere in output or files can only be a leak.
TOKEN = "tok-INTEG-7f3a9c1e5b-secret"

# Variables the job reads, and the proxy settings that could send traffic away from 127.0.0.1.
SCRUBBED = (
    "AUTH_TOKEN",
    "AUTH_TOKEN_FILE",
    "SALES_API_URL",
    "BASE_DIR",
    "DATE",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "ENV_FILE",
    "EXTRACT_CONCURRENCY",
    "EXTRACT_MAX_ATTEMPTS",
    "EXTRACT_TIMEOUT",
    "EXTRACT_CONNECT_TIMEOUT",
    "EXTRACT_BACKOFF",
    "EXTRACT_MAX_PAGES",
    "EXTRACT_END_OF_PAGES",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "NETRC",
)


@dataclass
class Result:
    code: int
    out: str
    err: str

    def failure_lines(self) -> list[str]:
        """The per-date failure lines ``report`` prints (log lines start with a timestamp or ``{``)."""
        return [line for line in self.err.splitlines() if line.startswith("extract_job: ")]


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


def subprocess_env(env: dict[str, str]) -> dict[str, str]:
    """The process environment without anything the job reads, plus ``env``; the repo on PYTHONPATH."""
    base = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), base.get("PYTHONPATH")]))
    return {**base, **env}


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


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``, relative path -> bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def hidden_entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def all_files(folder: Path) -> list[Path]:
    """Every file under ``folder`` (none if it does not exist)."""
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def all_file_bytes(folder: Path) -> bytes:
    return b"\n".join(p.read_bytes() for p in all_files(folder))
