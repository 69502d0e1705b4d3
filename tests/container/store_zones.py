"""Reading a partition back from an object store the way a reader of the pipeline would: through ``_SUCCESS``.

Shared by the compose and Airflow tests, which reach their store through a published
127.0.0.1 port. The pipeline's own reader (``shared.storage``) follows the manifest and
checks every listed object's sha256, so what comes back is one complete run.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from shared.manifest import file_entries
from shared.storage import Stores
from shared.storage.location import parse_location


def read_partition(env: Mapping[str, str], base_dir: str, zone: str, day: str) -> dict[str, bytes]:
    """Listed name -> bytes of the ``zone`` partition of ``day`` under ``base_dir`` (an s3:// URL).

    ``env`` holds the store's AWS_* variables. Raises the pipeline's own errors when the
    partition is not committed or a listed object is missing or altered.
    """
    stores = Stores(env, part_size_mb=8, grace_seconds=3600.0, max_attempts=3)
    partition = stores.root(parse_location(base_dir)).partition(zone, date.fromisoformat(day))
    manifest = partition.read_manifest()
    partition.check_files(manifest)
    return {entry.name: partition.read(entry.name) for entry in file_entries(manifest)}
