"""``shared.partition``: a partition is replaced whole, or not at all, and dead runs leave nothing behind."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from shared import partition as partition_module
from shared.errors import PartitionError
from shared.filenames import is_temporary
from shared.partition import PartitionWriter, clean_leftovers, remove_partition

from ..support.files import hidden_entries, snapshot


def write_partition(target: Path, run_id: str, files: dict[str, bytes]) -> None:
    with PartitionWriter(target, run_id) as writer:
        for name, data in files.items():
            writer.write_bytes(name, data)
        writer.commit()


OLD = {"sales_2026-11-24_1.json": b"[1]", "sales_2026-11-24_2.json": b"[2]", "_SUCCESS": b"{}\n"}
NEW = {"sales_2026-11-24_3.json": b"[3, 4]", "_SUCCESS": b'{"new": true}\n'}


@pytest.fixture(params=["exchange", "rename-aside"])
def swap(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run each test with the atomic exchange and with the fallback for systems without it."""
    if request.param == "rename-aside":
        monkeypatch.setattr(partition_module, "_exchange", lambda a, b: False)
    return str(request.param)


@pytest.fixture
def target(tmp_path: Path) -> Path:
    return tmp_path / "raw" / "sales" / "2026-11-24"


def test_first_commit_creates_the_partition(target: Path, swap: str) -> None:
    write_partition(target, "run1", OLD)
    assert snapshot(target) == OLD
    assert hidden_entries(target.parent) == []


def test_commit_replaces_the_whole_partition(target: Path, swap: str) -> None:
    write_partition(target, "run1", OLD)
    write_partition(target, "run2", NEW)
    assert snapshot(target) == NEW, "files of the old partition do not survive"
    assert hidden_entries(target.parent) == []


def test_exception_leaves_the_old_partition_byte_for_byte(target: Path, swap: str) -> None:
    write_partition(target, "run1", OLD)
    before = snapshot(target)
    with pytest.raises(RuntimeError, match="page 3 failed"), PartitionWriter(target, "run2") as writer:
        writer.write_bytes("sales_2026-11-24_1.json", b"[999]")
        with writer.open("sales_2026-11-24_3.json") as handle:
            handle.write(b"[half")
        raise RuntimeError("page 3 failed")
    assert snapshot(target) == before
    assert hidden_entries(target.parent) == []


def test_no_commit_leaves_no_partition(target: Path) -> None:
    with PartitionWriter(target, "run1") as writer:
        writer.write_bytes("sales_2026-11-24_1.json", b"[1]")
    assert not target.exists()
    assert hidden_entries(target.parent) == []


def test_files_are_written_into_the_hidden_temporary_folder(target: Path) -> None:
    with PartitionWriter(target, "abc123") as writer:
        assert writer.tmp == target.parent / ".2026-11-24.tmp-abc123"
        writer.write_bytes("sales_2026-11-24_1.json", b"[1]")
        assert (writer.tmp / "sales_2026-11-24_1.json").read_bytes() == b"[1]"
        assert not target.exists()
        writer.commit()
    assert not writer.tmp.exists()


def test_a_file_name_cannot_be_written_twice(target: Path) -> None:
    with PartitionWriter(target, "run1") as writer:
        writer.write_bytes("sales_2026-11-24_1.json", b"[1]")
        with pytest.raises(FileExistsError):
            writer.write_bytes("sales_2026-11-24_1.json", b"[2]")


def test_streamed_file_is_committed(target: Path) -> None:
    with PartitionWriter(target, "run1") as writer:
        with writer.open("data.avro") as handle:
            for chunk in (b"a" * 1000, b"b" * 1000):
                handle.write(chunk)
        writer.commit()
    assert (target / "data.avro").read_bytes() == b"a" * 1000 + b"b" * 1000


