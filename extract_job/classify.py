"""The one place that decides what an answer from the sales API means."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from extract_job.retry import parse_retry_after
from shared.errors import FatalApiError, RetriableApiError


@dataclass(frozen=True)
class Page:
    """A page of sales exactly as received, with its record count."""

    number: int
    body: bytes
    records: int


def _json_or_none(body: bytes) -> object | None:
    """The body as JSON, read exactly as the convert job reads a page (strict UTF-8), or None."""
    try:
        # Not json.loads(bytes): it also takes a BOM, UTF-16 and UTF-32, which the convert job refuses.
        return json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None


def _api_message(body: bytes) -> str:
    parsed = _json_or_none(body)
    if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
        return parsed["message"][:200]
    return body[:200].decode("utf-8", "replace").strip()


def classify(page: int, status: int, headers: Mapping[str, str], body: bytes) -> Page | None:
    """A ``Page``, or None for the end of pages; raises for anything else.

    Raises ``RetriableApiError`` for what another attempt may fix (429, 5xx, a 200
    whose body is not a JSON array) and ``FatalApiError`` for what it cannot.
    A 404 ends the pages only when its body is JSON, as the sales endpoint sends;
    a non-JSON 404 means the URL points somewhere else.
    """
    if status == 200:
        parsed = _json_or_none(body)
        if not isinstance(parsed, list):
            kind = "not valid JSON" if parsed is None else f"a JSON {type(parsed).__name__}, not an array"
            raise RetriableApiError(f"page {page}: HTTP 200 but the body is {kind}")
        return Page(page, body, len(parsed)) if parsed else None
    if status == 404:
        if _json_or_none(body) is None:
            raise FatalApiError(
                f"page {page}: HTTP 404 with a non-JSON body; this is not the sales endpoint (check SALES_API_URL)"
            )
        return None
    if status == 429 or 500 <= status <= 599:
        retry_after = parse_retry_after(headers.get("Retry-After"))
        raise RetriableApiError(f"page {page}: HTTP {status}", retry_after=retry_after)
    if status == 401:
        raise FatalApiError("the API rejected the token (401)")
    if status == 403:
        raise FatalApiError("the API refused access with this token (403)")
    if status == 400:
        raise FatalApiError(f"page {page}: the API rejected the request (400): {_api_message(body)}")
    raise FatalApiError(f"page {page}: unexpected HTTP {status}: {_api_message(body)}")
