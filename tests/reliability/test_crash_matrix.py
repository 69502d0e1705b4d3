"""``kill -9`` at chosen points of a run: every partition is the previous complete one or the new complete one.

Each kill point is a phase of the job's work (``shared.testhook``): the job pauses
there, the test kills it, so what is checked never depends on the machine's speed.
For each point the expected state is known exactly: before the staging (or raw)
swap the previous partition, after it the new one. After each kill: the partition
verifies (manifest and every sha256) and is that state; for convert, the quarantine
run staging names exists, verifies and holds that state's rejects; a re-run
succeeds and leaves the new pair only; no temporary is left anywhere.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from sales_api_sim import data
from sales_api_sim.config import SimulatorConfig
from sales_api_sim.server import RunningSimulator
from shared.filenames import SUCCESS_FILE
from shared.manifest import verify_partition
from shared.quarantine import COMMITTED, REJECTED_FILE, rejected_records, run_folder, run_ids, run_status

from .support import (
    CONVERT,
    DAY,
    EXTRACT,
    assert_success,
    extract_env,
    hidden_entries,
    kill_now,
    page_name,
    run_job,
    snapshot,
    start_paused,
    write_raw_partition,
)

PREVIOUS, NEW = "previous", "new"


def copy_tree(source: Path, target: Path) -> None:
    # Hard links: the jobs never modify a file in place (they write new folders), so sharing is safe and fast.
    shutil.copytree(source, target, copy_function=os.link)


# --- extract -------------------------------------------------------------------------------------------------

EXTRACT_DATA = {"pages": 16, "records_per_page": 50}
EXTRACT_FLAGS = ("--date", DAY, "--concurrency", "2", "--max-attempts", "2", "--backoff", "0.01")
EXTRACT_KILL_POINTS = [
    pytest.param("extract.page-stored#1", PREVIOUS, id="first-page-stored"),
    pytest.param("extract.page-stored#8", PREVIOUS, id="half-the-pages-stored"),
    pytest.param("extract.page-stored#16", PREVIOUS, id="every-page-stored"),
    pytest.param("extract.before-commit", PREVIOUS, id="before-the-manifest"),
    pytest.param("partition.synced", PREVIOUS, id="synced-before-the-swap"),
    pytest.param("partition.swapped", NEW, id="swapped-before-the-old-is-removed"),
]


@pytest.mark.parametrize(("phase", "expected"), EXTRACT_KILL_POINTS)
def test_extract_killed_at_any_point_leaves_the_previous_or_the_new_partition(
    sales_api: Callable[..., RunningSimulator], tmp_path: Path, phase: str, expected: str
) -> None:
    sim = sales_api(**EXTRACT_DATA)
    new = {page_name(n): data.render_page(sim.config, DAY, n) for n in range(1, EXTRACT_DATA["pages"] + 1)}
    base = tmp_path / "data"
    partition = base / "raw" / "sales" / DAY
    write_raw_partition(partition, {page_name(1): b'[{"previous": 1}]', page_name(2): b'[{"previous": 2}]'})
    previous = snapshot(partition)

    kill_now(start_paused(EXTRACT, EXTRACT_FLAGS, extract_env(sim, base), tmp_path, phase))

    verify_partition(partition)
    pages = {p.name: p.read_bytes() for p in partition.iterdir() if p.name != SUCCESS_FILE}
    if expected == PREVIOUS:
        assert snapshot(partition) == previous, f"killed at {phase}: not the previous partition"
    else:
        assert pages == new, f"killed at {phase}: not the new partition"

    assert_success(run_job(EXTRACT, EXTRACT_FLAGS, extract_env(sim, base), tmp_path))
    verify_partition(partition)
    assert {p.name: p.read_bytes() for p in partition.iterdir() if p.name != SUCCESS_FILE} == new
    assert hidden_entries(partition.parent) == [], f"killed at {phase}: hidden_entries left after the re-run"


# --- convert: the staging / quarantine pair ---------------------------------------------------------------

# 80 000 records, 10 MB of raw JSON (0.4% invalid, under the 1% ratio, so there are rejects to pair).
BIG = SimulatorConfig(records_per_page=2000, invalid_rate=0.004)
BIG_PAGES = 40

# The quarantine run folder is committed first (a plain rename: its folder is new), staging second (a swap).
CONVERT_KILL_POINTS = [
    pytest.param("convert.page#1", PREVIOUS, id="first-page-converted"),
    pytest.param("convert.page#20", PREVIOUS, id="mid-avro"),
    pytest.param("convert.page#40", PREVIOUS, id="last-page-converted"),
    pytest.param("convert.rejects-written", PREVIOUS, id="rejects-written"),
    pytest.param("partition.synced#1", PREVIOUS, id="quarantine-run-synced"),
    pytest.param("convert.quarantine-committed", PREVIOUS, id="quarantine-run-committed-staging-not"),
    pytest.param("partition.synced#2", PREVIOUS, id="staging-synced-before-the-swap"),
    pytest.param("partition.swapped", NEW, id="staging-swapped-before-the-old-is-removed"),
    pytest.param("convert.staging-committed", NEW, id="staging-committed-quarantine-unsettled"),
    pytest.param("quarantine.run-removed", NEW, id="mid-settle"),
]


@dataclass(frozen=True)
class ConvertCase:
    """A big raw partition, a previous conversion (pair) of other data, and the new pair's facts."""

    raw: Path
    previous: Path  # a BASE_DIR with stg/ and quarantine/ only
    raw_run_id: str
    records_written: int
    rejects: dict[str, bytes]  # state -> the bytes of the rejects file staging names

    def setup(self, base: Path) -> None:
        copy_tree(self.previous, base)
        copy_tree(self.raw, base / "raw" / "sales" / DAY)

    def state(self, base: Path) -> str:
        """Which pair ``base`` holds, after checking that staging and the rejects it names are complete and match."""
        staging = verify_partition(base / "stg" / "sales" / DAY)
        quarantine = base / "quarantine" / "sales" / DAY
        rejected_records(quarantine, staging)  # the named run exists, verifies, and its sha256 is the one named
        rejects = (run_folder(quarantine, staging["quarantine"]["run_id"]) / REJECTED_FILE).read_bytes()
        state = NEW if staging["raw_run_id"] == self.raw_run_id else PREVIOUS
        assert rejects == self.rejects[state], f"staging is the {state} one but its rejects are not"
        if state == NEW:
            assert staging["records_written"] == self.records_written
        return state


