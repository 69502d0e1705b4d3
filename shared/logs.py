"""Logging setup: plain text for people, JSON lines for log collectors, secrets redacted in both.

Everything a job writes to stderr goes through here: log records through the
root logger's handler, and the few lines meant for the operator whatever the
log level (a failed date, a configuration error) through ``console_line``. Both
are redacted by ``shared.redaction`` and, in the ``json`` format, both are one
JSON object per line.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any

from shared import redaction
from shared.redaction import REDACTED

__all__ = ["REDACTED", "JsonFormatter", "TextFormatter", "configure_logging", "console_line"]

# Attributes every LogRecord has; anything else was passed through ``extra=`` and is a field.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class _RedactingFormatter(logging.Formatter):
    """Replaces every registered secret in the final text, tracebacks included."""

    def format(self, record: logging.LogRecord) -> str:
        return redaction.redact(self.render(record))

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


def configure_logging(level: str, fmt: str) -> None:
    """Send the root logger to stderr in ``fmt`` ("text" or "json") at ``level``.

    Secrets are redacted as registered where they are read (``shared.redaction.register``).
    """
    formatter: logging.Formatter = JsonFormatter() if fmt == "json" else TextFormatter()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # urllib3 logs full request lines at DEBUG; keep it quieter than our own debug output.
    logging.getLogger("urllib3").setLevel(max(logging.INFO, logging.getLevelName(level)))


def console_line(tool: str, text: str, level: str = "ERROR", **fields: Any) -> None:
    """Write ``tool: text`` to stderr for the operator, redacted; a JSON object in the ``json`` format.

    For what must reach stderr whatever the log level: the line per failed date,
    a configuration error, an interruption. ``fields`` become keys in JSON.
    """
    line = f"{tool}: {text}".replace("\r", "\\r").replace("\n", "\\n")  # one line, whatever the text holds
    if any(isinstance(handler.formatter, JsonFormatter) for handler in logging.getLogger().handlers):
        payload = {
            "ts": _timestamp(logging.makeLogRecord({})),
            "level": level,
            "logger": tool,
            "message": line,
            **fields,
        }
        line = json.dumps(payload, ensure_ascii=False, default=str)
    sys.stderr.write(redaction.redact(line) + "\n")
    sys.stderr.flush()
