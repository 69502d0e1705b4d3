"""The extract job's settings, declared once (see ``shared.settings``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from shared.config import JobSettings, read_token
from shared.errors import ConfigError
from shared.observe import ObservabilitySettings
from shared.settings import Integer, Invalid, Number, PathKind, Switch, Text, setting
from shared.storage.location import Location, LocationKind, resolved
from shared.urls import check_http_url

HTTP_GROUP = "HTTP"
MAX_CONCURRENCY = 64  # more pages in flight than this only hammers one API; a typo (100000) must not
MAX_SECONDS = 24 * 3600.0  # no wait or timeout of the job is longer than a day
API_URL_HELP = "the sales endpoint, e.g. http://127.0.0.1:8081/sales"
DEFAULT_END_OF_PAGES = "page that doesn.t exist"
"""Searched in a 404's body: the sales API's ``{"message": "You requested page that doesn't exist"}``."""


def validate_regex(text: str) -> str:
    """``text`` if it compiles as a regular expression (kept as text: the settings stay picklable).

    Raises ``Invalid``, so the error names the flag or variable like every other setting's.
    """
    try:
        re.compile(text)
    except re.error as exc:
        raise Invalid(f"is not a valid regular expression: {exc}", quote=True) from None
    return text


def validate_api_url(url: str) -> str:
    """``SALES_API_URL`` must be an absolute http(s) URL (credentials allowed); returns it without blanks."""
    if not url.strip():
        raise ConfigError(f"SALES_API_URL is not set ({API_URL_HELP})")
    return check_http_url("SALES_API_URL", url, credentials=True)


@dataclass(frozen=True, kw_only=True)
class ExtractSettings(ObservabilitySettings, JobSettings):
    api_url: str = setting(env="SALES_API_URL", kind=Text(validate_api_url, "absolute http(s) URL"), help=API_URL_HELP)
    auth_token: str | None = setting(
        env="AUTH_TOKEN",
        default=None,
        kind=Text(),
        secret=True,
        help="API token, sent as the Authorization header",
    )
    auth_token_file: Path | None = setting(
        env="AUTH_TOKEN_FILE",
        default=None,
        kind=PathKind(),
        secret=True,  # only where the token is, but kept out of reprs with it
        help="file holding the API token (a Docker secret); wins over AUTH_TOKEN",
    )
    raw_dir: Location | None = setting(
        flag="--raw-dir",
        default=None,
        kind=LocationKind(),
        metavar="PATH|URL",
        default_text="BASE_DIR/raw/sales/<date>",
        help="write a single date's partition here",
    )
    missing_only: bool = setting(
        flag="--missing-only",
        default=False,
        kind=Switch(),
        help="skip dates whose raw partition is already complete (resume a backfill); a partition whose run "
        "started before its date ended (today's, an intraday pull) is fetched again",
    )
    concurrency: int = setting(
        env="EXTRACT_CONCURRENCY",
        flag="--concurrency",
        default=4,
        kind=Integer(minimum=1, maximum=MAX_CONCURRENCY),
        metavar="N",
        group=HTTP_GROUP,
        help="pages in flight at once",
    )
    max_attempts: int = setting(
        env="EXTRACT_MAX_ATTEMPTS",
        flag="--max-attempts",
        default=5,
        kind=Integer(minimum=1, maximum=100),
        metavar="N",
        group=HTTP_GROUP,
        help="tries per page before giving up",
    )
    read_timeout: float = setting(
        env="EXTRACT_TIMEOUT",
        flag="--timeout",
        default=30.0,
        kind=Number(above=0, maximum=MAX_SECONDS),
        metavar="SECONDS",
        group=HTTP_GROUP,
        help="longest silence while waiting for the server (per read)",
    )
    connect_timeout: float = setting(
        env="EXTRACT_CONNECT_TIMEOUT",
        flag="--connect-timeout",
        default=5.0,
        kind=Number(above=0, maximum=MAX_SECONDS),
        metavar="SECONDS",
        group=HTTP_GROUP,
        help="connect timeout per request",
    )
    backoff: float = setting(
        env="EXTRACT_BACKOFF",
        flag="--backoff",
        default=0.5,
        kind=Number(above=0, maximum=MAX_SECONDS),
        metavar="SECONDS",
        group=HTTP_GROUP,
        help="first retry wait, doubled each attempt, with jitter",
    )
    max_backoff: float = setting(
        env="EXTRACT_MAX_BACKOFF",
        flag="--max-backoff",
        default=30.0,
        kind=Number(above=0, maximum=MAX_SECONDS),
        metavar="SECONDS",
        group=HTTP_GROUP,
        help="longest wait between two attempts, unless the server asks for more with Retry-After",
    )
    max_retry_after: float = setting(
        env="EXTRACT_MAX_RETRY_AFTER",
        flag="--max-retry-after",
        default=300.0,
        kind=Number(minimum=0, maximum=MAX_SECONDS),
        metavar="SECONDS",
        group=HTTP_GROUP,
        help="longest Retry-After the job waits for; a longer one fails that attempt at once, quoting the header",
    )
    request_deadline: float = setting(
        env="EXTRACT_REQUEST_DEADLINE",
        flag="--request-deadline",
        default=120.0,
        kind=Number(above=0, maximum=MAX_SECONDS),
        metavar="SECONDS",
        group=HTTP_GROUP,
        help="longest one request may take in all, connecting and reading the whole body",
    )
    max_rps: float | None = setting(
        env="EXTRACT_MAX_RPS",
        flag="--max-rps",
        default=None,
        kind=Number(above=0, maximum=100_000),
        metavar="N",
        group=HTTP_GROUP,
        help="client-side limit of requests per second, for APIs that publish theirs; unset = none, the job "
        "still slows down by itself when the API answers 429",
    )
    date_deadline: float = setting(
        env="EXTRACT_DATE_DEADLINE",
        flag="--date-deadline",
        default=3600.0,
        kind=Number(above=0, maximum=MAX_SECONDS),
        metavar="SECONDS",
        group=HTTP_GROUP,
        help="a date still not complete this long after its first request fails (exit 1), time paused by 429s "
        "included: a permanently throttled API still ends",
    )
    progress_interval: float = setting(
        env="EXTRACT_PROGRESS_INTERVAL",
        flag="--progress-interval",
        default=10.0,
        kind=Number(minimum=0, maximum=MAX_SECONDS),
        metavar="SECONDS",
        help="progress while a run lasts: on a terminal in the text log format a bar (dates, pages, records, "
        "requests/s, ETA), otherwise a progress log line this often (a JSON object in the json format); 0 = none",
    )
    max_page_bytes: int = setting(
        env="EXTRACT_MAX_PAGE_BYTES",
        flag="--max-page-bytes",
        default=64 * 1024 * 1024,
        kind=Integer(minimum=1024, maximum=2**40),
        metavar="BYTES",
        group=HTTP_GROUP,
        help="fail a page whose body is larger than this",
    )
    max_pages: int = setting(
        env="EXTRACT_MAX_PAGES",
        flag="--max-pages",
        default=10_000,
        kind=Integer(minimum=1, maximum=1_000_000),
        metavar="N",
        group=HTTP_GROUP,
        help="fail a date whose pages never end after N pages",
    )
    end_of_pages: str = setting(
        env="EXTRACT_END_OF_PAGES",
        flag="--end-of-pages",
        default=DEFAULT_END_OF_PAGES,
        kind=Text(validate_regex, "regular expression"),
        metavar="REGEX",
        group=HTTP_GROUP,
        help="a 404 ends the pages only when its body matches REGEX (searched; the default is the sales API's "
        "answer); any other 404 fails the date with exit 3",
    )
    allow_empty: bool = setting(
        env="EXTRACT_ALLOW_EMPTY",
        flag="--allow-empty",
        default=False,
        kind=Switch(),
        help="let a date the API now answers with no sales replace a complete partition that holds records",
    )
    token: str = field(init=False, repr=False)
    """The token to send, from ``auth_token_file`` or else ``auth_token``."""

    def __post_init__(self) -> None:
        if self.raw_dir is not None:
            object.__setattr__(self, "raw_dir", resolved(self.raw_dir))
        object.__setattr__(self, "token", read_token(self.auth_token, self.auth_token_file))
