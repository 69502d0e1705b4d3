"""What the reliability tests share on top of ``tests.support``: their token and date, clean-failure checks.

Every job runs as ``python -m <job>`` in a subprocess with a clean environment
(``tests.support.jobs``), so what a test sees is what an operator sees. The
general helpers are re-exported here so a test imports its whole kit from one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from sales_api_sim.server import RunningSimulator

from ..support.env import REPO, job_env
from ..support.files import data_snapshot, hidden_entries, snapshot
from ..support.jobs import Result, job_command, kill_now, run_job, start_job, start_paused
from ..support.partitions import page_name as _page_name
from ..support.partitions import write_raw_partition as _write_raw_partition

__all__ = [
    "CONVERT",
    "DAY",
    "EXTRACT",
    "REPO",
    "TOKEN",
    "Result",
    "assert_clean_failure",
    "assert_success",
    "data_snapshot",
    "extract_env",
    "hidden_entries",
    "job_command",
    "job_env",
    "kill_now",
    "page_name",
    "run_job",
    "send",
    "snapshot",
    "start_job",
    "start_paused",
    "write_raw_partition",
]

TOKEN = "reliability-token-7f3a9c"
DAY = "2022-08-09"
EXTRACT = "extract_job"
CONVERT = "convert_job"


def extract_env(sim: RunningSimulator, base_dir: Path, **extra: str) -> dict[str, str]:
    """The environment an extract run against ``sim`` needs (``extra`` wins)."""
    return {"SALES_API_URL": f"{sim.url}/sales", "AUTH_TOKEN": sim.config.token, "BASE_DIR": str(base_dir), **extra}


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


def page_name(page: int, day: str = DAY) -> str:
    return _page_name(page, day)


def write_raw_partition(
    partition: Path,
    pages: Mapping[str, bytes],
    day: str = DAY,
    records: Mapping[str, int] | None = None,
    run_id: str | None = None,
) -> dict[str, object]:
    """``tests.support.partitions.write_raw_partition``, of ``DAY`` unless told."""
    return _write_raw_partition(partition, pages, day, records, run_id)


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes, **headers: str) -> None:
    """A complete answer: ``status``, a JSON content type, ``headers`` (``Retry_After`` is ``Retry-After``)."""
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.end_headers()
    handler.wfile.write(body)
