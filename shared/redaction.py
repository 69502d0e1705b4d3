"""The one redaction every outgoing text goes through: log lines, stderr lines, manifests, events.

Secrets are registered once, where they are read (the API token by the extract
job's settings; later the object store's secret key and session token, the
lineage API key), in a process-wide registry: whatever writes text for people
or machines calls ``redact`` on it and needs to know nothing about which
secrets exist. Worker processes inherit the registry when they fork.

A secret is replaced in every form it may take in a text: as is, escaped as
JSON or by ``repr()``, and percent-encoded as in a URL. A secret shorter than
``MIN_SECRET_LENGTH`` is refused: replacing a short string such as ``t``
everywhere would mangle ordinary text and, by the pattern of the gaps, reveal it.
"""

from __future__ import annotations

import json
import threading
from urllib.parse import quote

from shared.errors import ConfigError

REDACTED = "***"
MIN_SECRET_LENGTH = 8

_lock = threading.Lock()
_forms: tuple[str, ...] = ()
_secrets: set[str] = set()


def check_secret(value: str, source: str) -> str:
    """``value`` if it is long enough to be redacted safely; ``ConfigError`` naming ``source`` otherwise.

    The message never contains the value.
    """
    if len(value) < MIN_SECRET_LENGTH:
        raise ConfigError(
            f"the secret in {source} is shorter than {MIN_SECRET_LENGTH} characters; "
            "that cannot be a real credential (and could not be kept out of the logs)"
        )
    return value


def register(value: str, source: str) -> None:
    """Redact ``value`` from now on; ``source`` (an env name) only names it in the error for a short secret."""
    check_secret(value, source)
    global _forms
    with _lock:
        _secrets.add(value)
        forms = {form for secret in _secrets for form in _forms_of(secret)}
        _forms = tuple(sorted(forms, key=len, reverse=True))  # longest first: a form may contain another


def _forms_of(secret: str) -> set[str]:
    return {
        secret,
        json.dumps(secret, ensure_ascii=False)[1:-1],
        json.dumps(secret)[1:-1],
        repr(secret)[1:-1],
        quote(secret, safe=""),
    }


def redact(text: str) -> str:
    """``text`` with every registered secret, in any of its forms, replaced by ``REDACTED``."""
    for form in _forms:
        if form in text:
            text = text.replace(form, REDACTED)
    return text


def forget_all() -> None:
    """Empty the registry (tests only: a process registers its secrets once)."""
    global _forms
    with _lock:
        _secrets.clear()
        _forms = ()