def paired_rejects(base: Path) -> bytes:
    staging = verify_partition(base / "stg" / "sales" / DAY)
    return (
        run_folder(base / "quarantine" / "sales" / DAY, staging["quarantine"]["run_id"]) / REJECTED_FILE
    ).read_bytes()


@pytest.fixture(scope="module")
def convert_case(tmp_path_factory: pytest.TempPathFactory) -> ConvertCase:
    root = tmp_path_factory.mktemp("convert-crash")
    raw = root / "big-raw"
    write_raw_partition(raw, {page_name(n): data.render_page(BIG, DAY, n) for n in range(1, BIG_PAGES + 1)})
    previous = root / "previous" / "data"
    small = SimulatorConfig(seed=7, records_per_page=1000, invalid_rate=0.008)
    write_raw_partition(previous / "raw" / "sales" / DAY, {page_name(1): data.render_page(small, DAY, 1)})
    assert_success(run_job(CONVERT, ["--date", DAY], {"BASE_DIR": str(previous)}, root))
    previous_rejects = paired_rejects(previous)
    assert previous_rejects, "the previous run must have rejects"
    shutil.rmtree(previous / "raw")

    reference = root / "reference"
    draft = ConvertCase(raw, previous, verify_partition(raw)["run_id"], 0, {})
    draft.setup(reference)
    assert_success(run_job(CONVERT, ["--date", DAY], {"BASE_DIR": str(reference)}, root))
    manifest = verify_partition(reference / "stg" / "sales" / DAY)
    assert manifest["raw_run_id"] == draft.raw_run_id and manifest["records_rejected"] > 0
    new_rejects = paired_rejects(reference)
    assert new_rejects != previous_rejects
    return ConvertCase(
        raw, previous, draft.raw_run_id, manifest["records_written"], {PREVIOUS: previous_rejects, NEW: new_rejects}
    )


def no_temporaries(base: Path) -> list[str]:
    folders = [base / zone / "sales" for zone in ("raw", "stg", "quarantine")] + [base / "quarantine" / "sales" / DAY]
    return [name for folder in folders for name in hidden_entries(folder)]


@pytest.mark.parametrize(("phase", "expected"), CONVERT_KILL_POINTS)
def test_convert_killed_at_any_point_leaves_a_complete_matching_pair(
    convert_case: ConvertCase, tmp_path: Path, phase: str, expected: str
) -> None:
    case = convert_case
    base = tmp_path / "data"
    case.setup(base)

    kill_now(start_paused(CONVERT, ["--date", DAY], {"BASE_DIR": str(base)}, tmp_path, phase))

    assert case.state(base) == expected, f"killed at {phase}"
    verify_partition(base / "raw" / "sales" / DAY)

    assert_success(run_job(CONVERT, ["--date", DAY], {"BASE_DIR": str(base)}, tmp_path))
    assert case.state(base) == NEW, f"killed at {phase}: the re-run did not produce the new pair"
    quarantine = base / "quarantine" / "sales" / DAY
    [run] = run_ids(quarantine)
    assert run_status(quarantine, run) == COMMITTED, f"killed at {phase}: older or dead runs' rejects are left"
    assert no_temporaries(base) == [], f"killed at {phase}: hidden_entries left after the re-run"


