"""The settings both jobs share, and reading the environment.

The environment is read once, at the edge, into a plain mapping: values from a
``.env`` file (python-dotenv) with the process environment layered on top, so a
real environment variable always beats the file. ``shared.settings.resolve``
takes that mapping; nothing below the command line touches ``os.environ``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

from shared.errors import ConfigError
from shared.settings import Choice, PathKind, Text, setting

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("text", "json")
DATES_GROUP = "dates (default: env DATE, else yesterday in UTC)"
LOGGING_GROUP = "logging"
DAY = "YYYY-MM-DD"


@dataclass(frozen=True, kw_only=True)
class JobSettings:
    """What every job reads: the data root, the dates and logging. Each job's settings extend it."""

    base_dir: Path = setting(
        env="BASE_DIR",
        default=Path("./data"),
        kind=PathKind(),
        default_text="./data",
        help="data root holding raw/, stg/ and quarantine/",
    )
    date: str | None = setting(
        flag="--date",
        default=None,
        kind=Text(description=DAY),
        metavar="YYYY-MM-DD",
        group=DATES_GROUP,
        help="process a single date",
    )
    start: str | None = setting(
        flag="--start",
        default=None,
        kind=Text(description=DAY),
        metavar="YYYY-MM-DD",
        group=DATES_GROUP,
        help="first date of an inclusive range",
    )
    end: str | None = setting(
        flag="--end",
        default=None,
        kind=Text(description=DAY),
        metavar="YYYY-MM-DD",
        group=DATES_GROUP,
        help="last date of an inclusive range",
    )
    dates_env: str | None = setting(
        env="DATE",
        default=None,
        kind=Text(description=f"{DAY} or START..END"),
        default_text="yesterday, UTC",
        help="date to process when no flag names one: YYYY-MM-DD, or START..END for a backfill",
    )
    log_level: str = setting(
        env="LOG_LEVEL",
        flag="--log-level",
        default="INFO",
        kind=Choice(LOG_LEVELS),
        group=LOGGING_GROUP,
        help="how much to log",
    )
    log_format: str = setting(
        env="LOG_FORMAT",
        flag="--log-format",
        default="text",
        kind=Choice(LOG_FORMATS),
        group=LOGGING_GROUP,
        help="text for people, json (one object per line) for log collectors",
    )


def load_environment(env_file: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Merge ``.env`` (or ``ENV_FILE``) under the process environment."""
    path = Path(env_file or os.environ.get("ENV_FILE") or ".env")
    from_file = {k: v for k, v in dotenv_values(path).items() if v is not None} if path.is_file() else {}
    return {**from_file, **os.environ}


def read_token(token: str | None, token_file: Path | None) -> str:
    """The API token from ``AUTH_TOKEN_FILE`` (a Docker secret) or else ``AUTH_TOKEN``.

    The token's value never appears in an error message.
    """
    if token_file:
        try:
            from_file = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read AUTH_TOKEN_FILE {token_file}: {exc.strerror}") from None
        if not from_file:
            raise ConfigError(f"AUTH_TOKEN_FILE {token_file} is empty")
        return _header_safe(from_file, f"AUTH_TOKEN_FILE {token_file}")
    token = (token or "").strip()
    if not token:
        raise ConfigError("no API token: set AUTH_TOKEN or AUTH_TOKEN_FILE")
    return _header_safe(token, "AUTH_TOKEN")


def _header_safe(token: str, source: str) -> str:
    # A line break inside the token would make the HTTP library refuse the header
    # with an error quoting the token (escaped, so log redaction misses it).
    if not token.isprintable():
        raise ConfigError(f"the API token in {source} contains a line break or another control character")
    return token
