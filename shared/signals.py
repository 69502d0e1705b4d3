"""Every signal handler of the project, and their one rule: a handler takes no lock.

CPython runs a signal handler in the main thread, between two bytecodes,
wherever that thread happens to be: possibly inside a lock it holds. A handler
that takes such a lock itself waits for itself for ever. The jobs' handler
only raises (``raise_on_sigterm``): SIGTERM raises ``Terminated`` as SIGINT's
default handler raises ``KeyboardInterrupt``; the run unwinds from wherever the
main thread is, its ``with`` blocks releasing what they hold, and whatever must
be woken (threads blocked in reads) is woken by the main thread as it unwinds,
never by the handler.

Standard library only (and ``shared.errors``).
"""

from __future__ import annotations

import signal
from types import FrameType

from shared.errors import EXIT_SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the main thread is, so the run unwinds exactly as on Ctrl-C."""

    exit_code = EXIT_SIGTERM


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated


def raise_on_sigterm() -> None:
    """From now on SIGTERM raises ``Terminated`` in the main thread (call it from there)."""
    signal.signal(signal.SIGTERM, _raise_terminated)
