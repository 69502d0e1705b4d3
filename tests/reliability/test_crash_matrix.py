"""``kill -9`` at many instants of a run: every partition is the previous complete one or the new complete one.

For each job an unkilled run is timed first; the kill delays are then spread
evenly over that duration, plus a few packed near its end (where the swap
happens). After each kill: the partition verifies (manifest and every sha256)
and is exactly the previous one or exactly the new one; a re-run succeeds; and
no temporary (``.``-prefixed entry) is left in the zone's dataset folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from sales_api_sim import data
from sales_api_sim.config import SimulatorConfig
from sales_api_sim.server import RunningSimulator
from shared.manifest import SUCCESS_FILE, verify_partition

from .support import (
    CONVERT,
    DAY,
    EXTRACT,
    assert_success,
    extract_env,
    job_command,
    job_env,
    kill_after,
    page_name,
    run_job,
    snapshot,
    start_job,
    temporaries,
    write_raw_partition,
)

EVEN_KILLS = 20
TAIL_KILLS = (0.12, 0.06, 0.03, 0.01)  # seconds before the measured end


def kill_delays(duration: float) -> list[float]:
    """``EVEN_KILLS`` instants spread evenly over ``duration``, plus a few just before its end."""
    even = [duration * (i + 0.5) / EVEN_KILLS for i in range(EVEN_KILLS)]
    return even + [max(0.0, duration - before) for before in TAIL_KILLS]


def copy_tree(source: Path, target: Path) -> None:
    # Hard links: the jobs never modify a file in place (they write new folders), so sharing is safe and fast.
    shutil.copytree(source, target, copy_function=os.link)


# --- extract -------------------------------------------------------------------------------------------------

# ~0.1 s per round of 2 requests over 16 pages: an unkilled run lasts about 1 s.
EXTRACT_DATA = {"pages": 16, "records_per_page": 50}
EXTRACT_FLAGS = ("--date", DAY, "--concurrency", "2", "--max-attempts", "2", "--backoff", "0.01")


def test_extract_killed_at_any_instant_leaves_the_previous_or_the_new_partition(
    sales_api: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    slow = sales_api(latency=0.1, **EXTRACT_DATA)
    fast = sales_api(**EXTRACT_DATA)
    expected = {page_name(n): data.render_page(slow.config, DAY, n) for n in range(1, EXTRACT_DATA["pages"] + 1)}
    previous = tmp_path / "previous"
    write_raw_partition(previous, {page_name(1): b'[{"previous": 1}]', page_name(2): b'[{"previous": 2}]'})
    previous_bytes = snapshot(previous)

    def new_partition_complete(partition: Path) -> bool:
        verify_partition(partition)
        return {p.name: p.read_bytes() for p in partition.iterdir() if p.name != SUCCESS_FILE} == expected

    reference = tmp_path / "reference"
    copy_tree(previous, reference / "raw" / "sales" / DAY)
    unkilled = run_job(EXTRACT, EXTRACT_FLAGS, extract_env(slow, reference), tmp_path)
    assert_success(unkilled)
    assert new_partition_complete(reference / "raw" / "sales" / DAY)

    def kill_once(i: int, delay: float) -> str:
        base = tmp_path / f"kill-{i:02d}"
        partition = base / "raw" / "sales" / DAY
        copy_tree(previous, partition)
        status = kill_after(start_job(EXTRACT, EXTRACT_FLAGS, extract_env(slow, base), tmp_path), delay)

        where = f"kill {i} at {delay:.3f}s of {unkilled.seconds:.3f}s"
        verify_partition(partition)
        if snapshot(partition) == previous_bytes:
            state = "previous"
        else:
            assert new_partition_complete(partition), f"{where}: neither the previous nor the new partition"
            state = "new"

        assert_success(run_job(EXTRACT, EXTRACT_FLAGS, extract_env(fast, base), tmp_path))
        assert new_partition_complete(partition), f"{where}: the re-run did not produce the new partition"
        assert temporaries(partition.parent) == [], f"{where}: temporaries left after the re-run"
        shutil.rmtree(base)
        return f"{state} ({'killed' if status == -9 else 'finished'})"

    # Two kills at a time: an extract run mostly waits on the network, so they barely disturb each other.
    delays = kill_delays(unkilled.seconds)
    with ThreadPoolExecutor(max_workers=2) as lanes:
        seen = Counter(lanes.map(kill_once, range(len(delays)), delays))

    print(f"extract: unkilled run {unkilled.seconds:.2f}s; after each kill: {dict(seen)}")
    assert seen["previous (killed)"] >= 5 and sum(n for s, n in seen.items() if "killed" in s) >= 15, dict(seen)


# --- convert -------------------------------------------------------------------------------------------------

# 80 000 records, 10 MB of raw JSON (0.4% invalid, under the 1% ratio, so quarantine is written too).
BIG = SimulatorConfig(records_per_page=2000, invalid_rate=0.004)
BIG_PAGES = 40


@dataclass(frozen=True)
class ConvertCase:
    """A big raw partition, a previous conversion of other data, and what an unkilled run produces."""

    raw: Path
    previous: Path  # a BASE_DIR with stg/ and quarantine/ only
    raw_run_id: str
    unkilled_seconds: float
    records_written: int
    new_quarantine: dict[str, bytes]

    def setup(self, base: Path) -> None:
        copy_tree(self.previous, base)
        copy_tree(self.raw, base / "raw" / "sales" / DAY)

    def new_staging_complete(self, staging: Path) -> bool:
        manifest = verify_partition(staging)
        return manifest["raw_run_id"] == self.raw_run_id and manifest["records_written"] == self.records_written


@pytest.fixture(scope="module")
def convert_case(tmp_path_factory: pytest.TempPathFactory) -> ConvertCase:
    root = tmp_path_factory.mktemp("convert-crash")
    raw = root / "big-raw"
    write_raw_partition(raw, {page_name(n): data.render_page(BIG, DAY, n) for n in range(1, BIG_PAGES + 1)})
    previous = root / "previous" / "data"
    small = SimulatorConfig(seed=7, records_per_page=1000, invalid_rate=0.008)
    write_raw_partition(previous / "raw" / "sales" / DAY, {page_name(1): data.render_page(small, DAY, 1)})
    assert_success(run_job(CONVERT, ["--date", DAY], {"BASE_DIR": str(previous)}, root))
    assert (previous / "quarantine" / "sales" / DAY / "rejected.jsonl").exists(), "the previous run must have rejects"
    shutil.rmtree(previous / "raw")

    reference = root / "reference"
    case = ConvertCase(raw, previous, verify_partition(raw)["run_id"], 0.0, 0, {})
    case.setup(reference)
    unkilled = run_job(CONVERT, ["--date", DAY], {"BASE_DIR": str(reference)}, root)
    assert_success(unkilled)
    manifest = verify_partition(reference / "stg" / "sales" / DAY)
    assert manifest["raw_run_id"] == case.raw_run_id and manifest["records_rejected"] > 0
    return ConvertCase(
        raw,
        previous,
        case.raw_run_id,
        unkilled.seconds,
        manifest["records_written"],
        snapshot(reference / "quarantine" / "sales" / DAY),
    )


def test_convert_killed_at_any_instant_leaves_the_previous_or_the_new_partition(
    convert_case: ConvertCase, tmp_path: Path
) -> None:
    case = convert_case
    previous_stg = snapshot(case.previous / "stg" / "sales" / DAY)
    previous_quarantine = snapshot(case.previous / "quarantine" / "sales" / DAY)

    seen: Counter[str] = Counter()
    for i, delay in enumerate(kill_delays(case.unkilled_seconds)):
        base = tmp_path / f"kill-{i:02d}"
        case.setup(base)
        staging, quarantine = (base / zone / "sales" / DAY for zone in ("stg", "quarantine"))
        status = kill_after(start_job(CONVERT, ["--date", DAY], {"BASE_DIR": str(base)}, tmp_path), delay)

        where = f"kill {i} at {delay:.3f}s of {case.unkilled_seconds:.3f}s"
        verify_partition(staging)
        if snapshot(staging) == previous_stg:
            state = "previous"
        else:
            assert case.new_staging_complete(staging), f"{where}: staging is neither the previous nor the new one"
            state = "new"
        # Quarantine is published just before staging: a kill in between pairs new rejects with the old staging.
        assert snapshot(quarantine) in (previous_quarantine, case.new_quarantine), f"{where}: quarantine is partial"
        verify_partition(base / "raw" / "sales" / DAY)
        seen[f"{state} ({'killed' if status == -9 else 'finished'})"] += 1

        assert_success(run_job(CONVERT, ["--date", DAY], {"BASE_DIR": str(base)}, tmp_path))
        assert case.new_staging_complete(staging), f"{where}: the re-run did not produce the new partition"
        assert snapshot(quarantine) == case.new_quarantine, f"{where}: the re-run did not produce the new rejects"
        for zone in ("raw", "stg", "quarantine"):
            assert temporaries(base / zone / "sales") == [], f"{where}: temporaries left in {zone} after the re-run"
        shutil.rmtree(base)

    print(f"convert: unkilled run {case.unkilled_seconds:.2f}s; after each kill: {dict(seen)}")
    assert seen["previous (killed)"] >= 5 and sum(n for s, n in seen.items() if "killed" in s) >= 15, dict(seen)


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

TERM_INSTANTS = 6


def term_after(process: subprocess.Popen[bytes], delay: float) -> int:
    try:
        process.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
    return process.wait(timeout=30)


def assert_terminated_cleanly(status: int, stderr: bytes, tool: str) -> str:
    """130 with "<tool>: interrupted" once the handler is installed; -15 if SIGTERM beat it (during imports)."""
    text = stderr.decode()
    assert "Traceback" not in text, text
    if status == 130:
        assert f"{tool}: interrupted" in text
        return "interrupted"
    assert status in (0, -signal.SIGTERM), f"unexpected exit status {status}\n{text}"
    return "finished" if status == 0 else "terminated before start"


def test_extract_stopped_by_sigterm_leaves_no_temporary(
    sales_api: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    slow = sales_api(latency=0.1, **EXTRACT_DATA)
    previous = tmp_path / "previous"
    write_raw_partition(previous, {page_name(1): b'[{"previous": 1}]'})
    seen: Counter[str] = Counter()
    for i in range(TERM_INSTANTS):
        base = tmp_path / f"term-{i}"
        partition = base / "raw" / "sales" / DAY
        copy_tree(previous, partition)
        process = subprocess.Popen(
            job_command(EXTRACT, EXTRACT_FLAGS),
            env=job_env(extract_env(slow, base)),
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        status = term_after(process, 0.15 + 0.9 * i / TERM_INSTANTS)
        seen[assert_terminated_cleanly(status, process.stderr.read(), EXTRACT)] += 1
        process.stderr.close()

        verify_partition(partition)
        assert temporaries(partition.parent) == [], f"SIGTERM {i}: a temporary was left"
    print(f"extract: SIGTERM during a run: {dict(seen)}")
    assert seen["interrupted"] >= TERM_INSTANTS // 2, dict(seen)


def test_convert_stopped_by_sigterm_leaves_no_temporary(convert_case: ConvertCase, tmp_path: Path) -> None:
    case = convert_case
    previous_stg = snapshot(case.previous / "stg" / "sales" / DAY)
    seen: Counter[str] = Counter()
    for i in range(TERM_INSTANTS):
        base = tmp_path / f"term-{i}"
        case.setup(base)
        process = subprocess.Popen(
            job_command(CONVERT, ["--date", DAY]),
            env=job_env({"BASE_DIR": str(base)}),
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        status = term_after(process, case.unkilled_seconds * (0.3 + 0.6 * i / TERM_INSTANTS))
        seen[assert_terminated_cleanly(status, process.stderr.read(), CONVERT)] += 1
        process.stderr.close()

        staging = base / "stg" / "sales" / DAY
        assert snapshot(staging) == previous_stg or case.new_staging_complete(staging)
        for zone in ("raw", "stg", "quarantine"):
            assert temporaries(base / zone / "sales") == [], f"SIGTERM {i}: a temporary was left in {zone}"
    print(f"convert: SIGTERM during a {case.unkilled_seconds:.2f}s run: {dict(seen)}")
    assert seen["interrupted"] >= TERM_INSTANTS // 2, dict(seen)


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


def test_convert_killed_mid_range_leaves_no_worker_running(convert_case: ConvertCase, tmp_path: Path) -> None:
    """``kill -9`` of a range run must take its worker processes with it.

    Otherwise they convert on after the job is reported dead, racing the re-run, and then wait forever for work
    from a parent that is gone.
    """
    base = tmp_path / "data"
    days = ("2022-08-09", "2022-08-10")
    for day in days:
        write_raw_partition(
            base / "raw" / "sales" / day,
            {page_name(n, day): data.render_page(BIG, day, n) for n in range(1, BIG_PAGES + 1)},
            day=day,
        )
    args = ["--start", days[0], "--end", days[1], "--workers", "2"]
    process = start_job(CONVERT, args, {"BASE_DIR": str(base)}, tmp_path)
    workers: list[int] = []
    deadline = time.monotonic() + 10
    while len(workers) < 2 and time.monotonic() < deadline:
        workers = children_of(process.pid)
        time.sleep(0.01)
    assert len(workers) == 2, "the workers never started"
    time.sleep(case_fraction := convert_case.unkilled_seconds * 0.3)

    kill_after(process, 0)
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.02)
    survivors = [pid for pid in workers if alive(pid)]
    for pid in survivors:  # never leave them behind, even when the test fails
        os.kill(pid, signal.SIGKILL)
    assert survivors == [], f"worker processes outlived the killed job (killed {case_fraction:.2f}s in)"

    assert_success(run_job(CONVERT, args, {"BASE_DIR": str(base)}, tmp_path))
    for day in days:
        verify_partition(base / "stg" / "sales" / day)
    for zone in ("raw", "stg", "quarantine"):
        assert temporaries(base / zone / "sales") == []
