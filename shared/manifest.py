"""The ``_SUCCESS`` manifest: written last into a partition, it is what makes the partition complete.

A manifest is a JSON object. Every manifest has ``format``, ``run_id``, ``tool``,
``version``, ``started_at``, ``finished_at`` and ``files`` (name, records, bytes,
sha256 for each data file); each job adds its own fields.

``format`` is the version of this layout (docs/data-contract.md, "Manifest
format"): 1 (no ``format`` field) before the quarantine was paired with staging,
2 since. Readers take every format up to ``MANIFEST_FORMAT`` and refuse a newer
one, which only a newer version of the pipeline can understand.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import date, datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from shared.errors import PartitionError, name_a_few
from shared.filenames import SUCCESS_FILE
from shared.zones import DATASET

MANIFEST_FORMAT = 2
_PACKAGE = "sales-pipeline"


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One data file of a partition as the manifest records it."""

    name: str
    records: int
    bytes: int
    sha256: str


def new_run_id() -> str:
    """A new run id: a canonical UUID (``8-4-4-4-12`` hex digits), the form OpenLineage run ids take."""
    return str(uuid.uuid4())


def canonical_run_id(run_id: str) -> str:
    """``run_id`` as a canonical UUID; older manifests hold 32 hex digits without hyphens.

    Anything that is not a UUID in either form is returned as it is: a run id is
    only ever compared, never parsed, so an odd one stays what it was.
    """
    try:
        return str(uuid.UUID(hex=run_id))
    except ValueError:
        return run_id


def utc_now() -> str:
    return timestamp(datetime.now(timezone.utc))


def timestamp(moment: datetime) -> str:
    """A manifest's time: UTC to the millisecond, ``2026-11-24T23:59:59.000Z``."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_timestamp(value: object) -> datetime | None:
    """A manifest's time (``timestamp``) as an aware datetime; None when it is missing or not one."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))  # 3.10 does not read "Z"
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def tool_version() -> str:
    try:
        return metadata.version(_PACKAGE)
    except metadata.PackageNotFoundError:
        return "0+unknown"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    """A file's sha256, read in chunks (a rejects file can be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    # A lone surrogate (e.g. in an unknown field's name) is written as its \uXXXX escape, which reads back the same.
    return (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8", "backslashreplace")


def file_entries(manifest: dict[str, Any]) -> list[FileEntry]:
    return [FileEntry(**entry) for entry in manifest["files"]]


def entries_as_json(entries: list[FileEntry]) -> list[dict[str, Any]]:
    return [asdict(entry) for entry in entries]


def new_manifest(
    *, zone: str, day: date, tool: str, run_id: str, started_at: str, files: list[FileEntry], **fields: Any
) -> dict[str, Any]:
    """A manifest: what every manifest holds, with the job's own ``fields`` after the date; finished now."""
    return {
        "format": MANIFEST_FORMAT,
        "dataset": DATASET,
        "zone": zone,
        "date": day.isoformat(),
        **fields,
        "files": entries_as_json(files),
        "run_id": run_id,
        "started_at": started_at,
        "finished_at": utc_now(),
        "tool": tool,
        "version": tool_version(),
    }


def manifest_format(manifest: dict[str, Any]) -> int:
    """The layout version of ``manifest``: 1 for manifests written before the field existed."""
    value = manifest.get("format", 1)
    return value if type(value) is int else 0


def read_manifest(partition: Path) -> dict[str, Any]:
    """Load a partition's manifest, or raise ``PartitionError`` saying what is wrong with it."""
    path = partition / SUCCESS_FILE
    if not partition.is_dir():
        raise PartitionError(f"partition {partition} does not exist")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise PartitionError(f"partition {partition} is incomplete: no {SUCCESS_FILE} manifest") from None
    return parse_manifest(data, str(path))


def parse_manifest(data: bytes, where: str) -> dict[str, Any]:
    """A manifest's bytes as read from ``where`` (shown in errors), checked for form; ``PartitionError`` if bad."""
    try:
        manifest = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PartitionError(f"manifest {where} is not valid JSON: {exc}") from None
    except RecursionError:
        raise PartitionError(f"manifest {where} is not valid JSON: nested too deeply to read") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        raise PartitionError(f"manifest {where} is malformed: expected an object with a 'files' list")
    if not 1 <= manifest_format(manifest) <= MANIFEST_FORMAT:
        raise PartitionError(
            f"manifest {where} has format {manifest.get('format')!r}; this version of the pipeline reads "
            f"formats 1 to {MANIFEST_FORMAT} (a newer version wrote it?)"
        )
    try:
        entries = file_entries(manifest)
    except TypeError as exc:
        raise PartitionError(f"manifest {where} has a malformed file entry: {exc}") from None
    for entry in entries:
        if not (
            isinstance(entry.name, str)
            and isinstance(entry.sha256, str)
            and type(entry.records) is int
            and type(entry.bytes) is int
        ):
            raise PartitionError(f"manifest {where} has a malformed file entry: {asdict(entry)}")
    return manifest


def check_listing(partition: Path, manifest: dict[str, Any]) -> None:
    """The partition must hold exactly the files its manifest lists (hidden files aside).

    Lean on memory, as a manifest can list thousands of pages: one count per name
    and one pass over the folder, no list of entries, no path per file.
    """
    names = Counter(entry["name"] for entry in manifest["files"])  # read_manifest checked every entry's form
    present: set[str] = set()
    irregular: list[str] = []
    with os.scandir(partition) as found:
        for item in found:
            if item.name == SUCCESS_FILE or item.name.startswith("."):
                continue
            present.add(item.name)
            # A symlink, pipe or device in a partition was not written by a job; reading /dev/zero or a FIFO never ends.
            if item.name in names and not item.is_file(follow_symlinks=False):
                irregular.append(item.name)
    missing, extra = sorted(names.keys() - present), sorted(present - names.keys())
    twice = sorted(name for name, count in names.items() if count > 1)  # would be read, and counted, twice
    if missing or extra or twice or irregular:
        details = [f"listed more than once: {name_a_few(twice)}"] if twice else []
        if irregular:
            details.append(f"not a regular file: {name_a_few(sorted(irregular))}")
        if missing:
            details.append(f"missing {name_a_few(missing)}")
        if extra:
            details.append(f"not in the manifest: {name_a_few(extra)}")
        raise PartitionError(f"partition {partition} does not match its manifest: {'; '.join(details)}")


def check_digest(partition: object, entry: FileEntry, data: bytes) -> None:
    """``data`` (the file's bytes) must have the size and sha256 the manifest recorded; ``partition`` names it."""
    if len(data) != entry.bytes or sha256_hex(data) != entry.sha256:
        raise PartitionError(
            f"partition {partition}: {entry.name} was altered since it was written "
            f"(sha256 or size differs from the manifest)"
        )


def verify_partition(partition: Path) -> dict[str, Any]:
    """Full check (listing and every digest); returns the manifest of a complete partition."""
    manifest = read_manifest(partition)
    check_listing(partition, manifest)
    for entry in file_entries(manifest):
        check_digest(partition, entry, (partition / entry.name).read_bytes())
    return manifest
