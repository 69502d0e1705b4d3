"""A test-only pause at named phases of a job, so a test can kill or stop it at an exact point of its work.

Off unless the environment names a phase: ``PIPELINE_TEST_PAUSE=<phase>`` pauses
the first time the job reaches ``<phase>``, ``<phase>#<n>`` the n-th time. On
reaching it the job creates ``<phase>#<n>.<pid>`` in ``PIPELINE_TEST_PAUSE_DIR``
and waits until a signal ends it. A test waits for that file, not for a delay,
so what it checks never depends on the machine's speed. Both variables are read
once, here and nowhere else; with them unset ``reached`` only counts nothing.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

PAUSE_ENV = "PIPELINE_TEST_PAUSE"
PAUSE_DIR_ENV = "PIPELINE_TEST_PAUSE_DIR"


def _target(text: str) -> tuple[str, int] | None:
    if not text:
        return None
    phase, _, nth = text.partition("#")
    return phase, int(nth or 1)


_TARGET = _target(os.environ.get(PAUSE_ENV, "").strip())
_DIR = Path(os.environ.get(PAUSE_DIR_ENV, ".") or ".")
_seen: dict[str, int] = {}
_lock = threading.Lock()


def reached(phase: str) -> None:
    """Mark that the job reached ``phase``; pauses there when a test asked for it."""
    if _TARGET is None or _TARGET[0] != phase:
        return
    with _lock:
        _seen[phase] = count = _seen.get(phase, 0) + 1
    if count != _TARGET[1]:
        return
    marker = _DIR / f"{phase}#{count}.{os.getpid()}"
    marker.touch()
    while marker.exists():
        # A signal handler that raises (SIGTERM, SIGINT) unwinds from here in the main thread; a kill ends any.
        time.sleep(0.01)
