"""Command line of ``python -m sales_api_sim``: flags, SIM_* environment fallbacks, serving.

Every knob is a flag; each flag falls back to an environment variable, then
to the built-in default (``shared.settings``). Empty environment variables
count as unset.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sales_api_sim.config import SimulatorConfig
from sales_api_sim.server import make_server
from shared.errors import ConfigError
from shared.settings import Choice, Integer, Text, add_arguments, resolve, setting
from shared.signals import StopSignals

logger = logging.getLogger("sales_api_sim")

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# How often the server loop checks for shutdown: short enough that `docker stop`
# returns at once.
SHUTDOWN_CHECK_SECONDS = 0.1

DESCRIPTION = """\
Serve an imitation of the upstream sales API.

  GET /sales?date=YYYY-MM-DD&page=N   header "Authorization: <token>"
      200 JSON array of {client, purchase_date, product, price}
      404 {"message": "You requested page that doesn't exist"} past the last page
      400 bad date or page, 401 missing or wrong token, 429 rate limited
  GET /health                          200 {"status": "ok"}, no token needed
  any other path                       404 plain text

The same seed always serves the same bytes. Each flag falls back to the
environment variable named in its help, then to its default.
"""

EPILOG = """\
order of checks for /sales: rate limit (429), token (401), date/page (400),
revoke-after-page (401), fail-first and error-rate (error status), past the
last page (404); faults replace only answers that would be 200.
Stop with SIGTERM or SIGINT (exit status 0).
"""


@dataclass(frozen=True)
class ServerSettings:
    """Where the simulator listens and how much it logs; its behaviour is ``SimulatorConfig``."""

    host: str = setting(
        env="SIM_HOST",
        flag="--host",
        default="127.0.0.1",
        kind=Text(),
        group="server",
        help="address to listen on; containers use 0.0.0.0",
    )
    port: int = setting(
        env="SIM_PORT",
        flag="--port",
        default=8081,
        kind=Integer(minimum=0, maximum=65535),
        group="server",
        help="port to listen on; 0 picks a free port (the listening line shows it)",
    )
    log_level: str = setting(
        env="SIM_LOG_LEVEL",
        flag="--log-level",
        default="INFO",
        kind=Choice(LOG_LEVELS),
        group="server",
        help="DEBUG logs every request",
    )


SETTINGS = (ServerSettings, SimulatorConfig)
"""The simulator's settings: the server's, then the behaviour's."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sales_api_sim",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for settings_class in SETTINGS:
        add_arguments(parser, settings_class)
    return parser


def parse_args(argv: Sequence[str] | None, environ: Mapping[str, str]) -> tuple[ServerSettings, SimulatorConfig]:
    """Flags over ``environ`` over defaults into server settings and a config; exits 2 on bad input."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return resolve(ServerSettings, args, environ), resolve(SimulatorConfig, args, environ)
    except ConfigError as exc:
        parser.error(str(exc))


def _announce(config: SimulatorConfig, url: str) -> None:
    knobs = config.non_default_knobs()
    if knobs:
        described = ", ".join(f"{name}={value!r}" for name, value in knobs.items())
        logger.info("non-default knobs: %s", described)
    logger.info("sales API simulator listening on %s", url)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT; return the exit status."""
    args, config = parse_args(argv, os.environ if environ is None else environ)
    logging.basicConfig(
        level=args.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        server = make_server(config, args.host, args.port)
    except OSError as exc:
        logger.error("cannot listen on %s:%s: %s", args.host, args.port, exc)
        return 1

    with StopSignals() as stops:
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_CHECK_SECONDS},
            name="sales-api-sim",
            daemon=True,
        )
        thread.start()
        _announce(config, server.url)
        # The main thread only waits: a signal at any moment before or during it is kept for it.
        logger.info("received %s, stopping", stops.wait().name)
        server.shutdown()
        server.server_close()
        thread.join()
    return 0
