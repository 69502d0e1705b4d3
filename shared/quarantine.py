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

Everything here is a small function of (the date's quarantine folder, run ids),
so it can move onto another store as it is.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from shared.errors import PartitionError
from shared.filenames import MANIFEST_REWRITE, SUCCESS_FILE
from shared.filenames import QUARANTINE_RUN_PREFIX as RUN_PREFIX
from shared.filenames import REJECTED_FILE as REJECTED_FILE  # re-exported: the quarantine layout's file
from shared.manifest import manifest_bytes, read_manifest, sha256_hex, verify_partition
from shared.partition import clean_leftovers, fsync_dir, remove_own
from shared.testhook import reached

log = logging.getLogger(__name__)

PENDING = "pending"
COMMITTED = "committed"
FAILED = "failed"
DEFAULT_KEEP_FAILED_RUNS = 5


def run_folder(quarantine: Path, run_id: str) -> Path:
    """Where run ``run_id`` keeps its rejects in the date's quarantine folder."""
    return quarantine / f"{RUN_PREFIX}{run_id}"


def run_ids(quarantine: Path) -> list[str]:
    """The run ids with a (committed) run folder, in name order; hidden temporaries are not runs."""
    if not quarantine.is_dir():
        return []
    return sorted(p.name[len(RUN_PREFIX) :] for p in quarantine.iterdir() if p.name.startswith(RUN_PREFIX))


def run_status(quarantine: Path, run_id: str) -> str | None:
    """The status a run's manifest records, or None when the folder has no readable manifest."""
    try:
        return str(read_manifest(run_folder(quarantine, run_id)).get("status"))
    except Exception:
        return None


def paired_run(staging_manifest: dict[str, Any]) -> str | None:
    """The quarantine run a staging manifest names (None for a manifest of format 1)."""
    paired = staging_manifest.get("quarantine")
    return str(paired["run_id"]) if isinstance(paired, dict) and "run_id" in paired else None


def pairing(run_id: str, records: int, sha256: str) -> dict[str, Any]:
    """What a staging manifest records of its quarantine run (its ``quarantine`` field)."""
    return {"run_id": run_id, "path": f"{RUN_PREFIX}{run_id}/{REJECTED_FILE}", "records": records, "sha256": sha256}


def rejected_records(quarantine: Path, staging_manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The rejects paired with a staging partition, each line parsed; checked against both manifests.

    For a staging manifest of format 1 (no pairing), the older layout's
    ``rejected.jsonl`` in the date's folder, if any.
    """
    run_id = paired_run(staging_manifest)
    if run_id is None:
        legacy = quarantine / REJECTED_FILE
        lines = legacy.read_text(encoding="utf-8").splitlines() if legacy.is_file() else []
    else:
        folder = run_folder(quarantine, run_id)
        verify_partition(folder)
        data = (folder / REJECTED_FILE).read_bytes()
        if sha256_hex(data) != staging_manifest["quarantine"]["sha256"]:
            raise PartitionError(f"{folder / REJECTED_FILE} is not the rejects file staging's manifest names")
        lines = data.decode("utf-8").splitlines()
    return [json.loads(line) for line in lines]


def mark(quarantine: Path, run_id: str, status: str) -> None:
    """Rewrite a run's manifest with ``status``, atomically (a new file renamed over the old)."""
    folder = run_folder(quarantine, run_id)
    manifest = read_manifest(folder)
    if manifest.get("status") == status:
        return
    fresh = folder / MANIFEST_REWRITE
    with fresh.open("wb") as handle:
        handle.write(manifest_bytes({**manifest, "status": status}))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(fresh, folder / SUCCESS_FILE)
    fsync_dir(folder)


def remove_run(quarantine: Path, run_id: str) -> None:
    """Delete a run folder so no reader sees it half-deleted: renamed aside (hidden) first."""
    folder = run_folder(quarantine, run_id)
    aside = quarantine / f".{folder.name}.old-{run_id}"
    os.rename(folder, aside)
    fsync_dir(quarantine)
    remove_own(aside)


def _finished_at(quarantine: Path, run_id: str) -> str:
    try:
        return str(read_manifest(run_folder(quarantine, run_id)).get("finished_at", ""))
    except Exception:
        return ""


def prune_failed(quarantine: Path, keep: int) -> None:
    """Keep the ``keep`` newest failed runs (by their manifests' ``finished_at``), remove older ones."""
    failed = sorted(
        (run for run in run_ids(quarantine) if run_status(quarantine, run) == FAILED),
        key=lambda run: _finished_at(quarantine, run),
        reverse=True,
    )
    for run in failed[keep:]:
        remove_run(quarantine, run)
        log.info("removed failed quarantine run %s (keeping the %d newest)", run, keep)


def remove_dead_temporaries(quarantine: Path) -> None:
    """What dead runs left half-written in the date's folder (hidden ``.run=<id>.tmp-…`` folders)."""
    if not quarantine.is_dir():
        return
    for entry in sorted(quarantine.iterdir()):
        if entry.name.startswith(f".{RUN_PREFIX}"):
            name = entry.name[1:].split(".tmp-")[0].split(".old-")[0]
            clean_leftovers(quarantine / name)


def settle(quarantine: Path, committed: str | None, keep_failed: int) -> None:
    """Tidy the date's quarantine after staging committed run ``committed`` (or names none).

    Marks that run committed, removes every other run that is not a failed one
    (older committed runs, pending runs of dead processes) and the older layout's
    files, keeps the ``keep_failed`` newest failed runs. Safe to repeat: a run
    killed in here is finished by the next one.
    """
    if not quarantine.is_dir():
        return
    remove_dead_temporaries(quarantine)
    if committed is not None and committed in run_ids(quarantine):
        mark(quarantine, committed, COMMITTED)
    for run in run_ids(quarantine):
        if run != committed and run_status(quarantine, run) != FAILED:
            remove_run(quarantine, run)
            reached("quarantine.run-removed")
    if committed is not None:
        (quarantine / REJECTED_FILE).unlink(missing_ok=True)  # the older layout's rejects
    prune_failed(quarantine, keep_failed)
