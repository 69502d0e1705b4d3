"""End to end on SeaweedFS: a 3-date backfill (one date without sales) through both jobs, read back from the store."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from sales_api_sim import data
from sales_api_sim.server import RunningSimulator
from shared.quarantine import rejected_records
from tests.reliability.support import CONVERT, EXTRACT, assert_success, extract_env, run_job

from .seaweed import SeaweedFS
from .support import as_served, objects, read_avro, reader, unreferenced

DATES = ("2022-08-09", "2022-08-10", "2022-08-11")
EMPTY = DATES[1]


def test_a_backfill_on_the_store_gives_what_the_api_served(
    seaweedfs: SeaweedFS, simulator: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    sim = simulator(pages=4, records_per_page=200, invalid_rate=0.005, no_sales_dates=frozenset({EMPTY}))
    bucket = seaweedfs.new_bucket()
    env = {**extract_env(sim, tmp_path), **seaweedfs.env(f"s3://{bucket}/lake"), "CONVERT_WORKERS": "2"}

    assert_success(run_job(EXTRACT, ["--start", DATES[0], "--end", DATES[-1], "--concurrency", "4"], env, tmp_path))
    assert_success(run_job(CONVERT, [], env, tmp_path))  # the dates extract recorded in raw/sales/_LAST_RUN

    record = json.loads(objects(seaweedfs, bucket, "lake/raw/sales/_LAST_RUN")["lake/raw/sales/_LAST_RUN"])
    assert record["dates"] == list(DATES)
    for day in DATES:
        served = data.date_records(sim.config, day)
        raw = reader(seaweedfs, bucket, "lake", "raw", "sales", day).verify()
        assert raw["records"] == len(served) and (raw["pages"] == 0) is (day == EMPTY)
        staging = reader(seaweedfs, bucket, "lake", "stg", "sales", day)
        manifest = staging.verify()
        assert manifest["raw_run_id"] == raw["run_id"]
        (avro_file,) = manifest["files"]
        assert avro_file["name"] == f"run={manifest['run_id']}/sales_{day}.avro"
        assert read_avro(staging.read(avro_file["name"])) == [as_served(r) for r, valid in served if valid]
        rejects = rejected_records(reader(seaweedfs, bucket, "lake", "quarantine", "sales", day), manifest)
        assert [line["record"] for line in rejects] == [r for r, valid in served if not valid]
        for zone in ("raw", "stg"):
            assert unreferenced(seaweedfs, bucket, f"lake/{zone}/sales/{day}") == []
    assert any(not valid for day in DATES for _, valid in data.date_records(sim.config, day)), "no reject was tested"

    # Re-runs: --missing-only skips every complete date, convert finds staging up to date; nothing is rewritten.
    before = objects(seaweedfs, bucket, "lake/")
    rerun = run_job(EXTRACT, ["--start", DATES[0], "--end", DATES[-1], "--missing-only"], env, tmp_path)
    assert_success(rerun)
    assert rerun.stderr.count("already complete, skipped (--missing-only)") == 3
    again = run_job(CONVERT, ["--start", DATES[0], "--end", DATES[-1]], env, tmp_path)
    assert_success(again)
    assert again.stderr.count("up to date") == 3
    after = objects(seaweedfs, bucket, "lake/")
    assert {k: v for k, v in after.items() if not k.endswith("_LAST_RUN")} == {
        k: v for k, v in before.items() if not k.endswith("_LAST_RUN")
    }


def test_one_partition_by_url_with_the_dir_flags(
    seaweedfs: SeaweedFS, simulator: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    sim = simulator(pages=3, records_per_page=50, invalid_rate=0.02)
    bucket = seaweedfs.new_bucket()
    env = {**extract_env(sim, tmp_path), **seaweedfs.env(f"s3://{bucket}/unused")}
    raw, stg, rejects = (f"s3://{bucket}/one/{zone}" for zone in ("raw", "stg", "quarantine"))

    assert_success(run_job(EXTRACT, ["--date", DATES[0], "--raw-dir", raw], env, tmp_path))
    flags = ["--raw-dir", raw, "--stg-dir", stg, "--quarantine-dir", rejects, "--max-invalid-ratio", "0.2"]
    assert_success(run_job(CONVERT, flags, env, tmp_path))

    manifest = reader(seaweedfs, bucket, "one", "stg").verify()
    served = data.date_records(sim.config, DATES[0])
    (avro_file,) = manifest["files"]
    assert read_avro(reader(seaweedfs, bucket, "one", "stg").read(avro_file["name"])) == [
        as_served(r) for r, valid in served if valid
    ]
    rejected = rejected_records(reader(seaweedfs, bucket, "one", "quarantine"), manifest)
    assert [line["record"] for line in rejected] == [r for r, valid in served if not valid]
    assert not any(key.startswith("unused/") for key in objects(seaweedfs, bucket))
