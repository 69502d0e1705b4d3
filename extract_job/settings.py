"""The extract job's settings, resolved from flags over the environment over defaults."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from shared.config import base_dir, env_float, env_int, read_token
from shared.errors import ConfigError

DEFAULT_CONCURRENCY = 4
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 30.0
DEFAULT_BACKOFF = 0.5
DEFAULT_MAX_PAGES = 10_000


@dataclass(frozen=True)
class ExtractSettings:
    api_url: str
    token: str = field(repr=False)
    base_dir: Path
    raw_dir: Path | None
    concurrency: int
    max_attempts: int
    connect_timeout: float
    read_timeout: float
    backoff: float
    max_pages: int
    missing_only: bool


def validate_api_url(url: str) -> str:
    """``SALES_API_URL`` must be an absolute http(s) URL; returns it without surrounding blanks."""
    url = url.strip()
    if not url:
        raise ConfigError("SALES_API_URL is not set (the sales endpoint, e.g. http://127.0.0.1:8081/sales)")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in 0..65535
    except ValueError as exc:
        raise ConfigError(f"SALES_API_URL is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"SALES_API_URL must be an http:// or https:// URL, got {public_url(url)!r}")
    return url


def public_url(url: str) -> str:
    """The URL without credentials or query, safe to log and to store in a manifest."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _positive(value: float | None, name: str) -> float | None:
    if value is not None and not value > 0:
        raise ConfigError(f"{name} must be greater than 0")
    return value


def resolve_settings(args: argparse.Namespace, env: Mapping[str, str]) -> ExtractSettings:
    """Flags win over the environment; raises ``ConfigError`` for anything unusable."""
    # "is not None", not "or": a flag given as 0 must be refused below, not replaced by the default.
    concurrency = (
        args.concurrency if args.concurrency is not None else env_int(env, "EXTRACT_CONCURRENCY", DEFAULT_CONCURRENCY)
    )
    max_attempts = (
        args.max_attempts
        if args.max_attempts is not None
        else env_int(env, "EXTRACT_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS)
    )
    max_pages = args.max_pages if args.max_pages is not None else env_int(env, "EXTRACT_MAX_PAGES", DEFAULT_MAX_PAGES)
    if min(concurrency, max_attempts, max_pages) < 1:
        raise ConfigError("--concurrency, --max-attempts and --max-pages must be at least 1")
    return ExtractSettings(
        api_url=validate_api_url(env.get("SALES_API_URL", "")),
        token=read_token(env),
        base_dir=base_dir(env),
        raw_dir=args.raw_dir.resolve() if args.raw_dir else None,
        concurrency=concurrency,
        max_attempts=max_attempts,
        connect_timeout=_positive(args.connect_timeout, "--connect-timeout")
        or env_float(env, "EXTRACT_CONNECT_TIMEOUT", DEFAULT_CONNECT_TIMEOUT),
        read_timeout=_positive(args.timeout, "--timeout") or env_float(env, "EXTRACT_TIMEOUT", DEFAULT_READ_TIMEOUT),
        backoff=_positive(args.backoff, "--backoff") or env_float(env, "EXTRACT_BACKOFF", DEFAULT_BACKOFF),
        max_pages=max_pages,
        missing_only=args.missing_only,
    )
