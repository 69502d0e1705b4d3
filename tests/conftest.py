"""Fixtures for every test: a clean logging state, and the sales API simulator on a free localhost port."""

from __future__ import annotations

import contextlib
import logging
import signal
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shared import redaction
from tests.objectstore.seaweed import seaweedfs  # noqa: F401  - the object-store fixture: one server a session, any suite


def pytest_configure(config: pytest.Config) -> None:
    """Programs the tests start must be able to receive SIGINT, whoever started the suite.

    A shell starting a command in the background (``nohup``, ``&`` without job control)
    sets SIGINT to ignored, children inherit that across ``exec``, and Python then installs
    no handler: every test that interrupts a job would see it ignore Ctrl-C. A handled
    signal, unlike an ignored one, is reset to its default in a child.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The jobs' ``configure_logging`` replaces the root handlers; put them back (and forget secrets) after each test.

    Without this, a handler bound to one test's captured stderr would outlive it.
    """
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    urllib3_level = logging.getLogger("urllib3").level
    yield
    redaction.forget_all()
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("urllib3").setLevel(urllib3_level)


@pytest.fixture
def simulator() -> Iterator[Callable[..., Any]]:
    """Factory: ``simulator(pages=3, latency=0.2, ...)`` starts a simulator on 127.0.0.1 and a free port.

    Keyword arguments are ``SimulatorConfig`` fields. The returned handle has
    ``url`` (the sales endpoint is ``url + "/sales"``), ``config`` and ``stats``.
    Every simulator started in a test stops when the test ends.
    """
    from sales_api_sim.config import SimulatorConfig
    from sales_api_sim.server import running

    with contextlib.ExitStack() as stack:

        def start(**knobs: Any) -> Any:
            return stack.enter_context(running(SimulatorConfig(**knobs), host="127.0.0.1", port=0))

        yield start


Answer = tuple[int, bytes]
"""(HTTP status, body) of one answer of a scripted API."""


@pytest.fixture
def scripted_api() -> Iterator[Callable[[Callable[[str, int], Answer]], str]]:
    """Factory: ``scripted_api(lambda day, page: (200, b"[...]"))`` answers ``GET /sales?date=D&page=N`` so.

    A real HTTP server on 127.0.0.1 and a free port, for answers the simulator does
    not give (another framework's 404, a body convert cannot read). Returns the sales URL.
    """
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, urlsplit

    servers: list[tuple[ThreadingHTTPServer, threading.Thread]] = []

    def start(answer: Callable[[str, int], Answer]) -> str:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                status, body = answer(query.get("date", [""])[0], int(query.get("page", ["1"])[0]))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}/sales"

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join()
