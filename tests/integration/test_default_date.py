"""With no date, convert converts exactly the dates extract's last run wrote, even across midnight UTC.

Both jobs run in this process with a fixed clock (the ``clock`` seam of their
``main``): extract just before midnight, convert just after it.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from convert_job.cli import main as convert_main
from extract_job.cli import main as extract_main
from shared.last_run import last_run_path
from shared.manifest import verify_partition

from .extract_support import TOKEN

BEFORE_MIDNIGHT = datetime(2026, 11, 24, 23, 59, 59, tzinfo=timezone.utc)  # yesterday: 2026-11-23
AFTER_MIDNIGHT = datetime(2026, 11, 25, 0, 0, 1, tzinfo=timezone.utc)  # yesterday: 2026-11-24


def at(moment: datetime):
    return lambda: moment


@pytest.fixture
def env(simulator, workspace, monkeypatch: pytest.MonkeyPatch):
    sim = simulator(token=TOKEN, records_per_page=5, pages=2)
    for name, value in workspace.for_simulator(sim).items():
        monkeypatch.setenv(name, value)
    return workspace


def test_convert_takes_the_dates_extract_just_wrote_across_midnight(env) -> None:
    assert extract_main([], clock=at(BEFORE_MIDNIGHT)) == 0
    assert convert_main([], clock=at(AFTER_MIDNIGHT)) == 0

    assert sorted(p.name for p in (env.base / "stg" / "sales").iterdir()) == ["2026-11-23"]
    staging = verify_partition(env.base / "stg" / "sales" / "2026-11-23")
    assert staging["raw_run_id"] == verify_partition(env.partition("2026-11-23"))["run_id"]


def test_a_range_extract_is_converted_whole(env) -> None:
    assert extract_main(["--start", "2026-11-20", "--end", "2026-11-22"], clock=at(BEFORE_MIDNIGHT)) == 0
    assert convert_main([], clock=at(AFTER_MIDNIGHT)) == 0
    assert sorted(p.name for p in (env.base / "stg" / "sales").iterdir()) == ["2026-11-20", "2026-11-21", "2026-11-22"]


def test_without_a_record_convert_falls_back_to_yesterday(env) -> None:
    assert not last_run_path(env.base).exists()
    # No raw partition for yesterday (2026-11-24): the date fails, which shows which date was chosen.
    assert convert_main([], clock=at(AFTER_MIDNIGHT)) == 3
    assert not (env.base / "stg" / "sales" / "2026-11-24").exists()


def test_an_explicit_date_wins_over_the_record(env) -> None:
    assert extract_main(["--date", "2026-11-20"], clock=at(BEFORE_MIDNIGHT)) == 0
    assert extract_main(["--date", "2026-11-21"], clock=at(BEFORE_MIDNIGHT)) == 0
    assert convert_main(["--date", "2026-11-20"], clock=at(AFTER_MIDNIGHT)) == 0
    assert sorted(p.name for p in (env.base / "stg" / "sales").iterdir()) == ["2026-11-20"]
    assert convert_main([], clock=at(AFTER_MIDNIGHT)) == 0, "the record names the last run's date"
    assert sorted(p.name for p in (env.base / "stg" / "sales").iterdir()) == ["2026-11-20", "2026-11-21"]


def test_an_unreadable_record_is_a_usage_error(env) -> None:
    last_run_path(env.base).parent.mkdir(parents=True)
    last_run_path(env.base).write_text("{not json")
    assert convert_main([], clock=at(AFTER_MIDNIGHT)) == 2


def test_a_run_that_left_no_date_complete_records_none(env, capsys) -> None:
    assert extract_main(["--date", "2026-11-21"], clock=at(BEFORE_MIDNIGHT)) == 0
    # With --max-pages 1, a date of 2 pages fails: the record says the run left no date complete.
    assert extract_main(["--date", "2026-11-20", "--max-pages", "1"], clock=at(BEFORE_MIDNIGHT)) == 3
    assert json.loads(last_run_path(env.base).read_text())["dates"] == []

    capsys.readouterr()
    assert convert_main([], clock=at(AFTER_MIDNIGHT)) == 0
    assert (
        capsys.readouterr()
        .err.splitlines()[-1]
        .endswith("extract's last run left no date complete: nothing to convert")
    ), "one line, and not the previous run's date converted in its place"
    assert not (env.base / "stg").exists()


def test_a_rejected_token_records_no_date(env, monkeypatch: pytest.MonkeyPatch) -> None:
    assert extract_main(["--date", "2026-11-21"], clock=at(BEFORE_MIDNIGHT)) == 0
    monkeypatch.setenv("AUTH_TOKEN", "not-the-token")
    assert extract_main(["--start", "2026-11-18", "--end", "2026-11-19"], clock=at(BEFORE_MIDNIGHT)) == 3
    assert json.loads(last_run_path(env.base).read_text())["dates"] == []
