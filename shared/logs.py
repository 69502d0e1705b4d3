"""Logging setup: plain text for people, JSON lines for log collectors, secrets redacted in both."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

REDACTED = "***"

# Attributes every LogRecord has; anything else was passed through ``extra=`` and is a field.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class _RedactingFormatter(logging.Formatter):
    """Replaces every secret in the final text, tracebacks included."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Each secret also as JSON and repr() escape it (a token with a quote or backslash), longest first.
        forms = {form for s in secrets if s for form in (s, json.dumps(s, ensure_ascii=False)[1:-1], repr(s)[1:-1])}
        self._secrets = tuple(sorted(forms, key=len, reverse=True))

    def format(self, record: logging.LogRecord) -> str:
        text = self.render(record)
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def render(self, record: logging.LogRecord) -> str:
        raise NotImplementedError


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS}


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TextFormatter(_RedactingFormatter):
    """``2026-11-25T18:00:00.000Z INFO extract_job.extract: message``; ``extra=`` fields are for JSON only."""

    def render(self, record: logging.LogRecord) -> str:
        line = f"{_timestamp(record)} {record.levelname} {record.name}: {record.getMessage()}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


class JsonFormatter(_RedactingFormatter):
    """One JSON object per line; ``extra=`` fields become keys."""

    def render(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False, default=str)


def configure_logging(level: str, fmt: str, secrets: Iterable[str] = ()) -> None:
    """Send the root logger to stderr in ``fmt`` ("text" or "json") at ``level``."""
    formatter: logging.Formatter = JsonFormatter(secrets) if fmt == "json" else TextFormatter(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # urllib3 logs full request lines at DEBUG; keep it quieter than our own debug output.
    logging.getLogger("urllib3").setLevel(max(logging.INFO, logging.getLevelName(level)))
