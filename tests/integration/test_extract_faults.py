"""The extract job against a misbehaving simulator: transient faults heal, lasting ones fail cleanly."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from shared.manifest import verify_partition

from ..support import jobs
from ..support.files import hidden_entries, snapshot
from .extract_support import TOKEN, assert_partition_matches, expected_pages

DAY = "2026-11-24"
RECORDS = 20
FAST = ("--backoff", "0.01")


@pytest.fixture
def previous(simulator, workspace, run_in_process) -> dict[str, bytes]:
    """A complete partition for DAY from an earlier run (same seed: the same bytes a good run would fetch)."""
    sim = simulator(token=TOKEN, records_per_page=RECORDS)
    assert run_in_process(workspace.for_simulator(sim), "--date", DAY).code == 0
    return snapshot(workspace.partition(DAY))


@pytest.mark.parametrize(
    ("knobs", "argv"),
    [
        pytest.param({"fail_first": 2}, [], id="first-two-requests-per-page-503"),
        pytest.param({"fail_first": 2, "error_status": 500}, [], id="first-two-requests-per-page-500"),
        pytest.param({"fail_first": 1, "error_status": 429, "retry_after": 0}, [], id="first-request-per-page-429"),
        pytest.param({"error_rate": 0.3}, ["--max-attempts", "10"], id="random-30-percent-503"),
        pytest.param({"fault": "reset", "fault_first": 1}, [], id="connection-reset-mid-body"),
        pytest.param({"fault": "truncate", "fault_first": 2}, [], id="truncated-json"),
        pytest.param({"fault": "html", "fault_first": 1}, [], id="html-maintenance-page"),
        pytest.param(
            {"fault": "slow", "fault_first": 1, "fault_pages": {2}, "slow_seconds": 1.0},
            ["--timeout", "0.3"],
            id="slow-page-times-out-then-answers",
        ),
    ],
)
@pytest.mark.parametrize("concurrency", ["1", "4"], ids=lambda c: f"concurrency-{c}")
def test_transient_faults_heal(simulator, workspace, run_in_process, knobs, argv, concurrency: str) -> None:
    sim = simulator(token=TOKEN, records_per_page=RECORDS, pages=5, **knobs)
    result = run_in_process(workspace.for_simulator(sim), "--date", DAY, "--concurrency", concurrency, *FAST, *argv)
    assert result.code == 0, result.stderr
    assert_partition_matches(workspace.partition(DAY), sim.config, DAY, f"{sim.url}/sales")
    assert "retrying in" in result.stderr, "the fault really happened"
    assert hidden_entries(workspace.partition(DAY).parent) == []


def test_fail_first_retries_each_page_exactly_twice(simulator, workspace, run_in_process) -> None:
    sim = simulator(token=TOKEN, records_per_page=RECORDS, pages=4, fail_first=2)
    result = run_in_process(workspace.for_simulator(sim), "--date", DAY, "--concurrency", "1", *FAST)
    assert result.code == 0, result.stderr
    assert sim.stats.requests_by_page == {(DAY, n): 3 for n in range(1, 6)}, "pages 1..4 and the end, 3 tries each"
    assert sim.stats.responses_by_status == {503: 10, 200: 4, 404: 1}


@pytest.mark.parametrize("retry_after_format", ["seconds", "http-date"])
def test_rate_limit_with_retry_after(simulator, workspace, run_in_process, retry_after_format: str) -> None:
    # Pages 1-2 get through; the end (3) and the page after it hit the limit and must wait.
    sim = simulator(
        token=TOKEN,
        records_per_page=RECORDS,
        pages=2,
        rate_limit=2,
        retry_after=1,
        retry_after_format=retry_after_format,
    )
    started = time.monotonic()
    result = run_in_process(workspace.for_simulator(sim), "--date", DAY, "--concurrency", "2", *FAST)
    elapsed = time.monotonic() - started
    assert result.code == 0, result.stderr
    assert_partition_matches(workspace.partition(DAY), sim.config, DAY, f"{sim.url}/sales")
    assert sim.stats.responses_by_status.get(429, 0) >= 1, "the rate limit was hit"
    assert elapsed >= 0.9, "Retry-After (1 s) was honoured, not the 0.01 s backoff"


def test_revoked_token_fails_and_keeps_the_previous_partition(
    simulator, workspace, run_subprocess, previous: dict[str, bytes]
) -> None:
    sim = simulator(token=TOKEN, records_per_page=RECORDS, pages=6, revoke_after_page=2)
    result = run_subprocess(workspace.for_simulator(sim), "--date", DAY, "--concurrency", "2", *FAST)
    assert result.code == 3
    assert result.error_lines("extract_job") == [f"extract_job: {DAY}: the API rejected the token (401)"]
    assert snapshot(workspace.partition(DAY)) == previous
    assert hidden_entries(workspace.partition(DAY).parent) == []


def test_lasting_5xx_gives_up_and_keeps_the_previous_partition(
    simulator, workspace, run_subprocess, previous: dict[str, bytes]
) -> None:
    sim = simulator(token=TOKEN, records_per_page=RECORDS, pages=3, fail_first=100)
    result = run_subprocess(workspace.for_simulator(sim), "--date", DAY, "--max-attempts", "3", *FAST)
    assert result.code == 1
    [line] = result.error_lines("extract_job")
    assert line.startswith(f"extract_job: {DAY}: page ")
    assert "gave up after 3 attempts; last error: " in line and "HTTP 503" in line
    assert snapshot(workspace.partition(DAY)) == previous


def test_endless_api_stops_at_max_pages(simulator, workspace, run_subprocess, previous: dict[str, bytes]) -> None:
    sim = simulator(token=TOKEN, records_per_page=5, endless=True)
    result = run_subprocess(workspace.for_simulator(sim), "--date", DAY, "--max-pages", "20")
    assert result.code == 3
    assert result.error_lines("extract_job") == [
        f"extract_job: {DAY}: the API still had pages after 20; stopping (raise --max-pages if that is real)"
    ]
    assert max(page for _, page in sim.stats.requests_by_page) == 21, "bounded: never past max_pages + 1"
    assert snapshot(workspace.partition(DAY)) == previous
    assert hidden_entries(workspace.partition(DAY).parent) == []


def test_exactly_max_pages_is_accepted(simulator, workspace, run_subprocess) -> None:
    sim = simulator(token=TOKEN, records_per_page=5, pages=20)
    result = run_subprocess(workspace.for_simulator(sim), "--date", DAY, "--max-pages", "20")
    assert result.code == 0, result.stderr
    assert verify_partition(workspace.partition(DAY))["pages"] == 20


def test_failure_of_one_date_does_not_stop_the_others(simulator, workspace, run_in_process) -> None:
    # With seed 42, 2026-11-22 and -23 have 3 pages and 2026-11-24 has 12: only the last exceeds --max-pages 5.
    sim = simulator(token=TOKEN, records_per_page=RECORDS)
    result = run_in_process(
        workspace.for_simulator(sim), "--start", "2026-11-22", "--end", "2026-11-24", "--max-pages", "5"
    )
    assert result.code == 3
    assert result.error_lines("extract_job") == [
        "extract_job: 2026-11-24: the API still had pages after 5; stopping (raise --max-pages if that is real)"
    ]
    for day in ("2026-11-22", "2026-11-23"):
        assert_partition_matches(workspace.partition(day), sim.config, day, f"{sim.url}/sales")
    assert not workspace.partition("2026-11-24").exists()
    assert "3 date(s): 2 done, 0 skipped, 1 failed" in result.stderr


# --- kill -9 ----------------------------------------------------------------------------------------------------


def temporaries(parent: Path) -> list[Path]:
    return [p for p in parent.iterdir() if p.name.startswith(f".{DAY}.tmp-")]


@pytest.mark.parametrize(
    "phase",
    [
        pytest.param("extract.page-stored#1", id="with-one-page-written"),
        pytest.param("extract.before-commit", id="with-every-page-written"),
    ],
)
def test_sigkill_mid_run_keeps_the_previous_partition(
    simulator, workspace, run_subprocess, previous: dict[str, bytes], phase: str
) -> None:
    partition = workspace.partition(DAY)
    sim = simulator(token=TOKEN, records_per_page=RECORDS)
    assert len(expected_pages(sim.config, DAY)) >= 2, "a kill after page 1 must land before the last page"
    argv = ["--date", DAY, "--concurrency", "1"]
    process = jobs.start_paused("extract_job", argv, workspace.for_simulator(sim), workspace.root, phase)

    assert jobs.kill_now(process) == -signal.SIGKILL

    assert snapshot(partition) == previous, "the previous partition is intact, byte for byte"
    assert temporaries(partition.parent), "the dead run left its temporary folder (cleaned up next run)"

    result = run_subprocess(workspace.for_simulator(sim), "--date", DAY)
    assert result.code == 0, result.stderr
    manifest = assert_partition_matches(partition, sim.config, DAY, f"{sim.url}/sales")
    assert manifest["run_id"] != json.loads(previous["_SUCCESS"])["run_id"], "replaced by the new run"
    assert hidden_entries(partition.parent) == [], "no hidden temporaries left behind"