def test_files_may_be_written_from_several_threads(target: Path) -> None:
    expected = {f"t{t}_{n}.json": f"[{t}, {n}]".encode() for t in range(8) for n in range(25)}
    with PartitionWriter(target, "run1") as writer:

        def write_share(t: int) -> None:
            for n in range(25):
                writer.write_bytes(f"t{t}_{n}.json", f"[{t}, {n}]".encode())

        threads = [threading.Thread(target=write_share, args=(t,)) for t in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        writer.commit()
    assert snapshot(target) == expected


def test_leftovers_of_a_dead_run_are_removed_on_the_next_run(target: Path, swap: str) -> None:
    write_partition(target, "run1", OLD)
    dead_tmp = target.parent / ".2026-11-24.tmp-deadrun"
    dead_tmp.mkdir()
    (dead_tmp / "sales_2026-11-24_1.json").write_bytes(b"[partial")
    dead_old = target.parent / ".2026-11-24.old-deadrun2"  # target exists, so this is just garbage
    dead_old.mkdir()
    (dead_old / "_SUCCESS").write_bytes(b"x")
    write_partition(target, "run2", NEW)
    assert snapshot(target) == NEW
    assert hidden_entries(target.parent) == []


def test_a_leftover_holding_foreign_files_keeps_them(target: Path) -> None:
    """Removal deletes only names of the project's patterns; a foreign file stays, and so does its folder."""
    write_partition(target, "run1", OLD)
    dead_tmp = target.parent / ".2026-11-24.tmp-deadrun"
    dead_tmp.mkdir()
    (dead_tmp / "sales_2026-11-24_1.json").write_bytes(b"[partial")
    (dead_tmp / "thesis.txt").write_bytes(b"four years of work")
    write_partition(target, "run2", NEW)
    assert snapshot(target) == NEW
    assert snapshot(dead_tmp) == {"thesis.txt": b"four years of work"}


@pytest.mark.parametrize("kind", ["tmp", "old"])
def test_a_file_left_where_a_temporary_folder_belongs_is_repaired(target: Path, kind: str) -> None:
    """Older versions swapped a file found at the partition path into a temporary name; that must not stick."""
    write_partition(target, "run1", OLD)
    stuck = target.parent / f".2026-11-24.{kind}-0123456789abcdef"
    stuck.write_bytes(b"a file, not a folder")
    write_partition(target, "run2", NEW)
    assert snapshot(target) == NEW
    assert hidden_entries(target.parent) == []


def test_a_file_at_the_partition_path_is_refused_at_commit(target: Path) -> None:
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not a partition")
    with pytest.raises(PartitionError, match="is a file, not a partition folder; remove it"):
        write_partition(target, "run1", NEW)
    assert target.read_bytes() == b"not a partition"
    assert hidden_entries(target.parent) == []


def test_leftovers_of_other_dates_are_not_touched(target: Path) -> None:
    target.parent.mkdir(parents=True)
    other = target.parent / ".2026-11-25.tmp-deadrun"
    other.mkdir()
    unrelated = target.parent / ".keep"
    unrelated.write_bytes(b"")
    write_partition(target, "run1", OLD)
    assert hidden_entries(target.parent) == [".2026-11-25.tmp-deadrun", ".keep"]


def test_hyphenated_run_ids_name_the_whole_temporary(target: Path, swap: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run ids are canonical UUIDs: the temporaries carry all of it, never only the part after the last hyphen."""
    run_id = "0f8fad5b-d9cb-469f-a165-70867728950e"
    write_partition(target, "run1", OLD)
    seen: list[list[str]] = []

    def record(point: str) -> None:
        if point == "partition.swapped":
            seen.append(hidden_entries(target.parent))

    monkeypatch.setattr(partition_module, "reached", record)
    write_partition(target, run_id, NEW)
    expected = f".2026-11-24.tmp-{run_id}" if swap == "exchange" else f".2026-11-24.old-{run_id}"
    assert seen == [[expected]]
    assert is_temporary(expected)
    assert snapshot(target) == NEW
    assert hidden_entries(target.parent) == []


def test_old_leftover_with_a_missing_target_is_restored(target: Path) -> None:
    # A run that died between "rename the partition aside" and "rename the new one in".
    target.parent.mkdir(parents=True)
    aside = target.parent / ".2026-11-24.old-deadrun"
    aside.mkdir()
    for name, data in OLD.items():
        (aside / name).write_bytes(data)
    clean_leftovers(target)
    assert snapshot(target) == OLD
    assert hidden_entries(target.parent) == []


def test_restored_partition_is_then_replaced_by_the_next_run(target: Path, swap: str) -> None:
    target.parent.mkdir(parents=True)
    aside = target.parent / ".2026-11-24.old-deadrun"
    aside.mkdir()
    (aside / "sales_2026-11-24_1.json").write_bytes(b"[1]")
    tmp = target.parent / ".2026-11-24.tmp-deadrun"
    tmp.mkdir()
    (tmp / "sales_2026-11-24_3.json").write_bytes(b"[3")
    with PartitionWriter(target, "run2") as writer:
        assert snapshot(target) == {"sales_2026-11-24_1.json": b"[1]"}, "restored before the new run writes anything"
        writer.write_bytes("sales_2026-11-24_3.json", b"[3, 4]")
        writer.commit()
    assert snapshot(target) == {"sales_2026-11-24_3.json": b"[3, 4]"}
    assert hidden_entries(target.parent) == []


def test_locked_temporary_folder_of_a_live_writer_is_not_removed(target: Path, swap: str) -> None:
    with PartitionWriter(target, "live") as live:
        live.write_bytes("sales_2026-11-24_1.json", b"[1]")
        # A second run for the same date starts while the first is still writing.
        write_partition(target, "second", NEW)
        assert (live.tmp / "sales_2026-11-24_1.json").read_bytes() == b"[1]", "the live writer's files survive"
        clean_leftovers(target)
        assert live.tmp.is_dir()
        live.write_bytes("_SUCCESS", b"{}\n")
        live.commit()
    assert snapshot(target) == {"sales_2026-11-24_1.json": b"[1]", "_SUCCESS": b"{}\n"}
    assert hidden_entries(target.parent) == []


def test_temporary_folder_is_unlocked_after_the_writer_ends(target: Path) -> None:
    with pytest.raises(RuntimeError), PartitionWriter(target, "run1") as writer:
        raise RuntimeError("stop")
    assert writer._lock_fd is None
    write_partition(target, "run2", OLD)
    assert hidden_entries(target.parent) == []


def test_exchange_path_swaps_in_one_step(target: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the kernel supports RENAME_EXCHANGE, the fallback's two renames are never used."""
    write_partition(target, "run1", OLD)
    probe_a, probe_b = target.parent / ".probe-a", target.parent / ".probe-b"
    probe_a.mkdir()
    probe_b.mkdir()
    exchanged = partition_module._exchange(probe_a, probe_b)
    probe_a.rmdir()
    probe_b.rmdir()
    if not exchanged:
        pytest.skip("this file system cannot exchange two paths")
    renames: list[tuple[str, str]] = []
    real_rename = os.rename

    def spy_rename(src: os.PathLike[str], dst: os.PathLike[str]) -> None:
        renames.append((Path(src).name, Path(dst).name))
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", spy_rename)
    write_partition(target, "run2", NEW)
    assert renames == []
    assert snapshot(target) == NEW


def test_remove_partition(target: Path) -> None:
    write_partition(target, "run1", OLD)
    remove_partition(target)
    assert not target.exists()
    assert hidden_entries(target.parent) == []
    remove_partition(target)  # nothing there: no error


def test_clean_leftovers_without_a_parent_folder(tmp_path: Path) -> None:
    clean_leftovers(tmp_path / "missing" / "2026-11-24")
