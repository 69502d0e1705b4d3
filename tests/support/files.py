"""Snapshots and listings of folder trees, for byte-for-byte before/after comparisons."""

from __future__ import annotations

from pathlib import Path


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by relative path, with its bytes (empty for a missing root)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in all_files(root)}


def all_files(root: Path) -> list[Path]:
    """Every file under ``root``, sorted (none if it does not exist)."""
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def all_file_bytes(root: Path) -> bytes:
    """The bytes of every file under ``root`` joined, for checking that a text appears nowhere."""
    return b"\n".join(p.read_bytes() for p in all_files(root))


def hidden_entries(folder: Path) -> list[str]:
    """Names starting with ``.`` in ``folder`` (temporary or set-aside partitions); none for a missing folder."""
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))
