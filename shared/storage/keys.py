"""Object keys on a store: which names a run writes, which a manifest may list, which a cleanup may delete.

A partition's data objects are run-scoped so that no two runs ever write the same key::

    <prefix>/<zone>/sales/<date>/run=<run id>/<file>     a run's data, never overwritten
    <prefix>/<zone>/sales/<date>/_SUCCESS                the commit: lists run=<run id>/<file> names

A quarantine run folder (``quarantine/sales/<date>/run=<run id>/``) is already
scoped by its run, so its files sit directly in it. Run ids are 32 hex digits
(older manifests) or canonical UUIDs.
"""

from __future__ import annotations

import re

from shared.filenames import QUARANTINE_RUN_PREFIX, SUCCESS_FILE, is_project_file

RUN_ID = r"(?:[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
_RUN_SEGMENT = re.compile(rf"{re.escape(QUARANTINE_RUN_PREFIX)}({RUN_ID})")


def run_segment(run_id: str) -> str:
    """The folder name that scopes run ``run_id``'s objects."""
    return f"{QUARANTINE_RUN_PREFIX}{run_id}"


def run_of(segment: str) -> str | None:
    """The run id a ``run=<id>`` folder name carries, or None for any other name."""
    match = _RUN_SEGMENT.fullmatch(segment)
    return match.group(1) if match else None


def data_name(partition_name: str, run_id: str, name: str) -> str:
    """How run ``run_id`` names file ``name`` in the partition folder ``partition_name`` (relative to it)."""
    if partition_name == run_segment(run_id):
        return name  # a quarantine run folder: scoped by its run already
    return f"{run_segment(run_id)}/{name}"


def _data_file(name: str) -> bool:
    """A data file of the pipeline's naming (a page, an Avro file, a rejects file): no manifest, folder or temporary."""
    return name != SUCCESS_FILE and not name.startswith((".", QUARANTINE_RUN_PREFIX)) and is_project_file(name)


def listable(name: str) -> bool:
    """Whether a manifest on a store may list ``name``: a data file of ours, bare or in a run folder."""
    parts = name.split("/")
    if len(parts) == 1:
        return _data_file(parts[0])
    return len(parts) == 2 and run_of(parts[0]) is not None and _data_file(parts[1])


def own_key(relative: str) -> bool:
    """Whether an object at ``relative`` (below a partition or a date's quarantine folder) is one the pipeline writes.

    Only such objects are ever deleted: ``_SUCCESS``, a listable file, or a
    quarantine run folder's ``_SUCCESS``.
    """
    if relative == SUCCESS_FILE or listable(relative):
        return True
    parts = relative.split("/")
    return len(parts) == 2 and run_of(parts[0]) is not None and parts[1] == SUCCESS_FILE
