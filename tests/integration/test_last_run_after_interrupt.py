"""An interrupted extract records the dates it committed, so convert given no date converts those, not the last run's.

The run is stopped at a named phase (``shared.testhook``): the commit of its
third date, so exactly two dates are committed, whatever the machine's speed.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from shared.last_run import last_run_path
from shared.manifest import verify_partition

from ..support.jobs import run_job, start_paused
from .extract_support import TOKEN

EXIT_FOR: dict[int, int] = {signal.SIGINT: 130, signal.SIGTERM: 143}
PREVIOUS = ["2022-09-01", "2022-09-02"]
INTERRUPTED = [f"2022-11-0{n}" for n in range(1, 6)]


def committed(base: Path, days: list[str]) -> list[str]:
    return [day for day in days if (base / "raw" / "sales" / day / "_SUCCESS").is_file()]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_convert_takes_the_dates_an_interrupted_extract_committed(simulator, workspace, signum: int) -> None:
    env = workspace.for_simulator(simulator(token=TOKEN, records_per_page=5, pages=2))
    assert run_job("extract_job", ["--start", PREVIOUS[0], "--end", PREVIOUS[-1]], env, workspace.root).code == 0

    process = start_paused(
        "extract_job",
        ["--start", INTERRUPTED[0], "--end", INTERRUPTED[-1], "--concurrency", "2"],
        env,
        workspace.root,
        "extract.before-commit#3",
    )
    process.send_signal(signum)
    assert process.wait(timeout=60) == EXIT_FOR[signum]

    done = committed(workspace.base, INTERRUPTED)
    assert len(done) == 2, "stopped while committing its third date"
    assert json.loads(last_run_path(workspace.base).read_text())["dates"] == done

    converted = run_job("convert_job", [], env, workspace.root)
    assert converted.code == 0, converted.stderr
    assert sorted(p.name for p in (workspace.base / "stg" / "sales").iterdir()) == done
    for day in done:
        staging = verify_partition(workspace.base / "stg" / "sales" / day)
        assert staging["raw_run_id"] == verify_partition(workspace.partition(day))["run_id"]
