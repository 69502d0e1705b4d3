"""``classify``: the one table of what each answer from the sales API means."""

from __future__ import annotations

import re
from typing import cast

import pytest

from extract_job.classify import Page, classify
from shared.errors import FatalApiError, RetriableApiError, ThrottledApiError, TokenRejectedError

PAGE = 3
TWO_RECORDS = b'[{"client": "A", "price": 1}, {"client": "B", "price": 2}]'
NOT_FOUND_JSON = b'{"message": "You requested page that doesn\'t exist"}'


def page(records: int, body: bytes) -> Page:
    return Page(PAGE, body, records)


END = None


def retriable(message: str, retry_after: float | None = None) -> tuple[type, str, float | None]:
    return (RetriableApiError, message, retry_after)


def throttled(message: str, retry_after: float | None = None) -> tuple[type, str, float | None]:
    return (ThrottledApiError, message, retry_after)


def fatal(message: str) -> tuple[type, str, None]:
    return (FatalApiError, message, None)


def rejected(message: str) -> tuple[type, str, None]:
    return (TokenRejectedError, message, None)


# (status, headers, body) -> a Page, END, or (exception type, message fragment, retry_after)
CASES = [
    pytest.param(200, {}, TWO_RECORDS, page(2, TWO_RECORDS), id="200-array-is-a-page"),
    pytest.param(
        200,
        {},
        '[{"client": "王伟"}]'.encode(),
        page(1, '[{"client": "王伟"}]'.encode()),
        id="200-non-ascii-kept-as-received",
    ),
    pytest.param(200, {}, b"[]", END, id="200-empty-array-is-the-end"),
    pytest.param(200, {}, b"  [ ]\n", END, id="200-empty-array-with-blanks-is-the-end"),
    pytest.param(200, {}, b'{"items": []}', retriable("a JSON dict, not an array"), id="200-object-retriable"),
    pytest.param(200, {}, b"<html>maintenance</html>", retriable("not valid JSON"), id="200-html-retriable"),
    pytest.param(200, {}, b'[{"client": "A"', retriable("not valid JSON"), id="200-truncated-retriable"),
    pytest.param(200, {}, b"", retriable("not valid JSON"), id="200-empty-body-retriable"),
    pytest.param(200, {}, b'"text"', retriable("a JSON str, not an array"), id="200-json-string-retriable"),
    pytest.param(200, {}, b"\xff\xfe[]", retriable("not valid JSON"), id="200-undecodable-retriable"),
    pytest.param(
        200,
        {},
        b'[{"price": ' + b"9" * 5000 + b"}, NaN]",
        page(2, b'[{"price": ' + b"9" * 5000 + b"}, NaN]"),
        id="200-numbers-python-cannot-convert-kept-as-received",
    ),
    pytest.param(404, {}, NOT_FOUND_JSON, END, id="404-sales-api-is-the-end"),
    pytest.param(404, {}, b'{"detail": "Not Found"}', fatal("not the API's end of pages"), id="404-framework-json"),
    pytest.param(404, {}, b"404 page not found\n", fatal("check SALES_API_URL"), id="404-text-is-a-wrong-url"),
    pytest.param(404, {}, b"", fatal("check SALES_API_URL"), id="404-empty-is-a-wrong-url"),
    pytest.param(
        429,
        {"Retry-After": "7"},
        b'{"message": "Too many requests"}',
        throttled("HTTP 429", 7.0),
        id="429-retry-after-seconds",
    ),
    pytest.param(429, {}, b"", throttled("HTTP 429", None), id="429-without-retry-after"),
    pytest.param(429, {"Retry-After": "soon"}, b"", throttled("HTTP 429", None), id="429-garbage-retry-after"),
    pytest.param(500, {}, b"oops", retriable("HTTP 500"), id="500-retriable"),
    pytest.param(502, {}, b"<html>bad gateway</html>", retriable("HTTP 502"), id="502-retriable"),
    pytest.param(503, {"Retry-After": "2"}, b"", retriable("HTTP 503", 2.0), id="503-retry-after"),
    pytest.param(599, {}, b"", retriable("HTTP 599"), id="599-retriable"),
    pytest.param(
        401, {}, b'{"message": "Invalid token"}', rejected("the API rejected the token (401)"), id="401-fatal"
    ),
    pytest.param(403, {}, b"", rejected("the API refused access with this token (403)"), id="403-fatal"),
    pytest.param(
        400,
        {},
        b'{"message": "Invalid \'date\' parameter"}',
        fatal("the API rejected the request (400): Invalid 'date' parameter"),
        id="400-with-api-message",
    ),
    pytest.param(400, {}, b"plain words", fatal("(400): plain words"), id="400-fatal-with-text-body"),
    pytest.param(408, {}, b"", fatal("unexpected HTTP 408"), id="other-4xx-fatal"),
    pytest.param(418, {}, b'{"message": "teapot"}', fatal("unexpected HTTP 418: teapot"), id="418-fatal"),
    pytest.param(301, {}, b"", fatal("unexpected HTTP 301"), id="redirect-not-followed-fatal"),
    pytest.param(204, {}, b"", fatal("unexpected HTTP 204"), id="204-fatal"),
]


@pytest.mark.parametrize(("status", "headers", "body", "expected"), CASES)
def test_classify(status: int, headers: dict[str, str], body: bytes, expected: object) -> None:
    if expected is END or isinstance(expected, Page):
        assert classify(PAGE, status, headers, body) == expected
        return
    error_type, fragment, retry_after = cast(tuple[type[Exception], str, "float | None"], expected)
    with pytest.raises(error_type) as caught:
        classify(PAGE, status, headers, body)
    assert type(caught.value) is error_type
    assert fragment in str(caught.value)
    if isinstance(caught.value, RetriableApiError):
        assert caught.value.retry_after == retry_after


def test_page_keeps_the_exact_bytes() -> None:
    body = b'[\n  {"client": "Zo\xc3\xab"}\n]'
    result = classify(1, 200, {}, body)
    assert result is not None and result.body is body and result.records == 1


def test_error_messages_name_the_page_except_token_errors() -> None:
    with pytest.raises(RetriableApiError, match=r"^page 7: HTTP 503$"):
        classify(7, 503, {}, b"")
    with pytest.raises(FatalApiError, match=r"^the API rejected the token \(401\)$"):
        classify(7, 401, {}, b"")


def test_api_message_is_cut_to_200_characters() -> None:
    with pytest.raises(FatalApiError) as caught:
        classify(1, 400, {}, b'{"message": "' + b"x" * 5000 + b'"}')
    assert str(caught.value).endswith("x" * 200)
    assert "x" * 201 not in str(caught.value)


def test_a_404_ends_the_pages_when_its_body_matches_the_given_regex() -> None:
    custom = re.compile(r'"detail": "Not Found"')
    assert classify(PAGE, 404, {}, b'{"detail": "Not Found"}', end_of_pages=custom) is END
    with pytest.raises(FatalApiError, match="not the API's end of pages from http://h/sales"):
        classify(PAGE, 404, {}, NOT_FOUND_JSON, end_of_pages=custom, url="http://h/sales")
