"""LOG_LEVEL=DEBUG adds a line per request (extract) and per raw file read (convert); INFO shows neither."""

from __future__ import annotations

import pytest

from convert_job.cli import main as convert_main

from ..support import jobs
from .extract_support import TOKEN

DAY = "2026-11-24"


@pytest.mark.parametrize("level", ["DEBUG", "INFO"])
def test_debug_shows_each_request_and_each_raw_file_read(
    level: str, simulator, workspace, run_in_process, monkeypatch, capsys
) -> None:
    sim = simulator(token=TOKEN, records_per_page=5, pages=2)
    env = {**workspace.for_simulator(sim), "LOG_LEVEL": level}

    extracted = run_in_process(env, "--date", DAY, "--concurrency", "1")
    assert extracted.code == 0, extracted.stderr
    requests = [line for line in extracted.stderr.splitlines() if " page 1: HTTP 200, " in line]
    converted = jobs.run_in_process(convert_main, ["--date", DAY], env, monkeypatch, capsys)
    assert converted.code == 0, converted.stderr
    reads = [line for line in converted.stderr.splitlines() if f"read {workspace.partition(DAY)}/" in line]

    if level == "INFO":
        assert (requests, reads) == ([], [])
        return
    [request] = requests
    assert " DEBUG extract_job.client: " in request
    assert f"{DAY} page 1: HTTP 200, " in request and "bytes in" in request and "(try 1)" in request
    assert f"from {sim.url}/sales?date={DAY}&page=1" in request
    assert any(" page 3: HTTP 404, " in line for line in extracted.stderr.splitlines()), "the end's answer too"
    assert TOKEN not in extracted.stderr
    assert len(reads) == 2, "one line per page file"
    assert all(" DEBUG convert_job.convert: " in line and "5 records, 0 rejected" in line for line in reads)
