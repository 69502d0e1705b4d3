"""Reading a raw partition one page file at a time, checked against its manifest as it goes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from convert_job.validation import json_type_name
from shared.errors import PartitionError
from shared.manifest import check_digest, file_entries


def parse_page(path: Path, data: bytes) -> list[Any]:
    """A page file's records; raises ``PartitionError`` naming the file and what is wrong."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PartitionError(f"{path}: not valid UTF-8 (byte {exc.start})") from None
    try:
        records = json.loads(text)
    except ValueError as exc:
        raise PartitionError(f"{path}: not valid JSON: {exc}") from None
    except RecursionError:
        raise PartitionError(f"{path}: JSON nested too deeply to read") from None
    if not isinstance(records, list):
        raise PartitionError(f"{path}: expected a JSON array of records, got {json_type_name(records)}")
    return records


def iter_records(partition: Path, manifest: dict[str, Any]) -> Iterator[tuple[str, int, Any]]:
    """``(file name, index in file, record)`` in page order, then in-page order.

    Only one page is in memory at a time; each file's sha256 is checked against
    the manifest before any of its records is yielded.
    """
    for entry in file_entries(manifest):
        path = partition / entry.name
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PartitionError(f"{path}: cannot read: {exc.strerror}") from None
        check_digest(partition, entry, data)
        for index, record in enumerate(parse_page(path, data)):
            yield entry.name, index, record
