"""The settings both jobs share, and reading the environment.

The environment is read once, at the edge, into a plain mapping: values from a
``.env`` file (python-dotenv) with the process environment layered on top, so a
real environment variable always beats the file. ``shared.settings.resolve``
takes that mapping; nothing below the command line touches ``os.environ``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from dotenv import dotenv_values

from shared import redaction
from shared.errors import ConfigError
from shared.settings import Choice, Integer, Number, Text, setting
from shared.storage import Stores
from shared.storage.location import Location, LocationKind

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("text", "json")
DATES_GROUP = "dates (default: env DATE, else {default_dates})"
LOGGING_GROUP = "logging"
STORAGE_GROUP = "object storage"
DAY = "YYYY-MM-DD"
YESTERDAY = "yesterday in UTC"
MAX_TOKEN_FILE_BYTES = 16 * 1024


@dataclass(frozen=True, kw_only=True)
class JobSettings:
    """What every job reads: the data root, the dates and logging. Each job's settings extend it."""

    default_dates: ClassVar[str] = YESTERDAY
    """The dates a job takes when no flag and no ``DATE`` names any, as its help and the reference say it."""

    base_dir: Location = setting(
        env="BASE_DIR",
        default=Path("./data"),
        kind=LocationKind(),
        default_text="./data",
        help="data root holding raw/, stg/ and quarantine/: a local path or s3://bucket/prefix "
        "(endpoint and credentials from the standard AWS_* variables; docs/object-storage.md)",
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
        default_text="{default_dates}",
        help="date to process when no flag names one: YYYY-MM-DD, or START..END for a backfill",
    )
    log_level: str = setting(
        env="LOG_LEVEL",
        flag="--log-level",
        default="INFO",
        kind=Choice(LOG_LEVELS),
        group=LOGGING_GROUP,
        help="how much to log; DEBUG adds a line per request (extract) and per raw file read (convert)",
    )
    log_format: str = setting(
        env="LOG_FORMAT",
        flag="--log-format",
        default="text",
        kind=Choice(LOG_FORMATS),
        group=LOGGING_GROUP,
        help="text for people, json (one object per line) for log collectors",
    )
    storage_gc_grace_seconds: float = setting(
        env="STORAGE_GC_GRACE_SECONDS",
        default=3600.0,
        kind=Number(minimum=0, maximum=30 * 24 * 3600),
        group=STORAGE_GROUP,
        help="on an object store: objects no manifest references, and unfinished uploads, are removed by a later "
        "run once older than this (longer than any run, so a live run or a reader is never robbed)",
    )
    storage_part_size_mb: int = setting(
        env="STORAGE_PART_SIZE_MB",
        default=8,
        kind=Integer(minimum=5, maximum=5120),
        group=STORAGE_GROUP,
        help="on an object store: a file larger than this goes up in parts of this size while it is written "
        "(memory per file being written)",
    )
    storage_max_attempts: int = setting(
        env="STORAGE_MAX_ATTEMPTS",
        default=5,
        kind=Integer(minimum=1, maximum=20),
        group=STORAGE_GROUP,
        help="on an object store: tries per request (with backoff) when it is unreachable, failing or throttling",
    )

    def stores(self, env: Mapping[str, str]) -> Stores:
        """What opens this job's locations: a local path as a folder, an s3:// URL on the store ``env`` names."""
        return Stores(
            env,
            part_size_mb=self.storage_part_size_mb,
            grace_seconds=self.storage_gc_grace_seconds,
            max_attempts=self.storage_max_attempts,
        )


def load_environment(env_file: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Merge ``.env`` (or ``ENV_FILE``) under the process environment.

    The default ``./.env`` may be absent. A file named on purpose (``ENV_FILE``
    or ``env_file``) must be a readable regular file: settings silently left out
    would surface as some other, misleading error ("SALES_API_URL is not set").
    """
    named = env_file or os.environ.get("ENV_FILE", "").strip()
    path = Path(named or ".env")
    if not named and not path.is_file():
        return dict(os.environ)
    return {**_read_env_file(path, "ENV_FILE" if named else "the .env file"), **os.environ}


def _read_env_file(path: Path, name: str) -> dict[str, str]:
    if not path.is_file():
        problem = "does not exist" if not path.exists() else "is not a regular file"
        raise ConfigError(f"{name} {path} {problem}")
    try:
        with path.open(encoding="utf-8") as handle:
            return {k: v for k, v in dotenv_values(stream=handle).items() if v is not None}
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"cannot read {name} {path}: {reason}") from None


def read_token(token: str | None, token_file: Path | None) -> str:
    """The API token from ``AUTH_TOKEN_FILE`` (a Docker secret) or else ``AUTH_TOKEN``, registered for redaction.

    The token's value never appears in an error message.
    """
    if token_file:
        from_file = _read_token_file(token_file)
        if not from_file:
            raise ConfigError(f"AUTH_TOKEN_FILE {token_file} is empty")
        return _usable(from_file, f"AUTH_TOKEN_FILE {token_file}")
    token = (token or "").strip()
    if not token:
        raise ConfigError("no API token: set AUTH_TOKEN or AUTH_TOKEN_FILE")
    return _usable(token, "AUTH_TOKEN")


def _read_token_file(path: Path) -> str:
    """The file's text, stripped; at most ``MAX_TOKEN_FILE_BYTES`` are read (``/dev/zero`` must not fill memory)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_TOKEN_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read AUTH_TOKEN_FILE {path}: {exc.strerror}") from None
    if len(data) > MAX_TOKEN_FILE_BYTES:
        raise ConfigError(f"AUTH_TOKEN_FILE {path} is larger than {MAX_TOKEN_FILE_BYTES} bytes; it cannot be a token")
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"AUTH_TOKEN_FILE {path} is not UTF-8 text") from None


def _usable(token: str, source: str) -> str:
    _header_safe(token, source)
    redaction.register(token, source)
    return token


def _header_safe(token: str, source: str) -> None:
    # A line break inside the token would make the HTTP library refuse the header
    # with an error quoting the token (escaped, so log redaction misses it).
    if not token.isprintable():
        raise ConfigError(f"the API token in {source} contains a line break or another control character")
    # HTTP header values are Latin-1 on the wire: http.client would fail on anything else mid-request.
    try:
        token.encode("latin-1")
    except UnicodeEncodeError:
        raise ConfigError(
            f"the API token in {source} has characters an HTTP header cannot carry (only Latin-1 can be sent)"
        ) from None
