"""Helpers the reliability tests share: running a job as a real process, building and snapshotting partitions.

Every job runs as ``python -m <job>`` in a subprocess with a clean environment
(no inherited pipeline variables, the working directory a temporary folder so
no ``.env`` is picked up), so what a test sees is what an operator sees.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import IO

from sales_api_sim.server import RunningSimulator
from shared.manifest import (
    SUCCESS_FILE,
    FileEntry,
    entries_as_json,
    manifest_bytes,
    new_run_id,
    sha256_hex,
    utc_now,
    verify_partition,
)
from shared.testhook import PAUSE_DIR_ENV, PAUSE_ENV

REPO = Path(__file__).resolve().parents[2]
PAUSE_TIMEOUT = 120  # seconds; generous, only a hung job gets near it
TOKEN = "reliability-token-7f3a9c"
DAY = "2022-08-09"
EXTRACT = "extract_job"
CONVERT = "convert_job"

# Variables the jobs read; none may leak in from the machine running the tests.
_PIPELINE_VARS = (
    "AUTH_TOKEN",
    "AUTH_TOKEN_FILE",
    "SALES_API_URL",
    "BASE_DIR",
    "DATE",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "ENV_FILE",
    "EXTRACT_CONCURRENCY",
    "EXTRACT_MAX_ATTEMPTS",
    "EXTRACT_TIMEOUT",
    "EXTRACT_CONNECT_TIMEOUT",
    "EXTRACT_BACKOFF",
    "EXTRACT_MAX_PAGES",
    "EXTRACT_END_OF_PAGES",
    "EXTRACT_MAX_BACKOFF",
    "EXTRACT_MAX_RETRY_AFTER",
    "EXTRACT_REQUEST_DEADLINE",
    "EXTRACT_MAX_PAGE_BYTES",
    "EXTRACT_ALLOW_EMPTY",
    "CONVERT_WORKERS",
    "CONVERT_CODEC",
    "CONVERT_MAX_INVALID_RATIO",
    "CONVERT_KEEP_FAILED_RUNS",
    "PIPELINE_TEST_PAUSE",
    "PIPELINE_TEST_PAUSE_DIR",
)


@dataclass(frozen=True)
class Result:
    """What a finished job process left: exit code, its two streams, and how long it took."""

    code: int
    stdout: str
    stderr: str
    seconds: float

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


def job_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The machine's environment without pipeline variables, the repo importable, plus ``env``."""
    clean = {k: v for k, v in os.environ.items() if k not in _PIPELINE_VARS}
    clean["PYTHONPATH"] = str(REPO)
    clean["PYTHONDONTWRITEBYTECODE"] = "1"
    clean.update(env or {})
    return clean


def extract_env(sim: RunningSimulator, base_dir: Path, **extra: str) -> dict[str, str]:
    """The environment an extract run against ``sim`` needs (``extra`` wins)."""
    return {"SALES_API_URL": f"{sim.url}/sales", "AUTH_TOKEN": sim.config.token, "BASE_DIR": str(base_dir), **extra}


def job_command(tool: str, args: Iterable[str]) -> list[str]:
    return [sys.executable, "-m", tool, *args]


def run_job(tool: str, args: Iterable[str], env: Mapping[str, str], cwd: Path, timeout: float = 60) -> Result:
    """Run a job to completion."""
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


def assert_clean_failure(result: Result, tool: str, *needles: str, code: int = 1) -> str:
    """Exit ``code``, exactly one summary line on stderr containing every needle, no traceback; returns the line."""
    assert result.code == code, f"expected exit {code}, got {result.code}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.error_lines(tool)
    assert len(lines) == 1, f"expected one '{tool}:' line on stderr, got {lines}\n{result.stderr}"
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    return lines[0]


def assert_success(result: Result) -> None:
    assert result.code == 0, f"expected exit 0, got {result.code}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by relative path, with its bytes (empty for a missing root)."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def temporaries(dataset_dir: Path) -> list[str]:
    """Hidden entries (``.``-prefixed: temporary or set-aside partitions) in a zone's dataset folder."""
    if not dataset_dir.is_dir():
        return []
    return sorted(p.name for p in dataset_dir.iterdir() if p.name.startswith("."))


def write_raw_partition(
    partition: Path,
    pages: Mapping[str, bytes],
    day: str = DAY,
    records: Mapping[str, int] | None = None,
    run_id: str | None = None,
) -> dict[str, object]:
    """A raw partition with a manifest consistent with ``pages`` (name -> bytes), as the extract job writes it.

    Record counts come from ``records`` or, for bytes that parse as a JSON array, its length (else 0).
    """
    partition.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, data in pages.items():
        (partition / name).write_bytes(data)
        count = (records or {}).get(name)
        if count is None:
            count = _array_length(data)
        entries.append(FileEntry(name, count, len(data), sha256_hex(data)))
    manifest: dict[str, object] = {
        "dataset": "sales",
        "zone": "raw",
        "date": day,
        "pages": len(pages),
        "records": sum(e.records for e in entries),
        "bytes": sum(e.bytes for e in entries),
        "files": entries_as_json(entries),
        "source": "tests/reliability",
        "run_id": run_id or new_run_id(),
        "started_at": utc_now(),
        "finished_at": utc_now(),
        "tool": "extract_job",
        "version": "test",
    }
    (partition / SUCCESS_FILE).write_bytes(manifest_bytes(manifest))
    verify_partition(partition)
    return manifest


def _array_length(data: bytes) -> int:
    try:
        parsed = json.loads(data)
    except (ValueError, RecursionError):
        return 0
    return len(parsed) if isinstance(parsed, list) else 0


def page_name(page: int, day: str = DAY) -> str:
    return f"sales_{day}_{page}.json"


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes, **headers: str) -> None:
    """A complete answer: ``status``, a JSON content type, ``headers`` (``Retry_After`` is ``Retry-After``)."""
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.end_headers()
    handler.wfile.write(body)
