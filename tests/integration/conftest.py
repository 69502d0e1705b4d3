"""Fixtures for running the extract job against the simulator, in-process and as a subprocess.

Every run gets a scrubbed environment (no ambient tokens, dates, proxies or
``.env``), so the tests see only what they set.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .extract_support import SCRUBBED, Result, Workspace, subprocess_env


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """A clean environment for in-process runs (applied to ``os.environ``) and subprocess runs."""
    for name in SCRUBBED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    env = {"BASE_DIR": str(tmp_path / "data"), "ENV_FILE": str(tmp_path / "no-such.env")}
    return Workspace(tmp_path, tmp_path / "data", env)


@pytest.fixture
def run_in_process(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Result]:
    """``run_in_process(env, *argv)``: ``extract_job.cli.main`` in this process with exactly ``env`` set."""
    from extract_job.cli import main

    def run(env: dict[str, str], *argv: str) -> Result:
        with monkeypatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            capsys.readouterr()
            code = main(list(argv))
            captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def run_subprocess(workspace: Workspace) -> Callable[..., Result]:
    """``run_subprocess(env, *argv)``: ``python -m extract_job`` with exactly ``env`` on top of a scrubbed one."""

    def run(env: dict[str, str], *argv: str, timeout: float = 60) -> Result:
        done = subprocess.run(
            [sys.executable, "-m", "extract_job", *argv],
            cwd=workspace.root,
            env=subprocess_env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    return run


@pytest.fixture
def start_subprocess(workspace: Workspace) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """``start_subprocess(env, *argv)``: a running ``python -m extract_job``; killed at teardown if still alive."""
    started: list[subprocess.Popen[str]] = []

    def start(env: dict[str, str], *argv: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "extract_job", *argv],
            cwd=workspace.root,
            env=subprocess_env(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)
