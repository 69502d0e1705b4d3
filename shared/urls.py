"""HTTP(S) URLs given as settings: one check that they are usable, one form of them safe to show."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

from shared.errors import ConfigError


def public_url(url: str) -> str:
    """The URL without credentials, query or fragment: safe to log, to store in a manifest, to name a dataset."""
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


def check_http_url(name: str, url: str, *, credentials: bool) -> str:
    """``url`` without surrounding blanks if it is an absolute http(s) URL, else a ``ConfigError`` naming ``name``.

    ``credentials`` says whether a user and password in the URL are acceptable; either way no message
    quotes them.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in 0..65535
    except ValueError:
        # Not the parser's message: for "http://user:pass/word@host" it quotes the password as the "port".
        raise ConfigError(
            f"{name} is not a valid URL: its host or port cannot be read; "
            "a password holding '/', '?', '#' or '@' must be percent-encoded"
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name} must be an http:// or https:// URL, got {public_url(url)!r}")
    if not credentials and (parts.username or parts.password):
        raise ConfigError(f"{name} must not hold credentials (the URL is logged and named in warnings)")
    return url


def http_url(name: str, *, credentials: bool = False) -> Callable[[str], str]:
    """A settings validator: ``check_http_url`` for the setting ``name``."""

    def check(url: str) -> str:
        return check_http_url(name, url, credentials=credentials)

    return check
