"""``shared.signals``: a handler never waits for a lock the interrupted main thread holds.

A handler runs in the main thread wherever that thread is. Each case runs in a
process of its own that raises the signal itself, at a point the code chooses
(``signal.raise_signal`` runs the handler before it returns), never by timing:
inside the stop wait, right after it takes a lock (the simulator's old wait,
``Event.wait``, did, and its handler, calling ``Event.set``, then waited for
that lock for ever: this case hangs with that code); while holding the kind of
lock an ``Event`` holds; inside a log line (logging's lock); after another
signal; before the wait. A handler that took a held lock would hang the
process, which the test sees as no answer within ``PROMPTLY``.
"""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from shared.signals import StopSignals

from ..support.env import REPO, job_env

PROMPTLY = 60.0  # seconds; a safety net: a deadlocked handler never answers

PLACES = """
import logging, signal, sys, threading

SIGNUM = signal.Signals[sys.argv[2]]
EVENT_LOCK = threading.Lock()  # what an Event's Condition is made of


class SignalWhileEmitting(logging.Handler):
    def emit(self, record):  # Handler.handle holds this handler's lock around emit
        signal.raise_signal(SIGNUM)


HANDLER = SignalWhileEmitting()
logging.getLogger("signals-test").addHandler(HANDLER)


def in_event_wait():
    # Event.wait holds its Condition's lock while it checks the flag; the signal comes right there.
    with threading.Condition(EVENT_LOCK):
        signal.raise_signal(SIGNUM)


def in_a_log_line():
    logging.getLogger("signals-test").warning("the signal comes while this line is written")


def after_another_signal():
    signal.signal(signal.SIGUSR1, lambda signum, frame: None)
    signal.raise_signal(signal.SIGUSR1)
    signal.raise_signal(SIGNUM)


def before_the_wait():
    signal.raise_signal(SIGNUM)


def released(lock):
    # Free for another thread (this one could re-enter an RLock it still held).
    free = []

    def check():
        if lock.acquire(blocking=False):
            lock.release()
            free.append(True)

    checker = threading.Thread(target=check)
    checker.start()
    checker.join()
    return free == [True]


def check_released():
    assert released(EVENT_LOCK) and released(HANDLER.lock), "a lock was left held"


signal_here = {
    "in-event-wait": in_event_wait,
    "in-a-log-line": in_a_log_line,
    "after-another-signal": after_another_signal,
    "before-the-wait": before_the_wait,
}.get(sys.argv[1])
"""

WAITS_FOR_IT = """
from shared.signals import StopSignals

LOCKS = (type(threading.Lock()), type(threading.RLock()))


def of_a_lock(function):
    return isinstance(getattr(function, "__self__", None), LOCKS)


def signal_inside_the_wait(frame, event, function):
    # Whatever the wait does: the signal comes right after it first takes a lock (the simulator's old
    # Event.wait did, and its handler then waited for that lock), or else as it first calls into C.
    took_a_lock = event == "c_return" and of_a_lock(function) and function.__name__ in ("acquire", "__enter__")
    if took_a_lock or (event == "c_call" and not of_a_lock(function)):
        sys.setprofile(None)
        signal.raise_signal(SIGNUM)


with StopSignals() as stops:
    if signal_here is None:
        sys.setprofile(signal_inside_the_wait)
    else:
        signal_here()
    received = stops.wait()
    sys.setprofile(None)
print(received.name)
check_released()
"""

RAISES_IT = """
from shared.signals import raise_on_sigterm

raise_on_sigterm()
try:
    signal_here()
except KeyboardInterrupt as exc:
    check_released()
    print(type(exc).__name__)
"""

SIGNAL_AT = ["in-event-wait", "in-a-log-line", "after-another-signal", "before-the-wait"]
"""Where the main thread is when the signal comes; ``StopSignals`` also has it "inside-the-wait"."""


def run(program: str, place: str, signum: signal.Signals) -> subprocess.CompletedProcess[str]:
    """Run ``program`` in a fresh interpreter, the signal raised at ``place``; its result within ``PROMPTLY``."""
    try:
        return subprocess.run(
            [sys.executable, "-c", PLACES + program, place, signum.name],
            env=job_env(),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=PROMPTLY,
        )
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{signum.name} raised {place}: the process hung (a handler waited for a lock)") from None


@pytest.mark.parametrize("place", [*SIGNAL_AT, "inside-the-wait"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_is_waited_for_wherever_the_main_thread_was(place: str, signum: signal.Signals) -> None:
    done = run(WAITS_FOR_IT, place, signum)

    assert (done.returncode, done.stdout, done.stderr) == (0, f"{signum.name}\n", "")


@pytest.mark.parametrize("place", SIGNAL_AT)
def test_sigterm_raises_terminated_wherever_the_main_thread_was(place: str) -> None:
    done = run(RAISES_IT, place, signal.SIGTERM)

    assert (done.returncode, done.stdout, done.stderr) == (0, "Terminated\n", "")


def test_stop_signals_puts_back_what_was_there() -> None:
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    with StopSignals():
        assert signal.getsignal(signal.SIGTERM) not in (before[signal.SIGTERM], signal.SIG_DFL)
    assert {signum: signal.getsignal(signum) for signum in before} == before
    assert signal.set_wakeup_fd(-1) == -1  # none was set before, none is left
