"""Run metrics reach a real Pushgateway: one group per job and instance, values from the manifests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .receivers import DATES, Pushgateway, free_port, job_env, run_job, sim_settings


def manifest(base: Path, zone: str, day: str) -> dict[str, Any]:
    return dict(json.loads((base / zone / "sales" / day / "_SUCCESS").read_text()))


def test_each_job_pushes_one_group_with_the_runs_figures(tmp_path: Path, simulated: Any, pushgateway: Pushgateway):
    base = tmp_path / "data"
    env = job_env(**sim_settings(simulated, base), PUSHGATEWAY_URL=pushgateway.url, CONVERT_MAX_INVALID_RATIO="0.5")
    extract = run_job("extract_job", tmp_path, env, "--start", DATES[0], "--end", DATES[-1])
    assert extract.code == 0, extract.stderr
    convert = run_job("convert_job", tmp_path, env, "--start", DATES[0], "--end", DATES[-1])
    assert convert.code == 0, convert.stderr

    raw = [manifest(base, "raw", day) for day in DATES]
    stg = [manifest(base, "stg", day) for day in DATES]
    assert pushgateway.value("sales_pipeline_dates", "extract", status="done") == 2
    assert pushgateway.value("sales_pipeline_dates", "extract", status="failed") == 0
    assert pushgateway.value("sales_pipeline_records", "extract") == sum(m["records"] for m in raw)
    assert pushgateway.value("sales_pipeline_pages", "extract") == sum(m["pages"] for m in raw)
    assert pushgateway.value("sales_pipeline_bytes", "extract") == sum(m["bytes"] for m in raw)
    assert pushgateway.value("sales_pipeline_exit_code", "extract") == 0

    rejected = sum(m["records_rejected"] for m in stg)
    assert rejected > 0, "the simulator made some records invalid"
    assert pushgateway.value("sales_pipeline_dates", "convert", status="done") == 2
    assert pushgateway.value("sales_pipeline_records", "convert") == sum(m["records_written"] for m in stg)
    assert pushgateway.value("sales_pipeline_rejected_records", "convert") == rejected
    assert pushgateway.value("sales_pipeline_bytes", "convert") == sum(m["files"][0]["bytes"] for m in stg)
    for job in ("extract", "convert"):
        duration = pushgateway.value("sales_pipeline_duration_seconds", job)
        assert duration is not None and duration > 0
        success = pushgateway.value("sales_pipeline_last_success_timestamp_seconds", job)
        assert success is not None and success == pushgateway.value("sales_pipeline_last_run_timestamp_seconds", job)
    groups = {dict(labels)["job"] for _, labels in pushgateway.metrics()}
    assert groups == {"extract", "convert"}, "one group per job, not one per date"

    again = run_job("convert_job", tmp_path, env, "--start", DATES[0], "--end", DATES[-1])
    assert again.code == 0, again.stderr
    assert pushgateway.value("sales_pipeline_dates", "convert", status="skipped") == 2
    assert pushgateway.value("sales_pipeline_dates", "convert", status="done") == 0
    assert pushgateway.value("sales_pipeline_records", "convert") == 0, "the last run's figures, not a total"


def test_a_failed_run_leaves_the_last_success_in_place(tmp_path: Path, simulated: Any, pushgateway: Pushgateway):
    base = tmp_path / "data"
    env = job_env(**sim_settings(simulated, base), PUSHGATEWAY_URL=pushgateway.url, METRICS_INSTANCE="eu")
    assert run_job("extract_job", tmp_path, env, "--date", DATES[0]).code == 0
    success = pushgateway.value("sales_pipeline_last_success_timestamp_seconds", "extract", "eu")
    first_run = pushgateway.value("sales_pipeline_last_run_timestamp_seconds", "extract", "eu")
    assert success is not None and first_run is not None

    rejected = run_job("extract_job", tmp_path, {**env, "AUTH_TOKEN": "not-the-token-at-all"}, "--date", DATES[1])
    assert rejected.code == 3, rejected.stderr
    assert pushgateway.value("sales_pipeline_last_success_timestamp_seconds", "extract", "eu") == success
    last_run = pushgateway.value("sales_pipeline_last_run_timestamp_seconds", "extract", "eu")
    assert last_run is not None and last_run >= first_run
    assert pushgateway.value("sales_pipeline_exit_code", "extract", "eu") == 3
    assert pushgateway.value("sales_pipeline_dates", "extract", "eu", status="failed") == 1
    assert pushgateway.value("sales_pipeline_dates", "extract", "eu", status="done") == 0
    assert pushgateway.value("sales_pipeline_records", "extract", "eu") == 0


def test_a_pushgateway_that_is_down_fails_nothing(tmp_path: Path, simulated: Any) -> None:
    base = tmp_path / "data"
    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = job_env(**sim_settings(simulated, base), PUSHGATEWAY_URL=nobody)
    result = run_job("extract_job", tmp_path, env, "--date", DATES[0])
    assert result.code == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "metrics not pushed" in line]
    assert len(warnings) == 1 and " WARNING " in warnings[0] and nobody in warnings[0]
    assert (base / "raw" / "sales" / DATES[0] / "_SUCCESS").is_file()
