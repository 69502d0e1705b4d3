"""``shared.manifest``: what makes a partition complete, and every way one can be incomplete or altered."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from shared.errors import PartitionError
from shared.filenames import SUCCESS_FILE
from shared.manifest import (
    FileEntry,
    canonical_run_id,
    check_listing,
    entries_as_json,
    manifest_bytes,
    new_run_id,
    read_manifest,
    sha256_hex,
    tool_version,
    utc_now,
    verify_partition,
)

FILES = {"sales_2026-11-24_1.json": b'[{"client": "Zo\xc3\xab"}]', "sales_2026-11-24_2.json": b"[1, 2]"}


def entry(name: str, data: bytes, records: int = 1) -> dict[str, object]:
    return {"name": name, "records": records, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


@pytest.fixture
def partition(tmp_path: Path) -> Path:
    """A complete partition: two data files and their manifest."""
    folder = tmp_path / "2026-11-24"
    folder.mkdir()
    for name, data in FILES.items():
        (folder / name).write_bytes(data)
    manifest = {"run_id": "r1", "files": [entry(name, data) for name, data in FILES.items()]}
    (folder / SUCCESS_FILE).write_bytes(manifest_bytes(manifest))
    return folder


def test_complete_partition_verifies(partition: Path) -> None:
    manifest = verify_partition(partition)
    assert manifest["run_id"] == "r1"
    assert [f["name"] for f in manifest["files"]] == list(FILES)


def test_hidden_files_are_ignored(partition: Path) -> None:
    (partition / ".nfs0001").write_bytes(b"")
    verify_partition(partition)


def test_empty_partition_with_manifest_verifies(tmp_path: Path) -> None:
    (tmp_path / SUCCESS_FILE).write_bytes(manifest_bytes({"files": []}))
    assert verify_partition(tmp_path)["files"] == []


def set_manifest(text: bytes) -> Callable[[Path], object]:
    return lambda folder: (folder / SUCCESS_FILE).write_bytes(text)


def edit_manifest(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        manifest = json.loads((folder / SUCCESS_FILE).read_bytes())
        change(manifest)
        (folder / SUCCESS_FILE).write_bytes(manifest_bytes(manifest))

    return apply


def flip_byte(name: str, offset: int) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        data = bytearray((folder / name).read_bytes())
        data[offset] ^= 0x01
        (folder / name).write_bytes(bytes(data))

    return apply


FIRST, SECOND = list(FILES)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        pytest.param(lambda f: (f / SUCCESS_FILE).unlink(), "is incomplete: no _SUCCESS manifest", id="no-manifest"),
        pytest.param(set_manifest(b""), "is not valid JSON", id="empty-manifest"),
        pytest.param(set_manifest(b'{"files": ['), "is not valid JSON", id="truncated-manifest"),
        pytest.param(set_manifest(b"\xff\xfe"), "is not valid JSON", id="binary-manifest"),
        pytest.param(set_manifest(b"[]"), "expected an object with a 'files' list", id="manifest-is-a-list"),
        pytest.param(set_manifest(b'{"run_id": "x"}'), "expected an object with a 'files' list", id="no-files-key"),
        pytest.param(set_manifest(b'{"files": {}}'), "expected an object with a 'files' list", id="files-not-a-list"),
        pytest.param(set_manifest(b'{"files": ["a.json"]}'), "malformed file entry", id="entry-not-an-object"),
        pytest.param(set_manifest(b'{"files": [{"name": "a.json"}]}'), "malformed file entry", id="entry-missing-keys"),
        pytest.param(
            edit_manifest(lambda m: m["files"][0].update(extra=1)), "malformed file entry", id="entry-unknown-key"
        ),
        pytest.param(
            edit_manifest(lambda m: m["files"][0].update(name=5)), "malformed file entry", id="entry-name-not-text"
        ),
        pytest.param(
            edit_manifest(lambda m: m["files"][0].update(bytes="24")),
            "malformed file entry",
            id="entry-size-not-a-number",
        ),
        pytest.param(
            edit_manifest(lambda m: m["files"][0].update(records=None)), "malformed file entry", id="entry-records-null"
        ),
        pytest.param(
            set_manifest(b'{"files": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
            "not valid JSON",
            id="nested-too-deeply",
        ),
        pytest.param(
            edit_manifest(lambda m: m["files"].append(m["files"][0])),
            f"listed more than once: {FIRST}",
            id="file-listed-twice",
        ),
        pytest.param(
            lambda f: (f / SECOND).unlink(), f"does not match its manifest: missing {SECOND}", id="file-missing"
        ),
        pytest.param(
            lambda f: (f / "sales_2026-11-24_3.json").write_bytes(b"[]"),
            "not in the manifest: sales_2026-11-24_3.json",
            id="extra-file",
        ),
        pytest.param(
            edit_manifest(lambda m: m["files"].pop()), f"not in the manifest: {SECOND}", id="manifest-lists-fewer-files"
        ),
        pytest.param(flip_byte(FIRST, 0), f"{FIRST} was altered since it was written", id="first-byte-altered"),
        pytest.param(flip_byte(SECOND, -1), f"{SECOND} was altered", id="last-byte-altered"),
        pytest.param(
            lambda f: (f / FIRST).write_bytes(FILES[FIRST] + b"\n"), f"{FIRST} was altered", id="byte-appended"
        ),
        pytest.param(lambda f: (f / FIRST).write_bytes(b""), f"{FIRST} was altered", id="file-emptied"),
        pytest.param(
            edit_manifest(lambda m: m["files"][1].update(sha256="0" * 64)),
            f"{SECOND} was altered",
            id="digest-in-manifest-altered",
        ),
    ],
)
def test_verify_partition_rejects(partition: Path, damage: Callable[[Path], None], message: str) -> None:
    damage(partition)
    with pytest.raises(PartitionError, match=message):
        verify_partition(partition)


def test_missing_partition(tmp_path: Path) -> None:
    with pytest.raises(PartitionError, match="does not exist"):
        verify_partition(tmp_path / "2026-01-01")
    with pytest.raises(PartitionError, match="does not exist"):
        read_manifest(tmp_path / "2026-01-01")


def test_read_manifest_does_not_check_files(partition: Path) -> None:
    flip_byte(FIRST, 0)(partition)
    assert read_manifest(partition)["run_id"] == "r1"


def test_digests() -> None:
    assert sha256_hex(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_manifest_bytes_is_readable_utf8_json() -> None:
    raw = manifest_bytes({"client": "王伟", "files": []})
    assert raw.endswith(b"}\n")
    assert "王伟".encode() in raw
    assert json.loads(raw) == {"client": "王伟", "files": []}


def test_entries_round_trip() -> None:
    entries = [FileEntry("a.json", 2, 10, "f" * 64)]
    assert entries_as_json(entries) == [{"name": "a.json", "records": 2, "bytes": 10, "sha256": "f" * 64}]


def test_run_ids_times_and_version() -> None:
    assert len({new_run_id() for _ in range(100)}) == 100
    run_id = new_run_id()
    assert str(uuid.UUID(run_id)) == run_id, "a canonical UUID, as OpenLineage run ids are"
    assert utc_now().endswith("Z") and "T" in utc_now()
    assert tool_version()


@pytest.mark.parametrize(
    ("recorded", "canonical"),
    [
        pytest.param("0f8fad5bd9cb469fa16570867728950e", "0f8fad5b-d9cb-469f-a165-70867728950e", id="older-32-hex"),
        pytest.param("0f8fad5b-d9cb-469f-a165-70867728950e", "0f8fad5b-d9cb-469f-a165-70867728950e", id="canonical"),
        pytest.param("0F8FAD5B-D9CB-469F-A165-70867728950E", "0f8fad5b-d9cb-469f-a165-70867728950e", id="upper"),
        pytest.param("r1", "r1", id="not-a-uuid-kept"),
    ],
)
def test_run_ids_of_older_manifests_read_as_canonical_uuids(recorded: str, canonical: str) -> None:
    assert canonical_run_id(recorded) == canonical


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        pytest.param(1, "not in the manifest: x000.json", id="one"),
        pytest.param(5, "not in the manifest: x000.json, x001.json, x002.json, x003.json, x004.json", id="five"),
        pytest.param(
            100, "not in the manifest: x000.json, x001.json, x002.json, x003.json, x004.json and 95 more", id="100"
        ),
    ],
)
def test_a_listing_error_names_the_first_few_files_and_counts_the_rest(tmp_path, count: int, expected: str) -> None:
    partition = tmp_path / "p"
    partition.mkdir()
    for i in range(count):
        (partition / f"x{i:03d}.json").write_bytes(b"[]")
    with pytest.raises(PartitionError) as caught:
        check_listing(partition, {"files": []})
    assert str(caught.value).endswith(expected)
    assert len(str(caught.value)) < 300
