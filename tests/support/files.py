"""Snapshots and listings of folder trees, for byte-for-byte before/after comparisons."""

from __future__ import annotations

from pathlib import Path

from shared.last_run import LAST_RUN_FILE


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by relative path, with its bytes (empty for a missing root)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in all_files(root)}


def all_files(root: Path) -> list[Path]:
    """Every file under ``root``, sorted (none if it does not exist)."""
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def data_files(root: Path) -> list[Path]:
    """``all_files`` but extract's record of its last run, which every run that began its work replaces.

    A failed or interrupted run records the dates it left complete too (``shared.last_run``),
    so "nothing written" means no partition, no temporary: only the record.
    """
    return [p for p in all_files(root) if p.name != LAST_RUN_FILE]


def data_snapshot(root: Path) -> dict[str, bytes]:
    """``snapshot`` but extract's record of its last run (see ``data_files``)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in data_files(root)}


def all_file_bytes(root: Path) -> bytes:
    """The bytes of every file under ``root`` joined, for checking that a text appears nowhere."""
    return b"\n".join(p.read_bytes() for p in all_files(root))


def hidden_entries(folder: Path) -> list[str]:
    """Names starting with ``.`` in ``folder`` (temporary or set-aside partitions); none for a missing folder."""
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))