# --- what a run killed after its swap leaves behind ----------------------------------------------------------
# A kill between the swap and the removal of the old folder leaves a hidden ``.<date>.tmp-<run id>`` beside a
# complete partition. The window is a millisecond wide, so the matrix above rarely lands in it; here the
# leftover is made by hand, and the next run must remove it even when it finds nothing to do.


def leave_a_dead_runs_leftover(partition: Path) -> Path:
    leftover = partition.parent / f".{partition.name}.tmp-0123456789abcdef0123456789abcdef"
    leftover.mkdir()
    (leftover / page_name(1)).write_bytes(b"[]")
    return leftover


def test_convert_with_nothing_to_do_still_removes_a_dead_runs_leftovers(tmp_path: Path) -> None:
    base = tmp_path / "data"
    write_raw_partition(base / "raw" / "sales" / DAY, {page_name(1): data.render_page(BIG, DAY, 1)})
    assert_success(run_job(CONVERT, ["--date", DAY], {"BASE_DIR": str(base)}, tmp_path))
    staging, quarantine = (base / zone / "sales" / DAY for zone in ("stg", "quarantine"))
    before = snapshot(staging)
    leftovers = [leave_a_dead_runs_leftover(staging), leave_a_dead_runs_leftover(quarantine)]

    result = run_job(CONVERT, ["--date", DAY], {"BASE_DIR": str(base)}, tmp_path)

    assert_success(result)
    assert "up to date" in result.stderr
    assert snapshot(staging) == before
    assert [p for p in leftovers if p.exists()] == []


