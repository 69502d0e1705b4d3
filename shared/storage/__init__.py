"""Where the zones live: one interface (``shared.storage.base``) for a local folder and an object store.

The command line turns ``BASE_DIR`` (or ``--raw-dir``/``--stg-dir``/``--quarantine-dir``)
into a ``Root`` or ``Partition`` with ``open_root``/``open_partition``; below that,
the jobs only call the interface. A plain ``Path`` handed to the jobs' functions
(tests, the bench) means a local folder: ``as_partition``/``as_root``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from shared.storage.base import Partition, Root, Writer
from shared.storage.local import LocalPartition, LocalRoot
from shared.storage.location import Location, ObjectLocation
from shared.storage.s3 import S3Options, S3Partition, S3Root, S3Store

__all__ = ["LocalPartition", "LocalRoot", "Partition", "Root", "Stores", "Writer", "as_partition", "as_root"]


class Stores:
    """Opens the locations a job was given; every ``s3://`` one shares one store client (made on first use).

    ``env`` is the job's loaded environment (the process environment over ``.env``):
    the store's endpoint and credentials come from its standard AWS variables, so
    values in ``.env`` reach the client as well as exported ones.
    """

    def __init__(self, env: Mapping[str, str], *, part_size_mb: int, grace_seconds: float, max_attempts: int) -> None:
        self._env = dict(env)
        self._part_size = part_size_mb * 1024 * 1024
        self._grace, self._attempts = grace_seconds, max_attempts
        self._store: S3Store | None = None

    def _s3(self) -> S3Store:
        if self._store is None:
            options = S3Options.from_env(
                self._env, part_size=self._part_size, grace_seconds=self._grace, max_attempts=self._attempts
            )
            self._store = S3Store(options)
        return self._store

    def root(self, where: Location) -> Root:
        if isinstance(where, ObjectLocation):
            return S3Root(self._s3(), where)
        return LocalRoot(where)

    def partition(self, where: Location) -> Partition:
        if isinstance(where, ObjectLocation):
            return S3Partition(self._s3(), where)
        return LocalPartition(where)


def as_partition(where: Path | Partition) -> Partition:
    """``where`` as a partition: a path is a local folder."""
    return LocalPartition(where) if isinstance(where, Path) else where


def as_root(where: Path | Root) -> Root:
    """``where`` as a root: a path is a local folder."""
    return LocalRoot(where) if isinstance(where, Path) else where
