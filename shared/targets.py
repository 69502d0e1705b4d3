"""Checks on the folders a run will write, made before any work: a wrong path must never cost data.

A job replaces its output partition whole, so pointing it at the wrong folder
(the dataset folder instead of the date's, a home directory) would delete what
is there. Every output folder is therefore checked first: missing or empty is
fine, and so is one holding only names the pipeline writes there
(``shared.filenames``); anything else refuses the run with exit 2 and a line
saying what is in the way.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from shared.errors import ConfigError
from shared.filenames import is_own

_SHOWN = 3


def check_output(path: Path, zone: str, named_by: str) -> None:
    """Refuse ``path`` as ``zone``'s partition folder unless the pipeline could have written all it holds.

    ``named_by`` says where the path came from ("--raw-dir", "BASE_DIR") for the message.
    """
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise ConfigError(f"{named_by} {path} is a file, not a folder; remove it or name another folder")
    if not path.is_dir():
        return
    try:
        foreign = sorted(
            entry.name + ("/" if entry.is_dir() else "") for entry in path.iterdir() if not is_own(zone, entry.name)
        )
    except OSError as exc:
        raise ConfigError(f"{named_by} {path} cannot be listed: {exc.strerror}") from None
    if foreign:
        shown = ", ".join(foreign[:_SHOWN]) + (f" and {len(foreign) - _SHOWN} more" if len(foreign) > _SHOWN else "")
        raise ConfigError(
            f"refusing {named_by} {path}: it holds {shown}, which the pipeline did not write and a run "
            f"would delete; name the date's own folder, or a new or empty one"
        )


class Located(Protocol):
    """A folder on some store (``shared.storage.Partition``), known by a path-like identity."""

    def identity(self) -> str: ...


def _inside(inner: str, outer: str) -> bool:
    return inner == outer or inner.startswith(outer.rstrip("/") + "/")


def check_distinct(folders: Iterable[tuple[str, Located]]) -> None:
    """Refuse two outputs (or an input and an output) that are the same folder or one inside the other."""
    named = [(name, where.identity()) for name, where in folders]
    for i, (first, a) in enumerate(named):
        for second, b in named[i + 1 :]:
            if _inside(a, b) or _inside(b, a):
                raise ConfigError(f"{first} and {second} must be separate folders, neither inside the other ({a}, {b})")
