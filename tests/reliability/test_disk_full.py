"""A disk that fills up mid-run: exit 1 with one clear line, no traceback, and nothing lost.

BASE_DIR is a 256 KiB tmpfs (the ``tmpfs`` fixture mounts it, and skips with the
reason where mounting is not permitted). A previous complete partition is on it
first; the run then needs more space than is left.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from sales_api_sim import data
from sales_api_sim.config import SimulatorConfig
from sales_api_sim.server import RunningSimulator

from .support import (
    CONVERT,
    DAY,
    EXTRACT,
    assert_clean_failure,
    assert_success,
    data_snapshot,
    extract_env,
    hidden_entries,
    page_name,
    run_job,
    snapshot,
    write_raw_partition,
)

NO_SPACE = "No space left on device"


def free_bytes(path: Path) -> int:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def fill_leaving(mount: Path, reserve: int) -> None:
    """Fill the file system but for about ``reserve`` bytes (a file outside the zones)."""
    (mount / "filler").write_bytes(b"\0" * max(0, free_bytes(mount) - reserve))
    assert free_bytes(mount) <= reserve + 4096


def test_extract_on_a_full_disk_fails_cleanly_and_keeps_the_previous_partition(
    sales_api: Callable[..., RunningSimulator], tmpfs: Path, tmp_path: Path
) -> None:
    # 10 pages of ~30 KB: more than the 256 KiB disk holds beside the previous partition.
    sim = sales_api(pages=10, records_per_page=300)
    partition = tmpfs / "raw" / "sales" / DAY
    write_raw_partition(partition, {page_name(1): data.render_page(SimulatorConfig(seed=7), DAY, 1)})
    before = data_snapshot(tmpfs)

    result = run_job(EXTRACT, ["--date", DAY, "--backoff", "0.01"], extract_env(sim, tmpfs), tmp_path)

    assert_clean_failure(result, EXTRACT, DAY, NO_SPACE)
    assert data_snapshot(tmpfs) == before, "the previous partition changed, or something was left on the disk"
    assert hidden_entries(partition.parent) == []


def test_convert_on_a_full_disk_fails_cleanly_and_keeps_the_previous_partitions(tmpfs: Path, tmp_path: Path) -> None:
    raw = tmpfs / "raw" / "sales" / DAY
    env = {"BASE_DIR": str(tmpfs)}
    # A previous conversion (staging and quarantine) of a small raw partition...
    small = SimulatorConfig(seed=7, records_per_page=100, invalid_rate=0.01)
    write_raw_partition(raw, {page_name(1): data.render_page(small, DAY, 1)})
    assert_success(run_job(CONVERT, ["--date", DAY, "--max-invalid-ratio", "0.05"], env, tmp_path))
    # ...then a new, bigger raw partition, and the disk filled but for a few KiB.
    for path in raw.iterdir():
        path.unlink()
    raw.rmdir()
    big = SimulatorConfig(records_per_page=1000, invalid_rate=0.005)
    write_raw_partition(raw, {page_name(1): data.render_page(big, DAY, 1)})
    fill_leaving(tmpfs, reserve=4096)
    before = snapshot(tmpfs)

    result = run_job(CONVERT, ["--date", DAY], env, tmp_path)

    assert_clean_failure(result, CONVERT, DAY, NO_SPACE)
    assert snapshot(tmpfs) == before, "a previous partition changed, or something was left on the disk"
    for zone in ("raw", "stg", "quarantine"):
        assert hidden_entries(tmpfs / zone / "sales") == []

    # Once space is freed, the same run succeeds.
    (tmpfs / "filler").unlink()
    assert_success(run_job(CONVERT, ["--date", DAY], env, tmp_path))
