"""``kill -9`` of either job on the store at named phases, the commit included.

After each kill, a reader following ``_SUCCESS`` gets the previous complete run or
the new one, never a mix; and a re-run with a small grace period (0 s) succeeds and
leaves no object no manifest references and no unfinished multipart upload.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sales_api_sim import data
from sales_api_sim.server import RunningSimulator
from shared.quarantine import rejected_records, run_ids
from tests.reliability.support import (
    CONVERT,
    DAY,
    EXTRACT,
    assert_success,
    extract_env,
    kill_now,
    run_job,
    start_paused,
)

from .seaweed import SeaweedFS
from .support import objects, reader, unfinished_uploads, unreferenced

PREVIOUS, NEW = "previous", "new"
RAW = f"lake/raw/sales/{DAY}"
STG = f"lake/stg/sales/{DAY}"
QUARANTINE = f"lake/quarantine/sales/{DAY}"
GRACE_NONE = {"STORAGE_GC_GRACE_SECONDS": "0"}


def served_pages(sim: RunningSimulator) -> list[bytes]:
    return [data.render_page(sim.config, DAY, page) for page in range(1, data.pages_for_date(sim.config, DAY) + 1)]


def raw_pages(store: SeaweedFS, bucket: str) -> list[bytes]:
    """The raw partition as a reader sees it: each page ``_SUCCESS`` lists, checked."""
    partition = reader(store, bucket, RAW)
    return [partition.read(entry["name"]) for entry in partition.verify()["files"]]


def assert_no_garbage(store: SeaweedFS, bucket: str) -> None:
    for partition in (RAW, STG):
        if f"{partition}/_SUCCESS" in objects(store, bucket, f"{partition}/"):
            assert unreferenced(store, bucket, partition) == [], partition
    assert unfinished_uploads(store, bucket) == []


# --- extract -------------------------------------------------------------------------------------------------

EXTRACT_FLAGS = ("--date", DAY, "--concurrency", "2", "--max-attempts", "2", "--backoff", "0.01")


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        pytest.param("extract.page-stored#1", PREVIOUS, id="first-page-stored"),
        pytest.param("extract.page-stored#8", PREVIOUS, id="half-the-pages-stored"),
        pytest.param("extract.before-commit", PREVIOUS, id="before-the-manifest"),
        pytest.param("partition.synced", PREVIOUS, id="objects-checked-before-the-conditional-put"),
        pytest.param("partition.swapped", NEW, id="committed-before-the-cleanup"),
    ],
)
def test_extract_killed_on_the_store_leaves_the_previous_or_the_new_run(
    seaweedfs: SeaweedFS, simulator: Callable[..., Any], tmp_path: Path, phase: str, expected: str
) -> None:
    old, new = simulator(pages=16, records_per_page=30, seed=1), simulator(pages=16, records_per_page=30, seed=2)
    bucket = seaweedfs.new_bucket()
    store_env = seaweedfs.env(f"s3://{bucket}/lake", **GRACE_NONE)
    assert_success(run_job(EXTRACT, EXTRACT_FLAGS, {**extract_env(old, tmp_path), **store_env}, tmp_path))
    assert raw_pages(seaweedfs, bucket) == served_pages(old)

    env = {**extract_env(new, tmp_path), **store_env}
    kill_now(start_paused(EXTRACT, EXTRACT_FLAGS, env, tmp_path, phase))

    assert raw_pages(seaweedfs, bucket) == served_pages(old if expected == PREVIOUS else new)
    assert_success(run_job(EXTRACT, EXTRACT_FLAGS, env, tmp_path))
    assert raw_pages(seaweedfs, bucket) == served_pages(new)
    assert_no_garbage(seaweedfs, bucket)


# --- convert -------------------------------------------------------------------------------------------------

# 200 000 records, Avro without compression: some 8 MB, so the staging file goes up in two parts of 5 MiB.
CONVERT_DATA = {"pages": 40, "records_per_page": 5000, "invalid_rate": 0.002}
CONVERT_FLAGS = ("--date", DAY, "--codec", "null", "--max-invalid-ratio", "0.05")


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        pytest.param("convert.page#1", PREVIOUS, id="first-page-read"),
        pytest.param("storage.part-uploaded#1", PREVIOUS, id="first-avro-part-uploaded"),
        pytest.param("convert.rejects-written", PREVIOUS, id="rejects-written"),
        pytest.param("partition.synced#1", PREVIOUS, id="before-the-quarantine-commit"),
        pytest.param("convert.quarantine-committed", PREVIOUS, id="quarantine-committed"),
        pytest.param("partition.synced#2", PREVIOUS, id="before-the-staging-commit"),
        pytest.param("partition.swapped#2", NEW, id="staging-committed-before-its-cleanup"),
        pytest.param("convert.staging-committed", NEW, id="staging-committed-quarantine-unsettled"),
        pytest.param("quarantine.run-removed", NEW, id="mid-settle"),
    ],
)
def test_convert_killed_on_the_store_leaves_a_complete_matching_pair(
    seaweedfs: SeaweedFS, simulator: Callable[..., Any], tmp_path: Path, phase: str, expected: str
) -> None:
    old, new = simulator(**CONVERT_DATA, seed=1), simulator(**CONVERT_DATA, seed=2)
    bucket = seaweedfs.new_bucket()
    store_env = {**seaweedfs.env(f"s3://{bucket}/lake", **GRACE_NONE), "STORAGE_PART_SIZE_MB": "5"}
    extract_flags = ("--date", DAY, "--concurrency", "4")
    assert_success(run_job(EXTRACT, extract_flags, {**extract_env(old, tmp_path), **store_env}, tmp_path))
    assert_success(run_job(CONVERT, CONVERT_FLAGS, store_env, tmp_path, timeout=300))
    previous_raw = reader(seaweedfs, bucket, RAW).verify()["run_id"]
    assert_success(run_job(EXTRACT, extract_flags, {**extract_env(new, tmp_path), **store_env}, tmp_path))
    new_raw = reader(seaweedfs, bucket, RAW).verify()["run_id"]

    kill_now(start_paused(CONVERT, CONVERT_FLAGS, store_env, tmp_path, phase))

    staging = reader(seaweedfs, bucket, STG).verify()
    assert staging["raw_run_id"] == (previous_raw if expected == PREVIOUS else new_raw)
    served = old if expected == PREVIOUS else new
    invalid = [record for record, valid in data.date_records(served.config, DAY) if not valid]
    quarantine = reader(seaweedfs, bucket, QUARANTINE)
    assert [line["record"] for line in rejected_records(quarantine, staging)] == invalid

    assert_success(run_job(CONVERT, CONVERT_FLAGS, store_env, tmp_path, timeout=300))
    staging = reader(seaweedfs, bucket, STG).verify()
    assert staging["raw_run_id"] == new_raw
    assert run_ids(quarantine) == [staging["quarantine"]["run_id"]]
    assert_no_garbage(seaweedfs, bucket)
