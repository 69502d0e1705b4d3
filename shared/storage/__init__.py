"""Where the zones live: one interface (``shared.storage.base``) for a local folder and an object store.

The command line turns ``BASE_DIR`` (or ``--raw-dir``/``--stg-dir``/``--quarantine-dir``)
into a ``Root`` or ``Partition`` with ``open_root``/``open_partition``; below that,
the jobs only call the interface. A plain ``Path`` handed to the jobs' functions
(tests, the bench) means a local folder: ``as_partition``/``as_root``.
"""

from __future__ import annotations

from pathlib import Path

from shared.storage.base import Partition, Root, Writer
from shared.storage.local import LocalPartition, LocalRoot

__all__ = ["LocalPartition", "LocalRoot", "Partition", "Root", "Writer", "as_partition", "as_root"]


def as_partition(where: Path | Partition) -> Partition:
    """``where`` as a partition: a path is a local folder."""
    return LocalPartition(where) if isinstance(where, Path) else where


def as_root(where: Path | Root) -> Root:
    """``where`` as a root: a path is a local folder."""
    return LocalRoot(where) if isinstance(where, Path) else where
