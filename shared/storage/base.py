"""The storage seam: what the jobs need of the place their zones live, whatever that place is.

A ``Root`` is ``BASE_DIR``: it names each zone's date partitions and the small
records kept beside them (extract's ``_LAST_RUN``). A ``Partition`` is one
folder of a zone (a date's partition, a date's quarantine folder, or one of its
run folders): its ``_SUCCESS`` manifest is the entry point, and every file that
manifest lists is named by its path relative to the partition. A ``Writer``
builds a new version of a partition and makes it visible in one step on
``commit``; leaving its ``with`` block without committing leaves what readers
see as it was.

Two implementations: ``shared.storage.local`` (a folder on disk; the atomic
folder swap of ``shared.partition``) and ``shared.storage.s3`` (an S3-compatible
object store; run-scoped keys and a conditional put of ``_SUCCESS``). The jobs
only ever hold these interfaces.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator
from datetime import date
from types import TracebackType
from typing import Any, BinaryIO

from shared.errors import PartitionError, PipelineError
from shared.manifest import FileEntry, check_digest, file_entries
from shared.zones import DATASET


class Writer(abc.ABC):
    """A new version of one partition, invisible to readers until ``commit``."""

    @abc.abstractmethod
    def __enter__(self) -> Writer: ...

    @abc.abstractmethod
    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    @abc.abstractmethod
    def write_bytes(self, name: str, data: bytes) -> None:
        """Store one whole file (safe from several threads for different names)."""

    @abc.abstractmethod
    def open(self, name: str) -> BinaryIO:
        """A new file for a streaming writer; the caller closes it, which makes the file complete."""

    @abc.abstractmethod
    def listed_name(self, name: str) -> str:
        """How the manifest names file ``name``: its path relative to the partition."""

    @abc.abstractmethod
    def keep_only(self, names: set[str]) -> None:
        """Drop every file written so far whose name is not in ``names``."""

    @abc.abstractmethod
    def entry(self, name: str, records: int) -> FileEntry:
        """The manifest entry of closed file ``name`` (its size and sha256 as written)."""

    @abc.abstractmethod
    def commit(self, manifest: dict[str, Any]) -> None:
        """Make the written files and ``manifest`` the partition, in one step readers cannot see half of."""


class Partition(abc.ABC):
    """One folder of a zone, read through its ``_SUCCESS`` manifest."""

    @abc.abstractmethod
    def __str__(self) -> str:
        """Where it is, for messages: a path, or ``s3://bucket/key``."""

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """The folder's own name: the last part of its path or key prefix (a date's partition is named by the date)."""

    @abc.abstractmethod
    def identity(self) -> str:
        """A name that is equal for the same folder and a prefix of what lies inside it (for overlap checks)."""

    @abc.abstractmethod
    def exists(self) -> bool:
        """Whether anything is stored there."""

    @abc.abstractmethod
    def read_manifest(self) -> dict[str, Any]:
        """The ``_SUCCESS`` manifest, checked for form; ``PartitionError`` when missing or unreadable."""

    @abc.abstractmethod
    def check_files(self, manifest: dict[str, Any]) -> None:
        """The gate before reading: every listed file is there (on disk also: nothing else is)."""

    @abc.abstractmethod
    def read(self, name: str) -> bytes:
        """A listed file's bytes; ``PartitionError`` naming it when it cannot be read."""

    def read_all(self, names: Iterable[str]) -> Iterator[bytes]:
        """Listed files' bytes in the order given (a store fetches a few ahead; at most a few in memory)."""
        for name in names:
            yield self.read(name)

    @abc.abstractmethod
    def size(self, name: str) -> int | None:
        """A listed file's size, or None when it is not there."""

    @abc.abstractmethod
    def writer(self, run_id: str) -> Writer:
        """A writer of a new version of this partition by run ``run_id``."""

    @abc.abstractmethod
    def clean_leftovers(self) -> None:
        """Remove what dead (or long finished) runs left here that no manifest references."""

    @abc.abstractmethod
    def check_output(self, zone: str, named_by: str) -> None:
        """Refuse (``ConfigError``) an output holding anything the pipeline did not write there."""

    @abc.abstractmethod
    def child(self, name: str) -> Partition:
        """The folder ``name`` inside this one (a quarantine run folder)."""

    @abc.abstractmethod
    def children(self, prefix: str) -> list[str]:
        """The names of the committed folders inside this one whose names start with ``prefix``, sorted."""

    @abc.abstractmethod
    def replace_manifest(self, manifest: dict[str, Any]) -> None:
        """Rewrite ``_SUCCESS`` in place, atomically (a quarantine run's status)."""

    @abc.abstractmethod
    def remove_file(self, name: str) -> None:
        """Delete one file of the project's own naming, if it is there."""

    @abc.abstractmethod
    def remove(self) -> None:
        """Delete the partition so that no reader sees it half-deleted; only the project's own names go."""

    @abc.abstractmethod
    def protected(self, finished_at: str) -> bool:
        """Whether a run finished at ``finished_at`` is too recent to remove (another process may still use it)."""

    def check_date(
        self,
        manifest: dict[str, Any],
        day: date,
        named_by: str = "the date",
        error: type[PipelineError] = PartitionError,
    ) -> None:
        """Refuse (``error``) a manifest recording another date than ``day``: a partition misplaced or altered.

        ``named_by`` says where ``day`` came from ("--date") for the message.
        """
        recorded = manifest.get("date")
        if recorded != day.isoformat():
            raise error(f"{named_by} {day} disagrees with {self}, whose manifest says {recorded}")

    def verify(self, day: date | None = None) -> dict[str, Any]:
        """Full check (the gate, every digest and, given ``day``, the date); returns a complete partition's manifest."""
        manifest = self.read_manifest()
        if day is not None:
            self.check_date(manifest, day)
        self.check_files(manifest)
        for entry in file_entries(manifest):
            check_digest(self, entry, self.read(entry.name))
        return manifest


class Root(abc.ABC):
    """``BASE_DIR``: the zones' date partitions and the records kept beside them."""

    @abc.abstractmethod
    def __str__(self) -> str: ...

    @abc.abstractmethod
    def folder(self, *parts: str) -> Partition:
        """The folder at ``parts`` below the root."""

    def partition(self, zone: str, day: date, dataset: str = DATASET) -> Partition:
        """``<root>/<zone>/<dataset>/<YYYY-MM-DD>``."""
        return self.folder(zone, dataset, day.isoformat())

    @abc.abstractmethod
    def read_record(self, zone: str, name: str) -> bytes | None:
        """The small record ``<root>/<zone>/<dataset>/<name>``, or None when there is none."""

    @abc.abstractmethod
    def write_record(self, zone: str, name: str, data: bytes, run_id: str) -> None:
        """Replace that record atomically: a reader sees the old one or the new one."""

    @abc.abstractmethod
    def record_location(self, zone: str, name: str) -> str:
        """Where that record is, for messages."""
