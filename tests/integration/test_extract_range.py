"""A range of dates through one scheduler, against the simulator: pipelined, polite, stopped by a rejected token.

Bounds here are on what the job did (requests, 429s, files), never on how long it took.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

from sales_api_sim import data

from ..support.files import data_files, hidden_entries
from ..support.jobs import run_on_terminal
from .extract_support import TOKEN, assert_partition_matches

FIRST = date(2026, 10, 1)
RECORDS = 5
FAST = ("--backoff", "0.01")


def days(count: int) -> list[str]:
    return [(FIRST + timedelta(days=n)).isoformat() for n in range(count)]


def range_args(count: int, *more: str) -> tuple[str, ...]:
    dates = days(count)
    return ("--start", dates[0], "--end", dates[-1], *FAST, *more)


def test_a_backfill_fetches_little_past_each_end(simulator, workspace, run_in_process) -> None:
    sim = simulator(token=TOKEN, records_per_page=RECORDS)
    result = run_in_process(workspace.for_simulator(sim), *range_args(30, "--concurrency", "8"))
    assert result.code == 0, result.stderr
    for day in days(30):
        assert_partition_matches(workspace.partition(day), sim.config, day, f"{sim.url}/sales")
    needed = sum(data.pages_for_date(sim.config, day) + 1 for day in days(30))  # pages and one end each
    # Generous: how far a date speculates depends on timing; without the estimate each would send up to 8 more.
    assert sim.stats.requests_total <= needed * 1.5, f"{sim.stats.requests_total} requests for {needed}"
    assert hidden_entries(workspace.partition(days(1)[0]).parent) == []


def test_behind_a_rate_limit_all_dates_complete_with_few_429s(simulator, workspace, run_in_process) -> None:
    # 40 requests a second across all clients; the job's controller must find that out and keep under it.
    sim = simulator(token=TOKEN, records_per_page=RECORDS, pages=30, rate_limit=40, retry_after=1)
    result = run_in_process(workspace.for_simulator(sim), *range_args(3, "--concurrency", "16"))
    assert result.code == 0, result.stderr
    for day in days(3):
        assert_partition_matches(workspace.partition(day), sim.config, day, f"{sim.url}/sales")
    statuses = sim.stats.responses_by_status
    assert statuses.get(429, 0) >= 1, "the limit was reached (else this shows nothing)"
    # At most the first burst (what is in flight, up to --concurrency, when the first 429 comes back), then few:
    # a client that ignores the limit gets about 40% of its requests answered 429 here.
    assert statuses[429] <= 16 + 0.1 * sim.stats.requests_total, f"too many 429s: {statuses}"


def test_above_a_concurrency_limit_all_dates_complete(simulator, workspace, run_in_process) -> None:
    sim = simulator(token=TOKEN, records_per_page=RECORDS, pages=12, max_concurrent=3, latency=0.02, retry_after=0)
    result = run_in_process(workspace.for_simulator(sim), *range_args(4, "--concurrency", "16"))
    assert result.code == 0, result.stderr
    for day in days(4):
        assert_partition_matches(workspace.partition(day), sim.config, day, f"{sim.url}/sales")


def test_a_rejected_token_stops_a_30_date_range(simulator, workspace, run_subprocess) -> None:
    sim = simulator(token=TOKEN, records_per_page=RECORDS)
    result = run_subprocess(workspace.for_simulator(sim, token="wrong-token"), *range_args(30, "--concurrency", "4"))
    assert result.code == 3, result.stderr
    (line,) = result.error_lines("extract_job")
    assert line.endswith(": the API rejected the token (401)"), line
    assert "30 date(s): 0 done, 0 skipped, 1 failed, 29 not attempted" in result.stderr
    assert data_files(workspace.base) == [], "no partition touched"
    assert sim.stats.requests_total <= 4, "no request after the first answers: one round of the pool at most"


def test_one_date_failing_does_not_stop_the_others(simulator, workspace, run_in_process) -> None:
    dates = days(6)
    bad = dates[2]
    sim = simulator(token=TOKEN, records_per_page=RECORDS, no_sales_dates={bad})
    env = workspace.for_simulator(sim)
    first = run_in_process(env, "--date", bad, "--allow-empty")
    assert first.code == 0
    records_partition = simulator(token=TOKEN, records_per_page=RECORDS)
    assert run_in_process(workspace.for_simulator(records_partition), "--date", bad).code == 0
    # Now the API has no sales for ``bad``, but its partition holds records: that date fails, the rest commit.
    result = run_in_process(env, *range_args(6, "--concurrency", "4"))
    assert result.code == 3, result.stderr
    (line,) = result.error_lines("extract_job")
    assert f"{bad}: the API now has no sales" in line
    for day in dates:
        if day != bad:
            assert_partition_matches(workspace.partition(day), sim.config, day, f"{sim.url}/sales")


def test_progress_lines_while_a_run_lasts(simulator, workspace, run_subprocess) -> None:
    # Each date takes at least two rounds of 0.3 s: the run outlasts a 0.1 s interval whatever the machine.
    sim = simulator(token=TOKEN, records_per_page=RECORDS, pages=2, latency=0.3)
    env = {**workspace.for_simulator(sim), "LOG_FORMAT": "json"}
    result = run_subprocess(env, *range_args(3, "--concurrency", "2", "--progress-interval", "0.1"))
    assert result.code == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    progress = [r for r in records if r.get("progress")]
    assert progress, result.stderr
    assert {"dates_done", "dates", "pages", "records", "requests_per_s", "eta_s"} <= set(progress[-1])
    assert progress[-1]["dates"] == 3


def test_a_terminal_gets_a_progress_bar_instead_of_progress_lines(simulator, workspace) -> None:
    sim = simulator(token=TOKEN, records_per_page=RECORDS, pages=2)
    args = range_args(3, "--concurrency", "2", "--progress-interval", "0.1")
    result = run_on_terminal("extract_job", args, workspace.for_simulator(sim), workspace.root)
    assert result.code == 0, result.stderr
    assert "3/3" in result.stderr and "records" in result.stderr and "req/s" in result.stderr, result.stderr
    assert "progress:" not in result.stderr, "never both a bar and progress lines"
