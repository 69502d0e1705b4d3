"""What the simulated API answers to a request, decided in one place.

``SalesApi.respond`` turns a request target and Authorization header into a
``Response`` value; the HTTP handler only writes it out. Keeping the socket
out of here means the order of checks below is the whole behaviour:

1. unknown path -> 404 plain text; ``/health`` -> 200
2. too many requests in progress, or rate limit exceeded -> 429 with Retry-After
3. missing or wrong token -> 401
4. bad ``date`` or ``page`` -> 400
5. (the request now counts as an attempt at its (date, page))
6. page above ``revoke_after_page`` -> 401
7. ``fail_first`` / ``error_rate`` -> ``error_status``
8. page past the last one -> 404 JSON
9. 200 with the page, possibly replaced by the configured fault
"""

from __future__ import annotations

import dataclasses
import hmac
import http
import json
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from sales_api_sim import data
from sales_api_sim.config import Fault, SimulatorConfig
from sales_api_sim.faults import ConcurrencyLimiter, RandomErrors, RateLimiter, fault_for, retry_after_value
from sales_api_sim.stats import RequestStats
from shared.dates import strict_date

JSON_TYPE = "application/json; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"

PAGE_NOT_FOUND_MESSAGE = "You requested page that doesn't exist"
MAX_PAGE_DIGITS = 9

# A captive-portal or proxy maintenance page: 200, but not the API talking.
HTML_FAULT_BODY = (
    b"<html><head><title>Maintenance</title></head>"
    b"<body><h1>We'll be back soon</h1><p>The service is under maintenance.</p></body></html>"
)


@dataclass(frozen=True)
class Response:
    """One answer. ``cut_at`` sends only that many body bytes, then drops the connection."""

    status: int
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0
    cut_at: int | None = None


class ParameterError(Exception):
    """A query parameter is missing or malformed; the message goes to the client."""


def json_response(status: int, payload: object, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return Response(status, body, JSON_TYPE, headers)


def message_response(status: int, message: str) -> Response:
    return json_response(status, {"message": message})


# Deliberately not JSON: lets a client tell a wrong base URL from the end of pages.
NOT_FOUND_TEXT = Response(404, b"404 page not found\n", TEXT_TYPE)
HEALTHY = json_response(200, {"status": "ok"})


class SalesApi:
    """The simulated API's behaviour for one configuration, shared by all threads."""

    def __init__(self, config: SimulatorConfig, stats: RequestStats | None = None) -> None:
        self.config = config
        self.stats = RequestStats() if stats is None else stats
        self._rate_limiter = None if config.rate_limit is None else RateLimiter(config.rate_limit)
        self.concurrency = ConcurrencyLimiter(config.max_concurrent)
        """The handler holds a request in it while answering (``crowded`` is its verdict)."""
        self._random_errors = RandomErrors(config.error_rate, config.seed)
        self._token = config.token.encode("ascii")

    def respond(self, target: str, authorization: str | None, crowded: bool = False) -> Response:
        """Answer ``GET target``; ``authorization`` is the header value, if sent.

        ``crowded``: more requests are in progress than ``max_concurrent`` allows.
        """
        url = urlsplit(target)
        if url.path == "/health":
            return HEALTHY
        if url.path != "/sales":
            return NOT_FOUND_TEXT
        self.stats.count_request()
        response = self._sales(url.query, authorization, crowded)
        self.stats.count_status(response.status)
        if self.config.latency:
            response = dataclasses.replace(response, delay=response.delay + self.config.latency)
        return response

    def _sales(self, query: str, authorization: str | None, crowded: bool) -> Response:
        config = self.config
        if crowded:
            return self._too_many("Too many concurrent requests")
        if self._rate_limiter is not None and not self._rate_limiter.allow():
            return self._too_many("Too many requests")
        if authorization is None:
            return message_response(401, "Missing Authorization header: send the API token as its value")
        if not self._token_matches(authorization):
            return message_response(401, "Invalid token")
        try:
            params = parse_qs(query, keep_blank_values=True)
            day = _date_param(params)
            page = _page_param(params)
        except ParameterError as exc:
            return message_response(400, str(exc))

        attempt = self.stats.count_page(day, page)
        if config.revoke_after_page is not None and page > config.revoke_after_page:
            return message_response(401, "Token has been revoked")
        if attempt <= config.fail_first or self._random_errors.should_fail():
            return self._simulated_error()
        if not data.page_exists(config, day, page):
            return message_response(404, PAGE_NOT_FOUND_MESSAGE)
        page_response = Response(200, data.render_page(config, day, page), JSON_TYPE)
        return _inject(page_response, fault_for(config, page, attempt), config.slow_seconds)

    def _too_many(self, message: str) -> Response:
        return json_response(429, {"message": message}, headers=(("Retry-After", retry_after_value(self.config)),))

    def _token_matches(self, authorization: str) -> bool:
        # Headers arrive decoded as Latin-1, so this round-trip never fails.
        return hmac.compare_digest(authorization.encode("latin-1"), self._token)

    def _simulated_error(self) -> Response:
        status = self.config.error_status
        try:
            phrase = http.HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        headers: tuple[tuple[str, str], ...] = ()
        if status == 429:
            headers = (("Retry-After", retry_after_value(self.config)),)
        return json_response(status, {"message": f"{phrase} (simulated)"}, headers)


def _inject(response: Response, fault: Fault | None, slow_seconds: float) -> Response:
    """Replace a good page answer with the configured fault."""
    if fault is None:
        return response
    if fault == "reset":
        return dataclasses.replace(response, cut_at=len(response.body) // 2)
    if fault == "truncate":
        # Cut on a character boundary so the client fails on JSON, not UTF-8.
        text = response.body.decode("utf-8")
        return dataclasses.replace(response, body=text[: len(text) // 2].encode("utf-8"))
    if fault == "html":
        return Response(200, HTML_FAULT_BODY, HTML_TYPE)
    if fault == "slow":
        return dataclasses.replace(response, delay=response.delay + slow_seconds)
    raise AssertionError(f"unknown fault {fault!r}")


def _single_param(params: dict[str, list[str]], name: str, expected: str) -> str:
    values = params.get(name)
    if not values:
        raise ParameterError(f"Missing required query parameter '{name}' ({expected})")
    if len(values) > 1:
        raise ParameterError(f"Query parameter '{name}' must be given once, got {len(values)} values")
    return values[0]


def _date_param(params: dict[str, list[str]]) -> str:
    text = _single_param(params, "date", "a date in YYYY-MM-DD format")
    try:
        return strict_date(text).isoformat()
    except ValueError as exc:
        raise ParameterError(f"Invalid 'date' parameter: {exc}") from None


def _page_param(params: dict[str, list[str]]) -> int:
    text = _single_param(params, "page", "an integer >= 1")
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_PAGE_DIGITS or int(text) < 1:
        raise ParameterError(
            f"Invalid 'page' parameter {text!r}: expected an integer from 1 to {10**MAX_PAGE_DIGITS - 1}"
        )
    return int(text)