def test_extract_missing_only_with_nothing_to_do_still_removes_a_dead_runs_leftovers(
    sales_api: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    sim = sales_api(pages=2, records_per_page=10)
    base = tmp_path / "data"
    assert_success(run_job(EXTRACT, ["--date", DAY], extract_env(sim, base), tmp_path))
    partition = base / "raw" / "sales" / DAY
    before = snapshot(partition)
    leftover = leave_a_dead_runs_leftover(partition)

    result = run_job(EXTRACT, ["--date", DAY, "--missing-only"], extract_env(sim, base), tmp_path)

    assert_success(result)
    assert "skipped (--missing-only)" in result.stderr
    assert snapshot(partition) == before
    assert not leftover.exists()


# --- SIGTERM (docker stop): the run unwinds, so not even a temporary is left ----------------------------------
# Stopped where the main thread is at a phase (a worker thread paused for good would keep the run from unwinding).

EXTRACT_TERM_POINTS = ["extract.before-commit", "partition.synced"]
CONVERT_TERM_POINTS = ["convert.page#1", "convert.page#20", "convert.rejects-written", "convert.quarantine-committed"]


def stop_at(tool: str, args: list[str], env: dict[str, str], tmp_path: Path, phase: str) -> None:
    """Start ``tool``, SIGTERM it at ``phase``: exit 143 with one "stopped" line and no traceback."""
    log = tmp_path / f"{tool}.stderr"
    with log.open("wb") as stderr:
        process = start_paused(tool, args, env, tmp_path, phase, stderr=stderr)
        process.send_signal(signal.SIGTERM)
        status = process.wait(timeout=60)
    text = log.read_text()
    assert status == 143, f"stopped at {phase}: exit {status}\n{text}"
    assert f"{tool}: stopped (SIGTERM)" in text and "Traceback" not in text, text


@pytest.mark.parametrize("phase", EXTRACT_TERM_POINTS)
def test_extract_stopped_by_sigterm_exits_143_and_leaves_no_temporary(
    sales_api: Callable[..., RunningSimulator], tmp_path: Path, phase: str
) -> None:
    sim = sales_api(**EXTRACT_DATA)
    base = tmp_path / "data"
    partition = base / "raw" / "sales" / DAY
    write_raw_partition(partition, {page_name(1): b'[{"previous": 1}]'})
    previous = snapshot(partition)

    stop_at(EXTRACT, list(EXTRACT_FLAGS), extract_env(sim, base), tmp_path, phase)

    assert snapshot(partition) == previous
    assert hidden_entries(partition.parent) == []


@pytest.mark.parametrize("phase", CONVERT_TERM_POINTS)
def test_convert_stopped_by_sigterm_exits_143_and_leaves_no_temporary(
    convert_case: ConvertCase, tmp_path: Path, phase: str
) -> None:
    base = tmp_path / "data"
    convert_case.setup(base)
    before = {zone: snapshot(base / zone) for zone in ("stg", "quarantine")}

    stop_at(CONVERT, ["--date", DAY], {"BASE_DIR": str(base)}, tmp_path, phase)

    assert convert_case.state(base) == PREVIOUS
    if phase != "convert.quarantine-committed":  # there, the new run's pending rejects are left for the next run
        assert {zone: snapshot(base / zone) for zone in ("stg", "quarantine")} == before
    assert no_temporaries(base) == []


# --- a date range converted by worker processes ---------------------------------------------------------------


def children_of(pid: int) -> list[int]:
    """Live processes whose parent is ``pid`` (from /proc; field 4 of stat, after the command in parentheses)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_convert_killed_mid_range_leaves_no_worker_running(tmp_path: Path) -> None:
    """``kill -9`` of a range run must take its worker processes with it.

    Otherwise they convert on after the job is reported dead, racing the re-run, and then wait forever for work
    from a parent that is gone. The kill comes when both workers are mid-conversion (paused at their fifth page).
    """
    base = tmp_path / "data"
    days = ("2022-08-09", "2022-08-10")
    for day in days:
        write_raw_partition(
            base / "raw" / "sales" / day,
            {page_name(n, day): data.render_page(BIG, day, n) for n in range(1, 11)},
            day=day,
        )
    args = ["--start", days[0], "--end", days[1], "--workers", "2"]
    process = start_paused(CONVERT, args, {"BASE_DIR": str(base)}, tmp_path, "convert.page#5", processes=2)
    workers = children_of(process.pid)
    assert len(workers) == 2, f"expected the two workers, found {workers}"

    kill_now(process)
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.01)  # polling /proc for what the kernel has done, not waiting for a guessed duration
    survivors = [pid for pid in workers if alive(pid)]
    for pid in survivors:  # never leave them behind, even when the test fails
        os.kill(pid, signal.SIGKILL)
    assert survivors == [], "worker processes outlived the killed job"

    assert_success(run_job(CONVERT, args, {"BASE_DIR": str(base)}, tmp_path))
    for day in days:
        verify_partition(base / "stg" / "sales" / day)
    for zone in ("raw", "stg", "quarantine"):
        assert hidden_entries(base / zone / "sales") == []


# --- a range through one scheduler: killed while dates are pipelined ----------------------------------------

RANGE_DAYS = ["2022-08-09", "2022-08-10", "2022-08-11", "2022-08-12", "2022-08-13", "2022-08-14"]
RANGE_FLAGS = ("--start", RANGE_DAYS[0], "--end", RANGE_DAYS[-1], "--concurrency", "4", "--backoff", "0.01")


@pytest.mark.parametrize(
    "phase",
    [
        pytest.param("extract.page-stored#9", id="pages-of-several-dates-in-flight"),
        pytest.param("extract.before-commit#3", id="before-the-third-commit"),
        pytest.param("partition.swapped#2", id="second-date-swapped"),
    ],
)
def test_extract_killed_during_a_range_leaves_each_date_previous_or_new(
    sales_api: Callable[..., RunningSimulator], tmp_path: Path, phase: str
) -> None:
    sim = sales_api(records_per_page=10)
    base = tmp_path / "data"
    previous = {}
    for day in RANGE_DAYS:
        partition = base / "raw" / "sales" / day
        write_raw_partition(partition, {page_name(1, day): b'[{"previous": 1}]'}, day=day)
        previous[day] = snapshot(partition)

    kill_now(start_paused(EXTRACT, RANGE_FLAGS, extract_env(sim, base), tmp_path, phase))

    states = {}
    for day in RANGE_DAYS:
        partition = base / "raw" / "sales" / day
        verify_partition(partition)
        if snapshot(partition) == previous[day]:
            states[day] = PREVIOUS
        else:
            pages = {p.name: p.read_bytes() for p in partition.iterdir() if p.name != SUCCESS_FILE}
            expected = {
                page_name(n, day): data.render_page(sim.config, day, n)
                for n in range(1, data.pages_for_date(sim.config, day) + 1)
            }
            assert pages == expected, f"killed at {phase}: {day} is neither the previous nor the new partition"
            states[day] = NEW
    assert PREVIOUS in states.values(), f"killed at {phase}: the run cannot have finished every date"
    assert_success(run_job(EXTRACT, RANGE_FLAGS, extract_env(sim, base), tmp_path))
    assert hidden_entries(base / "raw" / "sales") == [], "the next run cleans what the killed one left"
