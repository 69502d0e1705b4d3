"""Running a job: as a real process (what an operator sees) or in this process (fast, for many small cases).

A subprocess gets ``env.job_env``: no pipeline variable of the machine, and the working directory a test
folder so no ``.env`` is picked up. An in-process run applies the same scrubbing to ``os.environ``.
"""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from shared.testhook import PAUSE_DIR_ENV, PAUSE_ENV

from .env import SCRUBBED, job_env

PAUSE_TIMEOUT = 120  # seconds; generous, only a hung job gets near it
RUN_TIMEOUT = 60  # seconds; a safety net, never a measure


@dataclass(frozen=True)
class Result:
    """What a finished job left: exit code, its two streams, and how long it took."""

    code: int
    stdout: str
    stderr: str
    seconds: float = 0.0

    def error_lines(self, tool: str) -> list[str]:
        """The one-line-per-failure summary lines (``tool: ...``) on stderr; in JSON lines, their message."""
        return [text for text in map(_message, self.stderr.splitlines()) if text.startswith(f"{tool}: ")]


def _message(line: str) -> str:
    """A stderr line as text: the ``message`` of a JSON line (``LOG_FORMAT=json``), else the line itself."""
    if line.startswith("{"):
        try:
            return str(json.loads(line).get("message", ""))
        except ValueError:
            pass
    return line


def job_command(tool: str, args: Iterable[str]) -> list[str]:
    return [sys.executable, "-m", tool, *args]


def run_job(tool: str, args: Iterable[str], env: Mapping[str, str], cwd: Path, timeout: float = RUN_TIMEOUT) -> Result:
    """Run ``python -m tool args`` to completion with exactly ``env`` on top of a scrubbed environment."""
    started = time.monotonic()
    done = subprocess.run(
        job_command(tool, args),
        env=job_env(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return Result(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def run_on_terminal(tool: str, args: Iterable[str], env: Mapping[str, str], cwd: Path) -> Result:
    """Run a job with its stderr on a pseudo-terminal, as in a person's shell; ``stderr`` is what the terminal got."""
    leader, follower = pty.openpty()
    started = time.monotonic()
    with subprocess.Popen(
        job_command(tool, args),
        env=job_env(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=follower,
    ) as process:
        os.close(follower)
        shown = bytearray()
        while True:  # until the job closes the terminal (EIO on Linux); reading keeps the job from blocking on it
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
        os.close(leader)
        assert process.stdout is not None
        stdout = process.stdout.read().decode()
        code = process.wait(timeout=RUN_TIMEOUT)
    return Result(code, stdout, shown.decode(errors="replace"), time.monotonic() - started)


def start_job(
    tool: str, args: Iterable[str], env: Mapping[str, str], cwd: Path, stderr: IO[bytes] | int = subprocess.DEVNULL
) -> subprocess.Popen[bytes]:
    """Start a job without waiting (stdout discarded, stderr too unless given); for kills and /proc inspection."""
    return subprocess.Popen(
        job_command(tool, args),
        env=job_env(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )


def start_job_text(tool: str, args: Iterable[str], env: Mapping[str, str], cwd: Path) -> subprocess.Popen[str]:
    """Start a job whose stdout and stderr the test reads as text, line by line or at the end."""
    return subprocess.Popen(
        job_command(tool, args),
        env=job_env(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def start_paused(
    tool: str,
    args: Iterable[str],
    env: Mapping[str, str],
    cwd: Path,
    phase: str,
    processes: int = 1,
    stderr: IO[bytes] | int = subprocess.DEVNULL,
) -> subprocess.Popen[bytes]:
    """Start a job that pauses at ``phase`` (``shared.testhook``); returns once ``processes`` of it are paused there.

    The test then kills or stops it at exactly that point of its work, however fast
    or slow the machine is. Fails if the job ends without reaching the phase.
    """
    pause_dir = Path(tempfile.mkdtemp(prefix="pause-", dir=cwd))
    process = start_job(tool, args, {**env, PAUSE_ENV: phase, PAUSE_DIR_ENV: str(pause_dir)}, cwd, stderr)
    deadline = time.monotonic() + PAUSE_TIMEOUT
    while len(list(pause_dir.iterdir())) < processes:
        if process.poll() is not None:
            raise AssertionError(f"{tool} exited {process.returncode} without reaching {phase}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"{tool} did not reach {phase} within {PAUSE_TIMEOUT}s")
        time.sleep(0.005)  # polling for the marker file, not waiting for a guessed duration
    return process


def kill_now(process: subprocess.Popen[bytes]) -> int:
    """SIGKILL ``process`` and return its exit status."""
    process.send_signal(signal.SIGKILL)
    return process.wait(timeout=30)


def scrub_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove from ``os.environ`` (for this test) everything a subprocess run would not inherit."""
    for name in SCRUBBED:
        monkeypatch.delenv(name, raising=False)


def run_in_process(
    main: Callable[[list[str]], int],
    argv: Sequence[str],
    env: Mapping[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Result:
    """``main(argv)`` in this process with exactly ``env`` set on top of the (scrubbed) environment."""
    with monkeypatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        capsys.readouterr()
        started = time.monotonic()
        code = main(list(argv))
        seconds = time.monotonic() - started
        captured = capsys.readouterr()
    return Result(code, captured.out, captured.err, seconds)
