"""Today may be extracted (an intraday pull), but is not final; a date after today is refused before any work.

The jobs run in this process with a fixed clock (the ``clock`` seam of their
``main``), so "today" is the test's, never the machine's.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from functools import partial

import pytest

from convert_job.cli import main as convert_main
from extract_job.cli import main as extract_main
from shared.manifest import verify_partition

from ..support import jobs
from ..support.jobs import Result
from .extract_support import TOKEN

DAY = "2026-11-24"
AFTERNOON = datetime(2026, 11, 24, 15, 0, tzinfo=timezone.utc)
AFTER_MIDNIGHT = datetime(2026, 11, 25, 0, 0, 1, tzinfo=timezone.utc)


@pytest.fixture
def run(simulator, workspace, monkeypatch, capsys) -> Callable[..., Result]:
    """``run(moment, *argv)``: extract in this process against the simulator, its clock fixed at ``moment``."""
    env = workspace.for_simulator(simulator(token=TOKEN, records_per_page=5, pages=2))

    def extract(moment: datetime, *argv: str, main: Callable[..., int] = extract_main) -> Result:
        return jobs.run_in_process(partial(main, clock=lambda: moment), argv, env, monkeypatch, capsys)

    return extract


def test_today_is_fetched_again_by_missing_only_until_a_run_starts_after_it_ended(run, workspace) -> None:
    first = run(AFTERNOON, "--date", DAY)
    assert first.code == 0, first.stderr
    manifest = verify_partition(workspace.partition(DAY))
    assert manifest["started_at"] == "2026-11-24T15:00:00.000Z", "the manifest's start is the run's clock"

    again = run(AFTERNOON, "--date", DAY, "--missing-only")
    assert again.code == 0, again.stderr
    assert (
        f"{DAY}: complete, but its run started at 2026-11-24T15:00:00.000Z, before the day ended: "
        "fetching it again (--missing-only)"
    ) in again.stderr
    assert "1 date(s): 1 done, 0 skipped" in again.stderr
    assert verify_partition(workspace.partition(DAY))["run_id"] != manifest["run_id"]

    after = run(AFTER_MIDNIGHT, "--date", DAY, "--missing-only")
    assert after.code == 0, after.stderr
    assert "1 date(s): 1 done, 0 skipped" in after.stderr, "the last intraday pull is not final either"
    final = verify_partition(workspace.partition(DAY))
    assert final["started_at"] == "2026-11-25T00:00:01.000Z"

    done = run(AFTER_MIDNIGHT, "--date", DAY, "--missing-only")
    assert done.code == 0, done.stderr
    assert f"{DAY}: already complete, skipped (--missing-only)" in done.stderr
    assert verify_partition(workspace.partition(DAY))["run_id"] == final["run_id"]


def test_a_backfill_resumed_after_midnight_refetches_only_the_day_pulled_before_it_ended(run, workspace) -> None:
    assert run(AFTERNOON, "--start", "2026-11-23", "--end", DAY).code == 0
    resumed = run(AFTER_MIDNIGHT, "--start", "2026-11-23", "--end", DAY, "--missing-only")
    assert resumed.code == 0, resumed.stderr
    assert "2026-11-23: already complete, skipped (--missing-only)" in resumed.stderr
    assert f"{DAY}: complete, but its run started at" in resumed.stderr
    assert "2 date(s): 1 done, 1 skipped" in resumed.stderr


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        pytest.param(["--date", "2026-11-25"], "2026-11-25 is after today (2026-11-24, UTC)", id="tomorrow"),
        pytest.param(["--date", "3000-01-01"], "3000-01-01 is after today (2026-11-24, UTC)", id="year-3000"),
        pytest.param(
            ["--start", "2026-11-20", "--end", "2026-11-30"],
            "the range 2026-11-20..2026-11-30 reaches 2026-11-25, after today (2026-11-24, UTC)",
            id="range-into-the-future",
        ),
    ],
)
@pytest.mark.parametrize("tool", ["extract_job", "convert_job"])
def test_a_date_after_today_is_one_usage_line_before_any_work(run, workspace, tool, argv, named) -> None:
    main = extract_main if tool == "extract_job" else convert_main
    result = run(AFTERNOON, *argv, main=main)
    assert result.code == 2, result.stderr
    assert result.stderr.splitlines() == [f"{tool}: error: {named}: it has no sales yet"]
    assert not workspace.base.exists(), "nothing written"
