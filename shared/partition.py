"""Atomic replacement of a whole partition folder.

A run writes into a hidden temporary folder beside the partition
(``.<name>.tmp-<run id>``); at commit it fsyncs every file and the folder, and
only then puts it in place:

* no partition yet: one ``rename``;
* a partition already there: ``renameat2(RENAME_EXCHANGE)`` swaps the two folders
  in one step, then the old one (now under the temporary name) is deleted.
  Where the kernel or file system cannot exchange, the old partition is first
  renamed aside (``.<name>.old-<run id>``); if the process dies between the two
  renames, the next run puts it back.

So after a failure or a ``kill -9`` at any instant, the partition path holds the
previous complete partition or the new complete one. Each temporary folder is
``flock``-ed by its writer while in use: a leftover whose lock can be taken
belongs to a dead run and is removed; one still locked is left to its owner.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import logging
import os
import shutil
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from shared.errors import PartitionError
from shared.filenames import SUCCESS_FILE, is_project_file, old_prefix, tmp_prefix
from shared.manifest import manifest_bytes, new_run_id
from shared.testhook import reached

log = logging.getLogger(__name__)

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically; False when this system cannot."""
    renameat2 = getattr(_libc, "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(a))


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _try_lock(path: Path) -> int | None:
    """An fd holding an exclusive lock on folder ``path``, or None if another process holds it."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _tmp_prefix(target: Path) -> str:
    return tmp_prefix(target.name)


def _old_prefix(target: Path) -> str:
    return old_prefix(target.name)


def remove_own(path: Path) -> None:
    """Delete ``path`` (a partition or a run's temporary) as far as the pipeline wrote it.

    Only names of the project's own patterns (``shared.filenames``) are deleted;
    anything else stays, with a warning naming it, and so does its folder.
    """
    if path.is_symlink() or not path.is_dir():
        if is_project_file(path.name):
            path.unlink(missing_ok=True)
        return
    foreign = []
    for entry in path.iterdir():
        if not is_project_file(entry.name):
            foreign.append(entry.name)
        elif entry.is_dir() and not entry.is_symlink():
            remove_own(entry)
        else:
            entry.unlink(missing_ok=True)
    if foreign:
        log.warning(
            "left %s in place: it holds files the pipeline did not write (%s)", path, ", ".join(sorted(foreign))
        )
        return
    with contextlib.suppress(OSError):
        path.rmdir()


def clean_leftovers(target: Path) -> None:
    """Remove what dead runs left beside ``target``; restore it if a run died mid-swap."""
    parent = target.parent
    if not parent.is_dir():
        return
    for leftover in sorted(parent.iterdir()):
        name = leftover.name
        if not (name.startswith(_tmp_prefix(target)) or name.startswith(_old_prefix(target))):
            continue
        if leftover.is_symlink() or not leftover.is_dir():
            # Older versions swapped a regular file found at the partition path into a temporary name.
            log.warning("removing %s: a file where a run's temporary folder belongs", leftover)
            remove_own(leftover)
            continue
        fd = _try_lock(leftover)
        if fd is None:
            continue
        try:
            if name.startswith(_old_prefix(target)) and not target.exists():
                log.warning("restoring %s, left aside by a run that died mid-swap", target)
                os.rename(leftover, target)
            else:
                remove_own(leftover)
        finally:
            os.close(fd)


def remove_partition(target: Path) -> None:
    """Delete a partition so that no reader ever sees it half-deleted."""
    if not target.exists():
        return
    aside = target.parent / f"{_tmp_prefix(target)}{new_run_id()}"
    os.rename(target, aside)
    fsync_dir(target.parent)
    remove_own(aside)


class PartitionWriter:
    """Builds a partition in a hidden folder and swaps it into place on ``commit()``.

    Leaving the ``with`` block without ``commit()`` (an exception) discards the
    temporary folder and leaves the existing partition untouched.
    """

    def __init__(self, target: Path, run_id: str) -> None:
        self.target = target
        self.run_id = run_id
        self.tmp = target.parent / f"{_tmp_prefix(target)}{run_id}"
        self._lock_fd: int | None = None
        self._committed = False
        self._streamed: list[Path] = []  # from open(): synced at commit

    def __enter__(self) -> PartitionWriter:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        clean_leftovers(self.target)
        self.tmp.mkdir()
        self._lock_fd = _try_lock(self.tmp)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._committed:
            shutil.rmtree(self.tmp, ignore_errors=True)  # this run's own folder: nothing else was ever in it
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def write_bytes(self, name: str, data: bytes) -> None:
        """Write one file in full and make it durable, in the calling thread (safe from several threads).

        Extract's fetching threads call this: each page's fsync then overlaps the
        other pages' network waits, instead of the commit syncing every page in a
        row once the last one is in (tens of milliseconds a date, more on a busy disk).
        """
        with (self.tmp / name).open("xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    def open(self, name: str) -> BinaryIO:
        """A new binary file in the temporary folder, for streaming writers; the caller closes it."""
        path = self.tmp / name
        handle = path.open("xb")
        self._streamed.append(path)
        return handle

    def commit(self, manifest: dict[str, Any] | None = None) -> None:
        """Write ``manifest`` as the last file, make every file durable, then swap the folder into place.

        Files from ``write_bytes`` are durable already; the streamed ones (``open``) are synced here.
        """
        if manifest is not None:
            self.write_bytes(SUCCESS_FILE, manifest_bytes(manifest))
        for path in self._streamed:
            if path.exists():
                _fsync_file(path)
        fsync_dir(self.tmp)
        reached("partition.synced")
        if self.target.is_symlink() or (self.target.exists() and not self.target.is_dir()):
            raise PartitionError(f"{self.target} is a file, not a partition folder; remove it and run again")
        if not self.target.exists():
            os.rename(self.tmp, self.target)
        elif _exchange(self.tmp, self.target):
            reached("partition.swapped")
            remove_own(self.tmp)  # now the previous partition
        else:
            aside = self.target.parent / f"{_old_prefix(self.target)}{self.run_id}"
            os.rename(self.target, aside)
            os.rename(self.tmp, self.target)
            reached("partition.swapped")
            remove_own(aside)
        fsync_dir(self.target.parent)
        self._committed = True
