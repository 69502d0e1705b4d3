"""Extract against a hostile API on 127.0.0.1: what it echoes, how it lies, how slowly it answers.

Each case runs the real job as a process against a small server whose answers
are written by the test, and checks the exit code, the files left under
BASE_DIR (byte for byte) and that the token is nowhere in what was printed.
Time-bounded cases set the job's own deadlines small; no test sleeps.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from .support import DAY, EXTRACT, Result, run_job, send, snapshot, temporaries

TOKEN = "hostile-token-4be1a9"
FAILED_DATE = (1, 3)  # 3 (permanent) once every failed date carries its error's exit code
Server = Callable[[Callable[[BaseHTTPRequestHandler, int], None]], str]


def extract(url: str, base: Path, cwd: Path, *args: str, **env: str) -> Result:
    environment = {"SALES_API_URL": url, "AUTH_TOKEN": TOKEN, "BASE_DIR": str(base), **env}
    return run_job(EXTRACT, ["--date", DAY, "--max-attempts", "1", *args], environment, cwd)


def echo_the_token(handler: BaseHTTPRequestHandler, page: int) -> None:
    token = handler.headers["Authorization"]
    send(handler, 400, json.dumps({"message": f"bad request for token {token}"}).encode())


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_an_error_body_echoing_the_token_is_redacted_on_every_line(
    hostile_api: Server, base: Path, tmp_path: Path, fmt: str
) -> None:
    result = extract(hostile_api(echo_the_token), base, tmp_path, LOG_FORMAT=fmt)

    assert result.code in FAILED_DATE, result.stderr
    assert TOKEN not in result.stderr + result.stdout
    assert "bad request for token ***" in result.stderr
    lines = result.stderr.splitlines()
    if fmt == "json":
        objects = [json.loads(line) for line in lines]  # every line on stderr is a JSON object
        summary = [o for o in objects if o["message"].startswith(f"{EXTRACT}: {DAY}:")]
        assert len(summary) == 1 and summary[0]["date"] == DAY
    else:
        assert len(result.error_lines(EXTRACT)) == 1
    assert snapshot(base) == {} and temporaries(base / "raw" / "sales") == []


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        pytest.param({"AUTH_TOKEN": "t"}, "AUTH_TOKEN is shorter than 8", id="token-too-short"),
        pytest.param({"AUTH_TOKEN": "tökén-ñon-λatin"}, "cannot carry", id="token-not-latin-1"),
        pytest.param(
            {"SALES_API_URL": "http://alice:PassW0rd/@127.0.0.1:9/sales"}, "percent-encoded", id="password-breaks-url"
        ),
        pytest.param({"EXTRACT_TIMEOUT": "inf"}, "must be a finite number", id="timeout-inf"),
        pytest.param({"EXTRACT_TIMEOUT": "nan"}, "must be greater than 0", id="timeout-nan"),
    ],
)
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_configuration_that_cannot_work_is_one_line_and_exit_2(
    base: Path, tmp_path: Path, env: dict[str, str], needle: str, fmt: str
) -> None:
    environment = {"SALES_API_URL": "http://127.0.0.1:9/sales", "AUTH_TOKEN": TOKEN, "BASE_DIR": str(base), **env}
    result = run_job(EXTRACT, ["--date", DAY], {**environment, "LOG_FORMAT": fmt}, tmp_path)

    assert result.code == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    message = json.loads(lines[0])["message"] if fmt == "json" else lines[0]
    assert message.startswith(f"{EXTRACT}: error: ") and needle in message, message
    assert "PassW0rd" not in result.stderr and TOKEN not in result.stderr
    assert snapshot(base) == {}
