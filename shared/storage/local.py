"""The zones on a local (or mounted) file system: today's layout and guarantees, behind the storage seam.

A partition is a folder; a new version is built in a hidden temporary folder and
swapped into place (``shared.partition``), so file names in manifests stay bare.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from shared.errors import PartitionError
from shared.filenames import MANIFEST_REWRITE, SUCCESS_FILE, is_project_file, is_temporary
from shared.manifest import FileEntry, check_listing, manifest_bytes, read_manifest, sha256_file
from shared.partition import PartitionWriter, clean_leftovers, fsync_dir, remove_partition
from shared.storage.base import Partition, Root, Writer
from shared.targets import check_output
from shared.zones import DATASET


class LocalWriter(Writer):
    """``shared.partition.PartitionWriter`` as a ``Writer``: a hidden folder swapped in on commit."""

    def __init__(self, target: Path, run_id: str) -> None:
        self._writer = PartitionWriter(target, run_id)

    def __enter__(self) -> LocalWriter:
        self._writer.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._writer.__exit__(exc_type, exc, tb)

    def write_bytes(self, name: str, data: bytes) -> None:
        self._writer.write_bytes(name, data)

    def open(self, name: str) -> BinaryIO:
        return self._writer.open(name)

    def listed_name(self, name: str) -> str:
        return name

    def keep_only(self, names: set[str]) -> None:
        for path in [p for p in self._writer.tmp.iterdir() if p.name not in names]:
            path.unlink()

    def entry(self, name: str, records: int) -> FileEntry:
        path = self._writer.tmp / name
        return FileEntry(name, records, path.stat().st_size, sha256_file(path))

    def commit(self, manifest: dict[str, Any]) -> None:
        self._writer.commit(manifest)


class LocalPartition(Partition):
    """A partition folder on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __str__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"LocalPartition({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LocalPartition) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    @property
    def name(self) -> str:
        return Path(os.path.abspath(self.path)).name  # "." and ".." resolved, a symlink's own name kept

    def identity(self) -> str:
        return str(self.path.resolve())

    def exists(self) -> bool:
        return self.path.exists()

    def read_manifest(self) -> dict[str, Any]:
        return read_manifest(self.path)

    def check_files(self, manifest: dict[str, Any]) -> None:
        check_listing(self.path, manifest)

    def read(self, name: str) -> bytes:
        path = self.path / name
        try:
            return path.read_bytes()
        except OSError as exc:
            raise PartitionError(f"{path}: cannot read: {exc.strerror}") from None

    def size(self, name: str) -> int | None:
        try:
            return (self.path / name).stat().st_size
        except FileNotFoundError:
            return None

    def writer(self, run_id: str) -> LocalWriter:
        return LocalWriter(self.path, run_id)

    def clean_leftovers(self) -> None:
        clean_leftovers(self.path)
        if self.path.is_dir():  # the hidden temporaries of the folders inside (quarantine run folders)
            for entry in sorted(self.path.iterdir()):
                if is_temporary(entry.name):
                    clean_leftovers(self.path / entry.name[1:].split(".tmp-")[0].split(".old-")[0])

    def check_output(self, zone: str, named_by: str) -> None:
        check_output(self.path, zone, named_by)

    def child(self, name: str) -> LocalPartition:
        return LocalPartition(self.path / name)

    def children(self, prefix: str) -> list[str]:
        if not self.path.is_dir():
            return []
        return sorted(p.name for p in self.path.iterdir() if p.name.startswith(prefix))

    def replace_manifest(self, manifest: dict[str, Any]) -> None:
        fresh = self.path / MANIFEST_REWRITE
        with fresh.open("wb") as handle:
            handle.write(manifest_bytes(manifest))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(fresh, self.path / SUCCESS_FILE)
        fsync_dir(self.path)

    def remove_file(self, name: str) -> None:
        if is_project_file(name):
            (self.path / name).unlink(missing_ok=True)

    def remove(self) -> None:
        remove_partition(self.path)

    def protected(self, finished_at: str) -> bool:
        return False  # on one disk, runs of a date are told apart by their locks, not by age


class LocalRoot(Root):
    """``BASE_DIR`` as a folder."""

    def __init__(self, base: Path) -> None:
        self.base = base

    def __str__(self) -> str:
        return str(self.base)

    def __repr__(self) -> str:
        return f"LocalRoot({str(self.base)!r})"

    def folder(self, *parts: str) -> LocalPartition:
        return LocalPartition(self.base.joinpath(*parts))

    def _record_path(self, zone: str, name: str) -> Path:
        return self.base / zone / DATASET / name

    def read_record(self, zone: str, name: str) -> bytes | None:
        try:
            return self._record_path(zone, name).read_bytes()
        except FileNotFoundError:
            return None

    def write_record(self, zone: str, name: str, data: bytes, run_id: str) -> None:
        path = self._record_path(zone, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = path.with_name(f".{name}.{run_id}")
        with fresh.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(fresh, path)
        fsync_dir(path.parent)

    def record_location(self, zone: str, name: str) -> str:
        return str(self._record_path(zone, name))
