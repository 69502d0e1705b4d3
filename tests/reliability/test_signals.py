"""SIGTERM and SIGINT stop a run, or the simulator, promptly whatever it is doing; a dying worker pool is reported.

Each run is stopped at a point the test knows it reached (a log line, the
server seeing the request, a test-only pause file from ``shared.testhook``),
never after a delay. "Promptly" is a generous bound (60 s) against waits the
job would otherwise sit out (an hour of Retry-After, a body that never ends).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from shared.manifest import verify_partition
from shared.testhook import PAUSE_DIR_ENV, PAUSE_ENV

from ..support.env import job_env
from ..support.jobs import start_job_text
from .support import (
    CONVERT,
    DAY,
    EXTRACT,
    data_snapshot,
    hidden_entries,
    page_name,
    send,
    snapshot,
    write_raw_partition,
)

TOKEN = "signals-token-77c1d0"
PROMPTLY = 60.0
EXIT_FOR: dict[int, int] = {signal.SIGINT: 130, signal.SIGTERM: 143}
Server = Callable[[Callable[[BaseHTTPRequestHandler, int], None]], str]


def read_until(process: subprocess.Popen[str], needle: str) -> list[str]:
    """Stderr lines up to and including the first holding ``needle`` (the job's own announcement)."""
    assert process.stderr is not None
    lines = []
    for line in process.stderr:
        lines.append(line)
        if needle in line:
            return lines
    raise AssertionError(f"the job ended without printing {needle!r}:\n{''.join(lines)}")


def stop(process: subprocess.Popen[str], signum: int) -> tuple[int, str]:
    """Send ``signum``; the exit code and the rest of stderr, within ``PROMPTLY`` seconds."""
    process.send_signal(signum)
    try:
        _, rest = process.communicate(timeout=PROMPTLY)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise AssertionError(f"still running {PROMPTLY}s after signal {signum}") from None
    return process.returncode, rest


def assert_stopped(code: int, stderr: str, tool: str, signum: int) -> None:
    assert code == EXIT_FOR[signum], f"exit {code}\n{stderr}"
    assert "Traceback" not in stderr, stderr
    stops = [line for line in stderr.splitlines() if line.startswith(f"{tool}: ")]
    assert len(stops) == 1 and ("interrupted" in stops[0] or "stopped" in stops[0]), stderr
    assert TOKEN not in stderr


@pytest.fixture
def previous(base: Path) -> dict[str, bytes]:
    """A complete raw partition the stopped run must leave exactly as it was."""
    write_raw_partition(base / "raw" / "sales" / DAY, {page_name(1): b'[{"previous": 1}]'})
    return data_snapshot(base)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_ends_an_hour_of_retry_after_at_once(
    hostile_api: Server, base: Path, tmp_path: Path, previous: dict[str, bytes], signum: int
) -> None:
    url = hostile_api(lambda handler, page: send(handler, 503, b'{"message": "later"}', Retry_After="3600"))
    env = {"SALES_API_URL": url, "AUTH_TOKEN": TOKEN, "BASE_DIR": str(base)}
    process = start_job_text(EXTRACT, ["--date", DAY, "--max-retry-after", "7200", "--concurrency", "2"], env, tmp_path)

    read_until(process, "retrying in 3600.00s")
    code, rest = stop(process, signum)

    assert_stopped(code, rest, EXTRACT, signum)
    assert data_snapshot(base) == previous and hidden_entries(base / "raw" / "sales") == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_ends_a_read_of_a_body_that_never_ends(
    hostile_api: Server, base: Path, tmp_path: Path, previous: dict[str, bytes], signum: int
) -> None:
    reading = threading.Event()

    def trickle(handler: BaseHTTPRequestHandler, page: int) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "1000000")
        handler.end_headers()
        handler.wfile.write(b"[")
        handler.wfile.flush()
        reading.set()
        pace = threading.Event()
        while not pace.wait(0.05):
            handler.wfile.write(b" ")
            handler.wfile.flush()

    env = {"SALES_API_URL": hostile_api(trickle), "AUTH_TOKEN": TOKEN, "BASE_DIR": str(base)}
    flags = ["--date", DAY, "--timeout", "3600", "--request-deadline", "3600", "--max-attempts", "1"]
    process = start_job_text(EXTRACT, flags, env, tmp_path)

    assert reading.wait(60), "the job never asked for a page"
    code, rest = stop(process, signum)

    assert_stopped(code, rest, EXTRACT, signum)
    assert data_snapshot(base) == previous and hidden_entries(base / "raw" / "sales") == []


