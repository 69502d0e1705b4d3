"""Fixtures of the reliability suite: the simulator on a free localhost port, job environments, a tiny tmpfs."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from sales_api_sim.config import SimulatorConfig
from sales_api_sim.server import RunningSimulator, running

from .support import TOKEN


@pytest.fixture
def sales_api() -> Iterator[Callable[..., RunningSimulator]]:
    """Factory: ``sales_api(pages=3, fault="reset")`` serves a simulator on 127.0.0.1, stopped after the test.

    Keyword arguments are ``SimulatorConfig`` fields; the token defaults to ``TOKEN``.
    """
    with contextlib.ExitStack() as stack:

        def start(**knobs: Any) -> RunningSimulator:
            knobs.setdefault("token", TOKEN)
            return stack.enter_context(running(SimulatorConfig(**knobs), host="127.0.0.1", port=0))

        yield start


SALES_API_END = b'{"message": "You requested page that doesn\'t exist"}'
"""The sales API's answer past the last page."""


@pytest.fixture
def canned_api(
    scripted_api: Callable[[Callable[[str, int], tuple[int, bytes]]], str],
) -> Callable[[Mapping[int, bytes]], str]:
    """Factory: ``canned_api({1: body})`` serves ``body`` as a 200 for page 1 and the API's 404 past the given pages.

    For bodies the simulator cannot produce (a BOM, UTF-16, deep nesting). Returns the sales URL.
    """

    def start(bodies: Mapping[int, bytes]) -> str:
        return scripted_api(lambda day, page: (200, bodies[page]) if page in bodies else (404, SALES_API_END))

    return start


Respond = Callable[[BaseHTTPRequestHandler, int], None]


@pytest.fixture
def hostile_api() -> Iterator[Callable[[Respond], str]]:
    """Factory: ``hostile_api(respond)`` serves every request with ``respond(handler, page)``; returns the sales URL.

    ``respond`` writes whatever it likes on ``handler.wfile`` (a trickle, a lie, a
    huge body, nothing at all). Handler threads are daemons and the server's
    sockets are closed when the test ends, so a response that never finishes
    does not hold the test up.
    """
    servers: list[ThreadingHTTPServer] = []

    def start(respond: Respond) -> str:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                page_text = parse_qs(urlsplit(self.path).query).get("page", ["1"])[0]
                with contextlib.suppress(OSError):  # the client gave up or was stopped
                    respond(self, int(page_text))

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/sales"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """BASE_DIR of a test (created empty)."""
    path = tmp_path / "data"
    path.mkdir()
    return path


TMPFS_SIZE = "256k"


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs mounted on a fresh folder (a disk that fills up), unmounted afterwards.

    Skipped, saying why, where mounting is not permitted (not root, or no CAP_SYS_ADMIN).
    """
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; the disk-full cases did not run")
    if shutil.which("mount") is None:
        pytest.skip("no mount command on this machine; the disk-full cases did not run")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); the disk-full cases did not run")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)
