"""Fixtures for running the extract job against the simulator, in-process and as a subprocess.

Every run gets a scrubbed environment (no ambient tokens, dates, proxies or
``.env``), so the tests see only what they set.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ..support import jobs
from ..support.jobs import Result
from .extract_support import Workspace


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """A clean environment for in-process runs (applied to ``os.environ``) and subprocess runs."""
    jobs.scrub_environ(monkeypatch)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty.env").touch()
    env = {"BASE_DIR": str(tmp_path / "data"), "ENV_FILE": str(tmp_path / "empty.env")}
    return Workspace(tmp_path, tmp_path / "data", env)


@pytest.fixture
def run_in_process(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Result]:
    """``run_in_process(env, *argv)``: ``extract_job.cli.main`` in this process with exactly ``env`` set."""
    from extract_job.cli import main

    def run(env: dict[str, str], *argv: str) -> Result:
        return jobs.run_in_process(main, argv, env, monkeypatch, capsys)

    return run


@pytest.fixture
def run_subprocess(workspace: Workspace) -> Callable[..., Result]:
    """``run_subprocess(env, *argv)``: ``python -m extract_job`` with exactly ``env`` on top of a scrubbed one."""

    def run(env: dict[str, str], *argv: str, timeout: float = 60) -> Result:
        return jobs.run_job("extract_job", argv, env, workspace.root, timeout)

    return run


@pytest.fixture
def start_subprocess(workspace: Workspace) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """``start_subprocess(env, *argv)``: a running ``python -m extract_job``; killed at teardown if still alive."""
    started: list[subprocess.Popen[str]] = []

    def start(env: dict[str, str], *argv: str) -> subprocess.Popen[str]:
        process = jobs.start_job_text("extract_job", argv, env, workspace.root)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)