DAYS = ("2022-08-09", "2022-08-10")
WORKER_DIED = "a worker process died (killed by a signal, e.g. the out-of-memory killer); not converted"


@pytest.fixture
def two_dates(base: Path) -> dict[str, bytes]:
    """Raw partitions of two dates, and a previous staging of the first; returns staging's bytes."""
    record = b'{"client": "Ann", "purchase_date": "2022-08-09", "product": "TV", "price": 10}'
    for day in DAYS:
        pages = {page_name(n, day): b"[" + b", ".join([record] * 20) + b"]" for n in (1, 2, 3)}
        write_raw_partition(base / "raw" / "sales" / day, pages, day=day)
    write_raw_partition(base / "stg" / "sales" / DAYS[0], {}, day=DAYS[0])  # any complete partition will do
    return snapshot(base / "stg")


def paused_convert(base: Path, tmp_path: Path) -> tuple[subprocess.Popen[str], list[int]]:
    """Convert both dates in two workers, each paused at its first page; returns the job and the paused pids."""
    pauses = tmp_path / "pauses"
    pauses.mkdir()
    env = {"BASE_DIR": str(base), "CONVERT_WORKERS": "2", PAUSE_ENV: "convert.page", PAUSE_DIR_ENV: str(pauses)}
    process = start_job_text(CONVERT, ["--start", DAYS[0], "--end", DAYS[1], "--force"], env, tmp_path)
    while len(paused := sorted(pauses.iterdir())) < 2:
        assert process.poll() is None, process.communicate()[1]
        threading.Event().wait(0.05)  # polling for the files the workers write, not waiting out a delay
    return process, [int(p.name.rsplit(".", 1)[1]) for p in paused]


def test_a_worker_killed_mid_conversion_fails_its_dates_in_one_line_each(
    base: Path, tmp_path: Path, two_dates: dict[str, bytes]
) -> None:
    process, pids = paused_convert(base, tmp_path)

    os.kill(pids[0], signal.SIGKILL)  # as the out-of-memory killer does
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == 1, stderr
    assert "Traceback" not in stderr and "BrokenProcessPool" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith(f"{CONVERT}: ")]
    assert sorted(lines) == [f"{CONVERT}: {day}: {WORKER_DIED}" for day in DAYS]
    assert "2 date(s): 0 done, 0 skipped, 2 failed" in stderr
    assert snapshot(base / "stg") == two_dates
    assert hidden_entries(base / "stg" / "sales") == [] and hidden_entries(base / "quarantine" / "sales") == []
    verify_partition(base / "stg" / "sales" / DAYS[0])


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_converting_workers(
    base: Path, tmp_path: Path, two_dates: dict[str, bytes], signum: int
) -> None:
    process, _ = paused_convert(base, tmp_path)

    code, rest = stop(process, signum)

    assert_stopped(code, rest, CONVERT, signum)
    assert snapshot(base / "stg") == two_dates
    assert hidden_entries(base / "stg" / "sales") == [] and hidden_entries(base / "quarantine" / "sales") == []


# --- The simulator: SIGTERM (docker stop) or SIGINT stops it, exit 0, whatever it was doing ---------------------

SIMULATOR = "sales_api_sim"

