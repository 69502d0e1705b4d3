"""Complete raw partitions as the extract job leaves them, built with the project's own manifest code."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from extract_job import TOOL as EXTRACT_TOOL
from shared.filenames import SUCCESS_FILE, page_file_name
from shared.manifest import FileEntry, manifest_bytes, new_manifest, new_run_id, sha256_hex, utc_now, verify_partition
from shared.zones import RAW

SOURCE = "tests"  # the manifest's "source": where the pages came from


def page_name(page: int, day: str | date) -> str:
    """The raw file name of ``page`` of ``day``, as the extract job names it."""
    return page_file_name(day if isinstance(day, date) else date.fromisoformat(day), page)


def write_raw_partition(
    partition: Path,
    pages: Mapping[str, bytes],
    day: str | date,
    records: Mapping[str, int] | None = None,
    run_id: str | None = None,
) -> dict[str, Any]:
    """A raw partition with a manifest consistent with ``pages`` (file name -> bytes), then ``_SUCCESS``.

    Record counts come from ``records`` or, for bytes that parse as a JSON array, its length (else 0).
    The manifest is the extract job's (``shared.manifest.new_manifest`` with the raw zone's fields), so a
    change to the manifest format reaches these partitions too.
    """
    partition.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, data in pages.items():
        (partition / name).write_bytes(data)
        count = (records or {}).get(name)
        entries.append(FileEntry(name, _array_length(data) if count is None else count, len(data), sha256_hex(data)))
    manifest = new_manifest(
        zone=RAW,
        day=day if isinstance(day, date) else date.fromisoformat(day),
        tool=EXTRACT_TOOL,
        run_id=run_id or new_run_id(),
        started_at=utc_now(),
        files=entries,
        pages=len(entries),
        records=sum(e.records for e in entries),
        bytes=sum(e.bytes for e in entries),
        source=SOURCE,
    )
    (partition / SUCCESS_FILE).write_bytes(manifest_bytes(manifest))
    verify_partition(partition)
    return manifest


def write_raw_pages(partition: Path, pages: Sequence[list[Any] | bytes], day: str | date) -> dict[str, Any]:
    """``write_raw_partition`` with pages numbered from 1: a list of records (dumped as the API sends them)
    or a page file's exact bytes."""
    bodies = {
        page_name(number, day): page if isinstance(page, bytes) else json.dumps(page, ensure_ascii=False).encode()
        for number, page in enumerate(pages, start=1)
    }
    return write_raw_partition(partition, bodies, day)


def _array_length(data: bytes) -> int:
    try:
        parsed = json.loads(data)
    except (ValueError, RecursionError):
        return 0
    return len(parsed) if isinstance(parsed, list) else 0
