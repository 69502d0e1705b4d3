"""Run the simulator: a threaded HTTP server, and a context manager for tests.

Typical test use::

    with running(SimulatorConfig(pages=2)) as sim:
        requests.get(f"{sim.url}/sales", params={...}, headers={"Authorization": sim.config.token})
        assert sim.stats.requests_total == 1
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import ThreadingHTTPServer

from sales_api_sim.api import SalesApi
from sales_api_sim.config import SimulatorConfig
from sales_api_sim.handler import SalesRequestHandler
from sales_api_sim.stats import RequestStats

logger = logging.getLogger(__name__)

# serve_forever checks for shutdown this often; short because a test suite
# starts and stops dozens of servers.
POLL_INTERVAL_SECONDS = 0.01


class SimulatorServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that owns a ``SalesApi`` and can close live connections."""

    daemon_threads = True
    # Parallel extract workers open connections in bursts; the default backlog
    # of 5 drops SYNs and stalls clients for a second.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], api: SalesApi) -> None:
        self.api = api
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, SalesRequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn, a DNS lookup that can
        # stall start-up for seconds in containers; the name is never used.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    @property
    def config(self) -> SimulatorConfig:
        return self.api.config

    @property
    def stats(self) -> RequestStats:
        return self.api.stats

    @property
    def url(self) -> str:
        """Base URL clients use, e.g. ``http://127.0.0.1:54321``."""
        host = self.server_name
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.server_port}"

    def process_request(  # type: ignore[override]
        self, request: socket.socket, client_address: object
    ) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def server_close(self) -> None:
        """Stop listening and drop open keep-alive connections.

        Without the second part a client's pooled connection would keep
        talking to a server that was supposedly shut down.
        """
        super().server_close()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: object, client_address: object) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            # A client that timed out or hung up (the slow and reset faults provoke it).
            logger.debug("connection from %s ended: %r", client_address, error)
        else:
            logger.exception("error while handling a request from %s", client_address)


def make_server(config: SimulatorConfig, host: str = "127.0.0.1", port: int = 0) -> SimulatorServer:
    """Bind (port 0 picks a free port) and listen; call ``serve_forever`` to serve."""
    return SimulatorServer((host, port), SalesApi(config))


@dataclass(frozen=True)
class RunningSimulator:
    """Handle on a simulator serving in a background thread."""

    url: str
    config: SimulatorConfig
    stats: RequestStats
    server: SimulatorServer


DEFAULT_CONFIG = SimulatorConfig()


@contextlib.contextmanager
def running(
    config: SimulatorConfig = DEFAULT_CONFIG, host: str = "127.0.0.1", port: int = 0
) -> Iterator[RunningSimulator]:
    """Serve ``config`` in a background thread for the duration of the ``with`` block."""
    server = make_server(config, host, port)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": POLL_INTERVAL_SECONDS},
        name=f"sales-api-sim:{server.server_port}",
        daemon=True,
    )
    thread.start()
    try:
        yield RunningSimulator(url=server.url, config=config, stats=server.stats, server=server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
