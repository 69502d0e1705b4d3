"""HTTP/1.1 plumbing: read a request, ask ``SalesApi``, write the ``Response``."""

from __future__ import annotations

import logging
import time
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING

from sales_api_sim.api import Response

if TYPE_CHECKING:
    from sales_api_sim.server import SimulatorServer

logger = logging.getLogger(__name__)

# An idle keep-alive connection is dropped after this long, freeing its thread.
IDLE_TIMEOUT_SECONDS = 60
# A GET has no business sending a large body; beyond this the connection is closed.
MAX_DISCARDED_BODY = 64 * 1024


class SalesRequestHandler(BaseHTTPRequestHandler):
    """One thread per connection, serving keep-alive requests until the client leaves."""

    protocol_version = "HTTP/1.1"
    server_version = "sales-api-sim/1.0"
    timeout = IDLE_TIMEOUT_SECONDS
    # Headers and body go out in two writes; without TCP_NODELAY the second
    # one waits for a delayed ACK and every keep-alive request costs ~40 ms.
    disable_nagle_algorithm = True
    server: SimulatorServer

    def setup(self) -> None:
        super().setup()
        self.server.api.stats.count_connection()

    def do_GET(self) -> None:
        self._discard_request_body()
        api = self.server.api
        with api.concurrency.enter() as admitted:
            response = api.respond(self.path, self.headers.get("Authorization"), crowded=not admitted)
            self._write(response)

    def _write(self, response: Response) -> None:
        if response.delay > 0:
            time.sleep(response.delay)
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()
        if response.cut_at is None:
            self.wfile.write(response.body)
        else:
            # Content-Length promised the whole body; closing early is the fault.
            self.wfile.write(response.body[: response.cut_at])
            self.close_connection = True

    def _discard_request_body(self) -> None:
        """Read any body sent with the GET so the next keep-alive request parses."""
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            return
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            return
        try:
            length = int(length_header)
        except ValueError:
            self.close_connection = True
            return
        if 0 < length <= MAX_DISCARDED_BODY:
            self.rfile.read(length)
        elif length != 0:
            self.close_connection = True

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s %s", self.address_string(), format % args)
