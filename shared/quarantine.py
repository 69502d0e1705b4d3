"""The quarantine of one date: a folder of run folders, paired with staging by staging's manifest.

Two folders cannot be committed in one atomic step, so staging's ``_SUCCESS`` is
the single commit point of the pair (docs/data-contract.md, "Quarantine")::

    quarantine/sales/<date>/run=<run id>/rejected.jsonl   one JSON line per rejected record
    quarantine/sales/<date>/run=<run id>/_SUCCESS         its manifest: status, counts by reason,
                                                          raw run, staging run

A convert run writes its run folder first (status ``pending``), then commits
staging, whose manifest names that run and the rejects file's sha256; only then
does ``settle`` mark the run ``committed`` and remove every other run that is not
a failed one. A reader starting from staging therefore always finds the matching
rejects, whatever instant a run died at; a pending run staging does not name is
the garbage of a dead run, removed by the next one. A run whose rejects fail the
invalid ratio keeps them in its own folder with status ``failed``; the newest
``keep_failed`` of those are kept. Older versions wrote ``rejected.jsonl``
straight into the date's folder, with no manifest: ``rejected_records`` still
reads it for a staging manifest of format 1, and ``settle`` removes it once a
new pair is committed.

Everything here is a small function of (the date's quarantine folder, run ids)
on the storage seam (``shared.storage``), so it works the same on a local disk
and on an object store. On a store, a pending or failed run younger than the
store's grace period is never removed: another process may still be using it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from shared.errors import PartitionError
from shared.filenames import QUARANTINE_RUN_PREFIX as RUN_PREFIX
from shared.filenames import REJECTED_FILE as REJECTED_FILE  # re-exported: the quarantine layout's file
from shared.manifest import sha256_hex
from shared.storage import Partition, as_partition
from shared.testhook import reached

log = logging.getLogger(__name__)

PENDING = "pending"
COMMITTED = "committed"
FAILED = "failed"
DEFAULT_KEEP_FAILED_RUNS = 5


def run_name(run_id: str) -> str:
    """The name of run ``run_id``'s folder in the date's quarantine folder."""
    return f"{RUN_PREFIX}{run_id}"


def run_folder(quarantine: Path, run_id: str) -> Path:
    """Where run ``run_id`` keeps its rejects in a date's quarantine folder on disk."""
    return quarantine / run_name(run_id)


def run_partition(quarantine: Path | Partition, run_id: str) -> Partition:
    """Run ``run_id``'s folder in the date's quarantine folder, on whatever store that is."""
    return as_partition(quarantine).child(run_name(run_id))


def run_ids(quarantine: Path | Partition) -> list[str]:
    """The run ids with a (committed) run folder, in name order; hidden temporaries are not runs."""
    return [name[len(RUN_PREFIX) :] for name in as_partition(quarantine).children(RUN_PREFIX)]


def _manifest(quarantine: Path | Partition, run_id: str) -> dict[str, Any] | None:
    try:
        return run_partition(quarantine, run_id).read_manifest()
    except Exception:
        return None


def run_status(quarantine: Path | Partition, run_id: str) -> str | None:
    """The status a run's manifest records, or None when the folder has no readable manifest."""
    manifest = _manifest(quarantine, run_id)
    return None if manifest is None else str(manifest.get("status"))


def paired_run(staging_manifest: dict[str, Any]) -> str | None:
    """The quarantine run a staging manifest names (None for a manifest of format 1)."""
    paired = staging_manifest.get("quarantine")
    return str(paired["run_id"]) if isinstance(paired, dict) and "run_id" in paired else None


def pairing(run_id: str, records: int, sha256: str) -> dict[str, Any]:
    """What a staging manifest records of its quarantine run (its ``quarantine`` field)."""
    return {"run_id": run_id, "path": f"{run_name(run_id)}/{REJECTED_FILE}", "records": records, "sha256": sha256}


def rejected_records(quarantine: Path | Partition, staging_manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The rejects paired with a staging partition, each line parsed; checked against both manifests.

    For a staging manifest of format 1 (no pairing), the older layout's
    ``rejected.jsonl`` in the date's folder, if any.
    """
    folder = as_partition(quarantine)
    run_id = paired_run(staging_manifest)
    if run_id is None:
        legacy = folder.size(REJECTED_FILE) is not None
        lines = folder.read(REJECTED_FILE).decode("utf-8").splitlines() if legacy else []
    else:
        run = folder.child(run_name(run_id))
        run.verify()
        data = run.read(REJECTED_FILE)
        if sha256_hex(data) != staging_manifest["quarantine"]["sha256"]:
            raise PartitionError(f"{run}/{REJECTED_FILE} is not the rejects file staging's manifest names")
        lines = data.decode("utf-8").splitlines()
    return [json.loads(line) for line in lines]


def mark(quarantine: Path | Partition, run_id: str, status: str) -> None:
    """Rewrite a run's manifest with ``status``, atomically."""
    run = run_partition(quarantine, run_id)
    manifest = run.read_manifest()
    if manifest.get("status") == status:
        return
    run.replace_manifest({**manifest, "status": status})


def remove_run(quarantine: Path | Partition, run_id: str) -> None:
    """Delete a run folder so no reader sees it half-deleted."""
    run_partition(quarantine, run_id).remove()


def _finished_at(quarantine: Path | Partition, run_id: str) -> str:
    manifest = _manifest(quarantine, run_id)
    return "" if manifest is None else str(manifest.get("finished_at", ""))


def _removable(quarantine: Partition, run_id: str) -> bool:
    """Whether run ``run_id`` is old enough for its store to let another run remove it."""
    return not quarantine.protected(_finished_at(quarantine, run_id))


def prune_failed(quarantine: Path | Partition, keep: int) -> None:
    """Keep the ``keep`` newest failed runs (by their manifests' ``finished_at``), remove older ones."""
    folder = as_partition(quarantine)
    failed = sorted(
        (run for run in run_ids(folder) if run_status(folder, run) == FAILED),
        key=lambda run: _finished_at(folder, run),
        reverse=True,
    )
    for run in failed[keep:]:
        remove_run(folder, run)
        log.info("removed failed quarantine run %s (keeping the %d newest)", run, keep)


def remove_dead_temporaries(quarantine: Path | Partition) -> None:
    """What dead runs left half-written in the date's folder (hidden temporaries, unfinished uploads)."""
    as_partition(quarantine).clean_leftovers()


def settle(quarantine: Path | Partition, committed: str | None, keep_failed: int) -> None:
    """Tidy the date's quarantine after staging committed run ``committed`` (or names none).

    Marks that run committed, removes every other run that is not a failed one
    (older committed runs, pending runs of dead processes) and the older layout's
    files, keeps the ``keep_failed`` newest failed runs. Safe to repeat: a run
    killed in here is finished by the next one.
    """
    folder = as_partition(quarantine)
    if not folder.exists():
        return
    remove_dead_temporaries(folder)
    if committed is not None and committed in run_ids(folder):
        mark(folder, committed, COMMITTED)
    for run in run_ids(folder):
        if run != committed and run_status(folder, run) != FAILED and _removable(folder, run):
            remove_run(folder, run)
            reached("quarantine.run-removed")
    if committed is not None:
        folder.remove_file(REJECTED_FILE)  # the older layout's rejects
    prune_failed(folder, keep_failed)
