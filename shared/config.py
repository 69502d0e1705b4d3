"""Environment handling common to both jobs.

The environment is read once, at the edge, into a plain mapping: values from a
``.env`` file (python-dotenv) with the process environment layered on top, so a
real environment variable always beats the file. Everything below takes that
mapping as an argument and never touches ``os.environ``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values

from shared.errors import ConfigError

DEFAULT_BASE_DIR = "./data"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("text", "json")


def load_environment(env_file: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Merge ``.env`` (or ``ENV_FILE``) under the process environment."""
    path = Path(env_file or os.environ.get("ENV_FILE") or ".env")
    from_file = {k: v for k, v in dotenv_values(path).items() if v is not None} if path.is_file() else {}
    return {**from_file, **os.environ}


def env_int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    """An integer setting, or ``ConfigError`` naming the variable and the bad value."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} is below the minimum of {minimum}")
    return value


def env_float(env: Mapping[str, str], name: str, default: float) -> float:
    """A positive number setting, or ``ConfigError`` naming the variable."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if not value > 0:
        raise ConfigError(f"{name}={raw} must be greater than 0")
    return value


def env_choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    """A setting restricted to ``choices`` (compared case-insensitively)."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    for choice in choices:
        if raw.lower() == choice.lower():
            return choice
    raise ConfigError(f"{name}={raw!r} is not one of {', '.join(choices)}")


def base_dir(env: Mapping[str, str]) -> Path:
    """The data root that holds the raw, stg and quarantine zones."""
    return Path(env.get("BASE_DIR", "").strip() or DEFAULT_BASE_DIR)


def read_token(env: Mapping[str, str]) -> str:
    """The API token from ``AUTH_TOKEN_FILE`` (a Docker secret) or else ``AUTH_TOKEN``.

    The token's value never appears in an error message.
    """
    token_file = env.get("AUTH_TOKEN_FILE", "").strip()
    if token_file:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read AUTH_TOKEN_FILE {token_file}: {exc.strerror}") from None
        if not token:
            raise ConfigError(f"AUTH_TOKEN_FILE {token_file} is empty")
        return _header_safe(token, f"AUTH_TOKEN_FILE {token_file}")
    token = env.get("AUTH_TOKEN", "").strip()
    if not token:
        raise ConfigError("no API token: set AUTH_TOKEN or AUTH_TOKEN_FILE")
    return _header_safe(token, "AUTH_TOKEN")


def _header_safe(token: str, source: str) -> str:
    # A line break inside the token would make the HTTP library refuse the header
    # with an error quoting the token (escaped, so log redaction misses it).
    if not token.isprintable():
        raise ConfigError(f"the API token in {source} contains a line break or another control character")
    return token
