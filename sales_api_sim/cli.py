"""Command line of ``python -m sales_api_sim``: flags, SIM_* environment fallbacks, serving.

Every knob is a flag; each flag falls back to an environment variable, then
to the built-in default. Empty environment variables count as unset, so a
compose file can declare ``SIM_PAGES=`` without changing anything.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any

from sales_api_sim.config import (
    DEFAULT_TOKEN,
    FAULTS,
    RETRY_AFTER_FORMATS,
    SimulatorConfig,
    parse_iso_date,
)
from sales_api_sim.server import make_server

logger = logging.getLogger("sales_api_sim")

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})
# How often the main thread checks for a stop signal and the server loop for
# shutdown: short enough that `docker stop` returns at once.
STOP_CHECK_SECONDS = 0.1

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


def _parser_for(kind: str, convert: Callable[[str], Any], check: Callable[[Any], bool]) -> Callable[[str], Any]:
    """An argparse ``type`` that converts, then checks, with a readable error."""

    def parse(text: str) -> Any:
        try:
            value = convert(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None
        if not check(value):
            raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}")
        return value

    return parse


def _choice(choices: Sequence[str]) -> Callable[[str], str]:
    return _parser_for(f"one of {', '.join(choices)}", str, lambda value: value in choices)


def _date_set(text: str) -> frozenset[str]:
    try:
        return frozenset(parse_iso_date(part.strip()).isoformat() for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated YYYY-MM-DD dates: {exc}") from None


def _page_set(text: str) -> frozenset[int]:
    parse_page = _parser_for("comma-separated pages >= 1", int, lambda value: value >= 1)
    return frozenset(parse_page(part) for part in text.split(",") if part.strip())


_port = _parser_for("a port number 0..65535", int, lambda value: 0 <= value <= 65535)
_int = _parser_for("an integer", int, lambda value: True)
_int_min0 = _parser_for("an integer >= 0", int, lambda value: value >= 0)
_int_min1 = _parser_for("an integer >= 1", int, lambda value: value >= 1)
_status = _parser_for("an HTTP error status 400..599", int, lambda value: 400 <= value <= 599)
_fraction = _parser_for("a number between 0 and 1", float, lambda value: 0 <= value <= 1)
_seconds = _parser_for("a finite number of seconds >= 0", float, lambda value: math.isfinite(value) and value >= 0)
_non_empty = _parser_for("a non-empty value", str, bool)


@dataclass(frozen=True)
class Option:
    """One flag: where it lands, how it parses, its env variable and help."""

    flag: str
    env: str
    parse: Callable[[str], Any]
    default: Any
    help: str
    metavar: str | None = None

    @property
    def dest(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")


@dataclass(frozen=True)
class _BadEnv:
    """Stands in for a default whose environment variable did not parse."""

    env: str
    problem: str


def _braced(choices: Sequence[str]) -> str:
    return "{" + ",".join(choices) + "}"


SERVER_OPTIONS = (
    Option(
        flag="--host",
        env="SIM_HOST",
        parse=_non_empty,
        default="127.0.0.1",
        help="address to listen on; containers use 0.0.0.0",
    ),
    Option(
        flag="--port",
        env="SIM_PORT",
        parse=_port,
        default=8081,
        help="port to listen on; 0 picks a free port (the listening line shows it)",
    ),
    Option(
        flag="--log-level",
        env="SIM_LOG_LEVEL",
        parse=_choice(LOG_LEVELS),
        default="INFO",
        help="DEBUG logs every request",
        metavar=_braced(LOG_LEVELS),
    ),
)

KNOB_OPTIONS = (
    Option(
        flag="--token",
        env="SIM_TOKEN",
        parse=_non_empty,
        default=DEFAULT_TOKEN,
        help="token expected as the whole Authorization header value (never logged)",
    ),
    Option(
        flag="--seed",
        env="SIM_SEED",
        parse=_int,
        default=42,
        help="seed of all generated data and random errors",
    ),
    Option(
        flag="--records-per-page",
        env="SIM_RECORDS_PER_PAGE",
        parse=_int_min1,
        default=100,
        help="records on every page",
        metavar="N",
    ),
    Option(
        flag="--pages",
        env="SIM_PAGES",
        parse=_int_min0,
        default=None,
        help="pages per date; 0 means no date has sales; unset derives 3..12 from seed and date",
        metavar="N",
    ),
    Option(
        flag="--no-sales-dates",
        env="SIM_NO_SALES_DATES",
        parse=_date_set,
        default=frozenset(),
        help="comma-separated dates without sales (page 1 answers 404)",
        metavar="DATE[,DATE...]",
    ),
    Option(
        flag="--latency",
        env="SIM_LATENCY",
        parse=_seconds,
        default=0.0,
        help="seconds added to every /sales request",
        metavar="SECONDS",
    ),
    Option(
        flag="--error-rate",
        env="SIM_ERROR_RATE",
        parse=_fraction,
        default=0.0,
        help="fraction of /sales requests answered with --error-status (seeded, so repeatable)",
        metavar="FRACTION",
    ),
    Option(
        flag="--error-status",
        env="SIM_ERROR_STATUS",
        parse=_status,
        default=503,
        help="status of simulated errors",
        metavar="STATUS",
    ),
    Option(
        flag="--fail-first",
        env="SIM_FAIL_FIRST",
        parse=_int_min0,
        default=0,
        help="the first K requests for each (date, page) answer --error-status",
        metavar="K",
    ),
    Option(
        flag="--rate-limit",
        env="SIM_RATE_LIMIT",
        parse=_int_min1,
        default=None,
        help="maximum /sales requests per second across all clients, then 429; unset = no limit",
        metavar="N",
    ),
    Option(
        flag="--retry-after",
        env="SIM_RETRY_AFTER",
        parse=_int_min0,
        default=1,
        help="seconds announced in Retry-After on 429",
        metavar="SECONDS",
    ),
    Option(
        flag="--retry-after-format",
        env="SIM_RETRY_AFTER_FORMAT",
        parse=_choice(RETRY_AFTER_FORMATS),
        default="seconds",
        help="Retry-After as delta seconds or as an HTTP date",
        metavar=_braced(RETRY_AFTER_FORMATS),
    ),
    Option(
        flag="--invalid-rate",
        env="SIM_INVALID_RATE",
        parse=_fraction,
        default=0.0,
        help="fraction of records made invalid (wrong types, missing field, impossible date, ...)",
        metavar="FRACTION",
    ),
    Option(
        flag="--fault",
        env="SIM_FAULT",
        parse=_choice(FAULTS),
        default=None,
        help="reset: cut the body and close the connection; truncate: 200 with cut JSON; "
        "html: 200 text/html page; slow: wait --slow-seconds first",
        metavar=_braced(FAULTS),
    ),
    Option(
        flag="--fault-pages",
        env="SIM_FAULT_PAGES",
        parse=_page_set,
        default=None,
        help="comma-separated pages the fault hits; unset = every page",
        metavar="PAGE[,PAGE...]",
    ),
    Option(
        flag="--fault-first",
        env="SIM_FAULT_FIRST",
        parse=_int_min0,
        default=None,
        help="the fault hits only the first K requests per (date, page); unset = all",
        metavar="K",
    ),
    Option(
        flag="--slow-seconds",
        env="SIM_SLOW_SECONDS",
        parse=_seconds,
        default=2.0,
        help="delay of the slow fault",
        metavar="SECONDS",
    ),
    Option(
        flag="--revoke-after-page",
        env="SIM_REVOKE_AFTER_PAGE",
        parse=_int_min0,
        default=None,
        help="pages greater than this answer 401, as if the token were revoked mid-run",
        metavar="PAGE",
    ),
)
ENDLESS_ENV = "SIM_ENDLESS"


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    """The argument parser; defaults come from ``environ`` where set."""
    parser = argparse.ArgumentParser(
        prog="python -m sales_api_sim",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    server_group = parser.add_argument_group("server")
    knob_group = parser.add_argument_group("behaviour")
    for group, options in ((server_group, SERVER_OPTIONS), (knob_group, KNOB_OPTIONS)):
        for option in options:
            group.add_argument(
                option.flag,
                dest=option.dest,
                type=option.parse,
                default=_env_default(option, environ),
                metavar=option.metavar,
                help=f"{option.help} (env {option.env}; default {_show(option.default)})",
            )
    knob_group.add_argument(
        "--endless",
        action="store_true",
        default=None,
        help=f"every page exists, never answer 404 past the last page (env {ENDLESS_ENV}=1; default off)",
    )
    return parser


def _env_default(option: Option, environ: Mapping[str, str]) -> Any:
    text = environ.get(option.env, "")
    if not text:
        return option.default
    try:
        return option.parse(text)
    except argparse.ArgumentTypeError as exc:
        # Reported only if the flag does not override it, like a bad flag would be.
        return _BadEnv(option.env, str(exc))


def _show(default: object) -> str:
    if default is None:
        return "unset"
    if isinstance(default, frozenset):
        return ",".join(sorted(map(str, default))) or "none"
    return str(default)


def parse_args(argv: Sequence[str] | None, environ: Mapping[str, str]) -> tuple[argparse.Namespace, SimulatorConfig]:
    """Parse flags and environment into server settings and a config; exits 2 on bad input."""
    parser = build_parser(environ)
    args = parser.parse_args(argv)
    for option in SERVER_OPTIONS + KNOB_OPTIONS:
        value = getattr(args, option.dest)
        if isinstance(value, _BadEnv):
            parser.error(f"environment variable {value.env}: {value.problem}")
    if args.endless is None:
        args.endless = _env_bool(parser, environ, ENDLESS_ENV)
    knobs = {option.dest: getattr(args, option.dest) for option in KNOB_OPTIONS}
    try:
        config = SimulatorConfig(endless=args.endless, **knobs)
    except ValueError as exc:
        parser.error(str(exc))
    return args, config


def _env_bool(parser: argparse.ArgumentParser, environ: Mapping[str, str], name: str) -> bool:
    text = environ.get(name, "").strip().lower()
    if text in TRUE_WORDS:
        return True
    if not text or text in FALSE_WORDS:
        return False
    words = ", ".join(sorted(TRUE_WORDS | FALSE_WORDS))
    parser.error(f"environment variable {name}: expected one of {words}, got {text!r}")


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

    received: list[int] = []
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        # Only flag it: logging from a signal handler can re-enter the logging locks.
        received.append(signum)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": STOP_CHECK_SECONDS},
        name="sales-api-sim",
        daemon=True,
    )
    thread.start()
    knobs = config.non_default_knobs()
    if knobs:
        described = ", ".join(f"{name}={value!r}" for name, value in knobs.items())
        logger.info("non-default knobs: %s", described)
    logger.info("sales API simulator listening on %s", server.url)
    # A bounded wait keeps the main thread responsive to signals on every platform.
    while not stop.wait(STOP_CHECK_SECONDS):
        pass
    logger.info("received %s, stopping", signal.Signals(received[0]).name)
    server.shutdown()
    server.server_close()
    thread.join()
    return 0