SIGNAL_AT = """
import logging, signal, sys, threading
from sales_api_sim import cli

PLACE, SIGNUM = sys.argv[1], signal.Signals[sys.argv[2]]
LOCKS = (type(threading.Lock()), type(threading.RLock()))


def in_the_wait(frame):
    # Inside the wait main() calls for a signal, whatever waiting primitive that is.
    while frame is not None:
        if frame.f_code.co_name == "wait" and frame.f_back is not None and frame.f_back.f_code is cli.main.__code__:
            return True
        frame = frame.f_back
    return False


def signal_inside_the_wait(frame, event, function):
    # Right after the wait first takes a lock (the old Event.wait did; its handler, Event.set, then waited
    # for that lock for ever), or else as the wait first calls into C.
    of_a_lock = isinstance(getattr(function, "__self__", None), LOCKS)
    took_a_lock = event == "c_return" and of_a_lock and function.__name__ in ("acquire", "__enter__")
    if (took_a_lock or (event == "c_call" and not of_a_lock)) and in_the_wait(frame):
        sys.setprofile(None)
        signal.raise_signal(SIGNUM)


class SignalOnListening(logging.StreamHandler):
    def emit(self, record):
        super().emit(record)
        if "listening on" not in record.getMessage():
            return
        if PLACE == "in-a-log-line":
            signal.raise_signal(SIGNUM)  # inside Handler.handle: its lock is held
        else:
            sys.setprofile(signal_inside_the_wait)  # the main thread's next step is the wait


logging.basicConfig(handlers=[SignalOnListening(sys.stderr)], level="INFO", format="%(name)s: %(message)s")
sys.exit(cli.main(sys.argv[3:]))
"""


def listening_on(process: subprocess.Popen[str]) -> tuple[str, int]:
    """The simulator's address, from the line it logs once it serves."""
    address = urlsplit(read_until(process, "listening on")[-1].split()[-1])
    assert address.hostname is not None and address.port is not None
    return address.hostname, address.port


def threads_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("Threads:")).split()[1])


def assert_simulator_stopped(code: int, stderr: str, signum: int) -> None:
    assert code == 0, f"exit {code}\n{stderr}"
    assert f"received {signal.Signals(signum).name}, stopping" in stderr and "Traceback" not in stderr, stderr


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="counts the simulator's threads in /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_simulator_with_a_request_in_flight(tmp_path: Path, signum: int) -> None:
    process = start_job_text(SIMULATOR, ["--port", "0", "--latency", "0.5", "--token", TOKEN], {}, tmp_path)
    host, port = listening_on(process)
    with socket.create_connection((host, port), timeout=PROMPTLY) as client:
        request = f"GET /sales?date={DAY}&page=1 HTTP/1.1\r\nHost: {host}\r\nAuthorization: {TOKEN}\r\n\r\n"
        client.sendall(request.encode())
        while threads_of(process.pid) < 3:  # the main thread, the server loop, and the request's, in its latency
            assert process.poll() is None, process.communicate()[1]
            threading.Event().wait(0.01)  # polling for the thread the simulator starts, not waiting out a delay
        code, rest = stop(process, signum)

    assert_simulator_stopped(code, rest, signum)


@pytest.mark.parametrize("place", ["inside-the-wait", "in-a-log-line"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_simulator_even_while_its_main_thread_holds_a_lock(
    tmp_path: Path, signum: int, place: str
) -> None:
    """The signal comes at a point the program reaches, chosen by the code: no timing luck involved."""
    args = [place, signal.Signals(signum).name, "--port", "0", "--latency", "0.5", "--token", TOKEN]
    try:
        done = subprocess.run(
            [sys.executable, "-c", SIGNAL_AT, *args],
            env=job_env(),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=PROMPTLY,
        )
    except subprocess.TimeoutExpired:
        raise AssertionError(f"still running {PROMPTLY}s after signal {signum} {place}") from None

    assert_simulator_stopped(done.returncode, done.stderr, signum)
