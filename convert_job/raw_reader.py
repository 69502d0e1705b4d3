"""Reading a raw partition one page file at a time, checked against its manifest as it goes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from convert_job.validation import BigNumber, json_type_name
from shared.errors import PartitionError
from shared.manifest import check_digest, file_entries
from shared.storage import Partition, as_partition


@dataclass(frozen=True)
class RawPage:
    """One page file's bytes, checked against the manifest and not yet decoded."""

    name: str
    path: Path | str
    """Where the file is, for messages (a path, or an object's URL)."""
    data: bytes


def may_hold_surrogates(text: str) -> bool:
    """Whether JSON ``text`` has a ``\\uD800``-``\\uDFFF`` escape, the only way a strictly
    UTF-8-decoded page can produce a string that is not valid Unicode (a false alarm
    only costs the per-string check)."""
    return "\\ud" in text or "\\uD" in text


def parse_page(path: Path | str, data: bytes) -> tuple[list[Any], bool]:
    """A page file's records and whether they are surrogate-free; ``PartitionError`` names the file and the fault."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PartitionError(f"{path}: not valid UTF-8 (byte {exc.start})") from None
    try:
        records = json.loads(text)
    except ValueError as exc:
        records = _parse_big_numbers(text)
        if records is None:
            raise PartitionError(f"{path}: not valid JSON: {exc}") from None
    except RecursionError:
        raise PartitionError(f"{path}: JSON nested too deeply to read") from None
    if not isinstance(records, list):
        raise PartitionError(f"{path}: expected a JSON array of records, got {json_type_name(records)}")
    return records, not may_hold_surrogates(text)


def _int_or_big(text: str) -> int | BigNumber:
    try:
        return int(text)
    except ValueError:  # more digits than sys.get_int_max_str_digits() allows
        return BigNumber(text)


def _parse_big_numbers(text: str) -> Any | None:
    """The page read again with over-long integers kept as ``BigNumber``; None when it is not JSON at all.

    The slow path of a page the fast parser refused: valid JSON with an integer
    Python will not convert is still a page, whose one bad record is quarantined.
    """
    try:
        return json.loads(text, parse_int=_int_or_big)
    except (ValueError, RecursionError):
        return None


def iter_pages(partition: Path | Partition, manifest: dict[str, Any]) -> Iterator[RawPage]:
    """Each page file's bytes, in page order.

    Only one page is in memory at a time (on a store, a few more are being fetched);
    each file's sha256 is checked against the manifest before it is handed out.
    """
    where = as_partition(partition)
    entries = file_entries(manifest)
    for entry, data in zip(entries, where.read_all(entry.name for entry in entries), strict=True):
        check_digest(where, entry, data)
        yield RawPage(entry.name, f"{where}/{entry.name}", data)
