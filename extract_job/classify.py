"""The one place that decides what an answer from the sales API means."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from extract_job.retry import parse_retry_after
from extract_job.settings import DEFAULT_END_OF_PAGES
from shared.errors import FatalApiError, RetriableApiError, ThrottledApiError, TokenRejectedError

SNIPPET_CHARS = 200
"""How much of an unexpected body an error message quotes."""


@dataclass(frozen=True)
class Page:
    """A page of sales exactly as received, with its record count."""

    number: int
    body: bytes
    records: int

    @cached_property
    def sha256(self) -> str:
        """Hex sha256 of the body, computed once (the manifest and the repeated-page check both need it)."""
        return hashlib.sha256(self.body).hexdigest()


def _json_or_none(body: bytes) -> object | None:
    """The body as JSON, read exactly as the convert job reads a page (strict UTF-8), or None."""
    try:
        # Not json.loads(bytes): it also takes a BOM, UTF-16 and UTF-32, which the convert job refuses.
        parsed: object = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    return parsed


def _keep_text(number: str) -> str:
    return number


def _json_or_none_leniently(body: bytes) -> object | None:
    """Like ``_json_or_none``, but numbers that Python cannot convert are no reason to refuse the body.

    An integer longer than Python's int parser allows is valid JSON: the page is
    kept as received and convert quarantines that record. The common case takes
    the C parser's fast path; only a refused body is read again with numbers left
    as text.
    """
    parsed = _json_or_none(body)
    if parsed is not None:
        return parsed
    try:
        lenient: object = json.loads(body.decode("utf-8"), parse_int=_keep_text, parse_float=_keep_text)
    except (ValueError, RecursionError):
        return None
    return lenient


def _snippet(body: bytes) -> str:
    return body[:SNIPPET_CHARS].decode("utf-8", "replace").strip()


def _api_message(body: bytes) -> str:
    parsed = _json_or_none(body)
    message = parsed.get("message") if isinstance(parsed, dict) else None
    if isinstance(message, str):
        return message[:SNIPPET_CHARS]
    return _snippet(body)


_DEFAULT_END = re.compile(DEFAULT_END_OF_PAGES)


def classify(
    page: int,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    end_of_pages: re.Pattern[str] = _DEFAULT_END,
    url: str = "",
) -> Page | None:
    """A ``Page``, or None for the end of pages; raises for anything else.

    Raises ``RetriableApiError`` for what another attempt may fix (429, 5xx, a 200
    whose body is not a JSON array) and ``FatalApiError`` for what it cannot.
    A 200 with an empty array ends the pages; so does a 404 whose body matches
    ``end_of_pages`` (searched, as the sales API's "You requested page that doesn't
    exist"). Any other 404, on any page, means the URL points somewhere else (a web
    framework's ``{"detail": "Not Found"}``): the date fails rather than pass for a
    day without sales. ``url`` (without credentials) is only quoted in that error.
    """
    if status == 200:
        parsed = _json_or_none_leniently(body)
        if not isinstance(parsed, list):
            kind = "not valid JSON" if parsed is None else f"a JSON {type(parsed).__name__}, not an array"
            raise RetriableApiError(f"page {page}: HTTP 200 but the body is {kind}")
        return Page(page, body, len(parsed)) if parsed else None
    if status == 404:
        if end_of_pages.search(body.decode("utf-8", "replace")):
            return None
        raise FatalApiError(
            f"page {page}: HTTP 404 that is not the API's end of pages{f' from {url}' if url else ''} "
            f"(body: {_snippet(body)!r}); check SALES_API_URL, or EXTRACT_END_OF_PAGES if the API words it otherwise"
        )
    if status == 429 or 500 <= status <= 599:
        header = headers.get("Retry-After")
        quoted = f" (Retry-After: {header.strip()[:40]})" if header else ""
        error: type[RetriableApiError] = ThrottledApiError if status == 429 else RetriableApiError
        raise error(f"page {page}: HTTP {status}{quoted}", retry_after=parse_retry_after(header))
    if status == 401:
        raise TokenRejectedError("the API rejected the token (401)")
    if status == 403:
        raise TokenRejectedError("the API refused access with this token (403)")
    if status == 400:
        raise FatalApiError(f"page {page}: the API rejected the request (400): {_api_message(body)}")
    raise FatalApiError(f"page {page}: unexpected HTTP {status}: {_api_message(body)}")
