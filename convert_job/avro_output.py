"""Writing Avro to an open binary file while hashing what is written."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import IO, Any, BinaryIO, cast

import fastavro

from convert_job.schema import sale_schema

# Larger blocks than fastavro's 16 KB default compress better and cost fewer
# block headers; one block is the only thing buffered, so memory stays flat.
SYNC_INTERVAL = 256 * 1024
SYNC_SIZE = 16  # bytes, fixed by the Avro specification


class HashingWriter:
    """A write-only file wrapper that keeps a running sha256 and byte count."""

    def __init__(self, target: BinaryIO) -> None:
        self._target = target
        self._digest = hashlib.sha256()
        self.bytes = 0

    def write(self, data: bytes) -> int:
        self._digest.update(data)
        self.bytes += len(data)
        return self._target.write(data)

    def seekable(self) -> bool:
        """Tells fastavro this is a fresh stream, not a file to append to."""
        return False

    def flush(self) -> None:
        self._target.flush()

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


def sync_marker(*identity: str) -> bytes:
    """The 16-byte sync marker of the Avro file that ``identity`` names (e.g. the raw run and the file name).

    fastavro draws a random one per file by default, so two conversions of the
    same input would differ in every block; derived from what the file is made
    of, a re-run writes the same bytes and can be compared byte for byte.
    """
    return hashlib.sha256("\0".join(identity).encode("utf-8", "surrogatepass")).digest()[:SYNC_SIZE]


def write_avro(target: BinaryIO, records: Iterable[dict[str, Any]], codec: str, marker: bytes = b"") -> HashingWriter:
    """Stream ``records`` into an Avro object container file; returns the hash of what was written.

    ``marker``: the file's sync marker (see ``sync_marker``); empty: a random one, as fastavro draws.
    """
    out = HashingWriter(target)
    # fastavro needs only write() and seekable(), though its annotation asks for a whole IO.
    fastavro.writer(
        cast(IO[bytes], out),
        sale_schema(),
        records,
        codec=codec,
        sync_interval=SYNC_INTERVAL,
        validator=False,
        sync_marker=marker,
    )
    return out
