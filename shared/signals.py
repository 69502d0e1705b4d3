"""Every signal handler of the project, and their one rule: a handler takes no lock.

CPython runs a signal handler in the main thread, between two bytecodes,
wherever that thread happens to be: possibly inside a lock it holds, such as an
``Event``'s (``Event.wait`` holds its condition's lock around each check),
logging's, a buffered stream's. A handler that takes one of those locks itself
(``Event.set``, ``Condition.notify``, ``queue.Queue.put``, a log line,
``print``, ``ThreadPoolExecutor.shutdown``) waits for itself for ever: the
simulator once ignored ``docker stop`` that way, its handler calling
``Event.set`` while the main thread was inside ``Event.wait``. So the handlers
here do one of two things, neither of which takes a lock:

- raise (the jobs, ``raise_on_sigterm``): SIGTERM raises ``Terminated`` as
  SIGINT's default handler raises ``KeyboardInterrupt``; the run unwinds from
  wherever the main thread is, its ``with`` blocks releasing what they hold,
  and whatever must be woken (threads blocked in reads) is woken by the main
  thread as it unwinds, never by the handler;
- nothing (the simulator, whose main thread only waits, ``StopSignals``): the
  interpreter writes the signal's number to a socket (``signal.set_wakeup_fd``)
  on which the main thread blocks; the stopping is then done by that thread.

Standard library only (and ``shared.errors``): the simulator imports it.
"""

from __future__ import annotations

import signal
import socket
from types import FrameType, TracebackType
from typing import Any

from shared.errors import EXIT_SIGTERM

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
"""What stops a program here: ``docker stop`` (SIGTERM) and Ctrl-C (SIGINT)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the main thread is, so the run unwinds exactly as on Ctrl-C."""

    exit_code = EXIT_SIGTERM


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated


def raise_on_sigterm() -> None:
    """From now on SIGTERM raises ``Terminated`` in the main thread (call it from there)."""
    signal.signal(signal.SIGTERM, _raise_terminated)


def _do_nothing(signum: int, frame: FrameType | None) -> None:
    """The handler of ``StopSignals``: the wake-up socket already holds the signal's number."""


class StopSignals:
    """SIGTERM and SIGINT, for a main thread that waits for them (``wait``) instead of being interrupted.

    Inside ``with StopSignals() as stops:`` neither signal ends the process: each
    one's number is written to a socket by the interpreter, whenever it arrives
    (before ``wait`` is called, or while the main thread holds any lock), and
    ``stops.wait()`` returns the first. On leaving, the previous handlers and
    wake-up descriptor are back. Only the main thread may enter it.
    """

    def __init__(self) -> None:
        self._reader, self._writer = socket.socketpair()
        self._previous_fd = -1
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        self._writer.setblocking(False)  # the interpreter never blocks writing a wake-up byte
        self._previous_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        # A Python handler must be set for the wake-up byte to be written; it does nothing else.
        self._previous = {signum: signal.signal(signum, _do_nothing) for signum in STOP_SIGNALS}
        return self

    def wait(self) -> signal.Signals:
        """Block until SIGTERM or SIGINT has arrived (at once if one already did); returns it."""
        while True:
            for number in self._reader.recv(64):
                if number in STOP_SIGNALS:
                    return signal.Signals(number)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        for signum, previous in self._previous.items():
            # None: the handler was not set from Python; the default is what there was.
            signal.signal(signum, signal.SIG_DFL if previous is None else previous)
        signal.set_wakeup_fd(self._previous_fd)
        self._reader.close()
        self._writer.close()
