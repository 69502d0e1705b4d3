"""Another git revision of this repository, checked out beside the working tree for one benchmark run.

``python -m bench --against REV`` measures the jobs of ``REV`` in the same run
as the working tree's, interleaved, so old and new figures share one machine
state. The revision is a temporary ``git worktree`` (detached, removed when the
run ends); any contender runs from it by handing its root to ``bench.probe``,
which puts it first on ``sys.path``. Nothing here knows about a job.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.harness import REPO_ROOT, BenchError

GIT_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Tree:
    """Code to measure: the working tree (``suffix`` empty) or a checked-out revision (``suffix`` "@abc1234")."""

    root: Path
    suffix: str = ""

    @property
    def is_working_tree(self) -> bool:
        return not self.suffix


WORKING_TREE = Tree(REPO_ROOT)


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=GIT_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise BenchError(f"git {' '.join(args)}: {exc}") from None
    if done.returncode != 0:
        raise BenchError(f"git {' '.join(args)} exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return done.stdout.strip()


def resolve(revision: str) -> str:
    """The short commit id ``revision`` names; ``BenchError`` when it names none."""
    return _git("rev-parse", "--verify", "--quiet", "--short", f"{revision}^{{commit}}")


@contextlib.contextmanager
def checked_out(revision: str, parent: Path) -> Iterator[Tree]:
    """``revision`` as a detached worktree under ``parent`` for the duration of the block."""
    commit = resolve(revision)
    path = parent / f"revision-{commit}"
    _git("worktree", "add", "--detach", "--quiet", str(path), commit)
    try:
        yield Tree(path, f"@{commit}")
    finally:
        try:
            _git("worktree", "remove", "--force", str(path))
        except BenchError:
            shutil.rmtree(path, ignore_errors=True)
            with contextlib.suppress(BenchError):
                _git("worktree", "prune")
