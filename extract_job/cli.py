"""``python -m extract_job``: flags, environment, and the loop over dates."""

from __future__ import annotations

import argparse
import logging
from datetime import date
from pathlib import Path

from extract_job.client import SalesApiClient, Timeouts, make_session
from extract_job.extract import extract_date, is_complete
from extract_job.retry import RetryPolicy
from extract_job.settings import (
    DEFAULT_BACKOFF,
    DEFAULT_CONCURRENCY,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_PAGES,
    DEFAULT_READ_TIMEOUT,
    ExtractSettings,
    public_url,
    resolve_settings,
)
from shared.cli import (
    COMMON_ENVIRONMENT,
    EXIT_CODES,
    add_logging_arguments,
    attempt,
    job_parser,
    log_settings,
    report,
    run_main,
)
from shared.config import load_environment
from shared.dates import select_dates
from shared.errors import ConfigError
from shared.logs import configure_logging
from shared.partition import clean_leftovers
from shared.zones import RAW, partition_dir

TOOL = "extract_job"
log = logging.getLogger(TOOL)

EPILOG = f"""\
{COMMON_ENVIRONMENT}  SALES_API_URL   the sales endpoint, e.g. http://127.0.0.1:8081/sales (required)
  AUTH_TOKEN      API token, sent as the Authorization header
  AUTH_TOKEN_FILE file holding the token (a Docker secret); wins over AUTH_TOKEN
  EXTRACT_CONCURRENCY, EXTRACT_MAX_ATTEMPTS, EXTRACT_TIMEOUT, EXTRACT_CONNECT_TIMEOUT,
  EXTRACT_BACKOFF, EXTRACT_MAX_PAGES   defaults for the flags of the same name

output: BASE_DIR/raw/sales/<date>/sales_<date>_<page>.json, one file per page as
received, then _SUCCESS, a JSON manifest. A date's partition is replaced whole
and atomically; a failed run leaves the previous one as it was.

{EXIT_CODES}"""


def build_parser() -> argparse.ArgumentParser:
    parser = job_parser(
        "extract_job",
        "Fetch one day (or a range of days) of sales from the paginated sales API "
        "into date partitions of the raw zone, then exit.",
        EPILOG,
    )
    parser.add_argument(
        "--raw-dir",
        type=Path,
        metavar="PATH",
        help="write a single date's partition here instead of BASE_DIR/raw/sales/<date>",
    )
    parser.add_argument(
        "--missing-only",
        action="store_true",
        help="skip dates whose raw partition is already complete (resume a backfill)",
    )
    http = parser.add_argument_group("HTTP")
    http.add_argument(
        "--concurrency",
        type=int,
        metavar="N",
        help=f"pages in flight at once (default: EXTRACT_CONCURRENCY, else {DEFAULT_CONCURRENCY})",
    )
    http.add_argument(
        "--max-attempts",
        type=int,
        metavar="N",
        help=f"tries per page before giving up (default {DEFAULT_MAX_ATTEMPTS})",
    )
    http.add_argument(
        "--timeout", type=float, metavar="SECONDS", help=f"read timeout per request (default {DEFAULT_READ_TIMEOUT:g})"
    )
    http.add_argument(
        "--connect-timeout",
        type=float,
        metavar="SECONDS",
        help=f"connect timeout per request (default {DEFAULT_CONNECT_TIMEOUT:g})",
    )
    http.add_argument(
        "--backoff",
        type=float,
        metavar="SECONDS",
        help=f"first retry wait, doubled each attempt, with jitter (default {DEFAULT_BACKOFF:g})",
    )
    http.add_argument(
        "--max-pages",
        type=int,
        metavar="N",
        help=f"fail a date whose pages never end after N pages (default {DEFAULT_MAX_PAGES})",
    )
    add_logging_arguments(parser)
    return parser


def _run(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    env = load_environment()
    level, fmt = log_settings(args, env)
    configure_logging(level, fmt)
    days = select_dates(args.date, args.start, args.end, env)
    settings = resolve_settings(args, env)
    if settings.raw_dir and len(days) > 1:
        raise ConfigError("--raw-dir names one partition; it cannot be used with a range of dates")
    configure_logging(level, fmt, secrets=[settings.token])
    log.info(
        "extracting %d date(s) from %s with concurrency %d",
        len(days),
        public_url(settings.api_url),
        settings.concurrency,
    )
    with make_session(settings.token, settings.concurrency) as session:
        client = SalesApiClient(
            session,
            settings.api_url,
            RetryPolicy(max_attempts=settings.max_attempts, base_delay=settings.backoff),
            Timeouts(settings.connect_timeout, settings.read_timeout),
        )
        outcomes = [attempt(day, lambda d: _extract_one(d, settings, client), log) for day in days]
    return report(TOOL, outcomes, log)


def _extract_one(day: date, settings: ExtractSettings, client: SalesApiClient) -> str:
    partition = settings.raw_dir or partition_dir(settings.base_dir, RAW, day)
    if settings.missing_only and is_complete(partition):
        clean_leftovers(partition)  # what a run killed after its swap left behind; no writer will run to remove it
        log.info("%s: already complete, skipped (--missing-only)", day)
        return "skipped"
    extract_date(day, partition, client, public_url(settings.api_url), settings.concurrency, settings.max_pages)
    return "done"


def main(argv: list[str] | None = None) -> int:
    return run_main(TOOL, lambda: _run(argv))
