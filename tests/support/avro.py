"""Reading back the Avro files a job wrote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastavro


def avro_records(path: Path) -> list[dict[str, Any]]:
    """Every record of the Avro container file at ``path``, as fastavro reads it (dates as ``date``)."""
    with path.open("rb") as handle:
        # fastavro's reader is compiled and typed only as an iterator of any Avro value; a record is a dict.
        reader: Any = fastavro.reader(handle)
        return list(reader)
