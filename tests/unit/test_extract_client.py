"""``SalesApiClient`` against ``responses`` mocks: what is retried, how long it waits, when it gives up."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from extract_job.client import SalesApiClient, Timeouts, make_session
from extract_job.ratecontrol import RateController
from extract_job.retry import RetryPolicy
from shared.errors import ApiError, FatalApiError, RetriableApiError
from tests.unit.fake_clock import Sleeps

URL = "http://sales.test/sales"
TOKEN = "unit-test-token-5f1c"
DAY = date(2026, 11, 24)
PAGE_BODY = b'[{"client": "A", "purchase_date": "2026-11-24", "product": "TV", "price": 10}]'


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_client(
    sleeps: Sleeps, max_attempts: int = 4, max_retry_after: float = 300.0, date_deadline: float | None = None
) -> SalesApiClient:
    """A client whose waits go to a fake clock (``sleeps`` is that clock's record): nothing really sleeps."""
    clock = sleeps.clock
    return SalesApiClient(
        make_session(TOKEN, 2),
        URL,
        RetryPolicy(max_attempts=max_attempts, base_delay=0.2, max_delay=1.0, max_retry_after=max_retry_after),
        Timeouts(connect=1.5, read=2.5),
        sleep=clock.sleep,
        rng=random.Random(0),
        control=RateController(concurrency=2, clock=clock),
        date_deadline=date_deadline,
    )


def ok() -> dict[str, Any]:
    return {"status": 200, "body": PAGE_BODY, "content_type": "application/json"}


def status(code: int, body: bytes = b'{"message": "x"}', /, **headers: str) -> dict[str, Any]:
    return {"status": code, "body": body, "headers": headers}


def failure(exc: Exception) -> dict[str, Any]:
    return {"body": exc}


def register(api: responses.RequestsMock, answers: list[dict[str, Any]]) -> None:
    """Each call gets the next answer; the last one repeats."""
    for answer in answers:
        api.add(responses.GET, URL, **answer)


@pytest.mark.parametrize(
    "failures",
    [
        pytest.param([status(503)], id="one-503"),
        pytest.param([status(503), status(503)], id="two-503"),
        pytest.param([status(429)], id="429-without-retry-after"),
        pytest.param([status(500), status(502), status(504)], id="500-502-504"),
        pytest.param([failure(requests.ConnectionError("connection refused"))], id="connection-error"),
        pytest.param([failure(requests.ReadTimeout("read timed out"))], id="read-timeout"),
        pytest.param([failure(requests.ConnectTimeout("connect timed out"))], id="connect-timeout"),
        pytest.param([failure(requests.exceptions.ChunkedEncodingError("body cut short"))], id="body-cut-short"),
        pytest.param([status(200, b"<html>maintenance</html>")], id="200-html"),
        pytest.param([status(200, b'[{"client": "A"')], id="200-truncated-json"),
        pytest.param([status(200, b'{"data": []}')], id="200-object"),
        pytest.param(
            [status(503), failure(requests.ConnectionError("reset")), status(200, b"oops")], id="mixed-transient"
        ),
    ],
)
def test_transient_failures_are_retried_until_success(
    api: responses.RequestsMock, sleeps: Sleeps, failures: list[dict[str, object]]
) -> None:
    register(api, [*failures, ok()])
    page = make_client(sleeps).fetch_page(DAY, 2)
    assert page is not None
    assert (page.number, page.body, page.records) == (2, PAGE_BODY, 1)
    assert len(api.calls) == len(failures) + 1
    assert len(sleeps) == len(failures)
    # Backoff without Retry-After: equal jitter around 0.2 * 2**(attempt-1), capped at 1.0.
    for attempt, delay in enumerate(sleeps, start=1):
        step = min(1.0, 0.2 * 2 ** (attempt - 1))
        assert step / 2 <= delay <= step


@pytest.mark.parametrize(
    ("code", "retry_after", "expected_sleep"),
    [
        pytest.param(429, "3", 3.0, id="429-seconds"),
        pytest.param(503, "1", 1.0, id="503-seconds"),
        pytest.param(429, "0", 0.0, id="429-zero"),
        pytest.param(429, "10", 10.0, id="429-at-the-cap"),
        pytest.param(429, "Thu, 01 Jan 1970 00:00:00 GMT", 0.0, id="429-past-http-date"),
    ],
)
def test_retry_after_is_honoured(
    api: responses.RequestsMock, sleeps: Sleeps, code: int, retry_after: str, expected_sleep: float
) -> None:
    register(api, [status(code, **{"Retry-After": retry_after}), ok()])
    assert make_client(sleeps, max_retry_after=10.0).fetch_page(DAY, 1) is not None
    assert sleeps == [expected_sleep]


@pytest.mark.parametrize(
    "retry_after", ["11", "9999", "Thu, 01 Jan 2099 00:00:00 GMT"], ids=["just-above", "huge", "far-http-date"]
)
def test_a_retry_after_above_the_cap_fails_the_attempt_at_once(
    api: responses.RequestsMock, sleeps: Sleeps, retry_after: str
) -> None:
    register(api, [status(503, **{"Retry-After": retry_after}), ok()])
    with pytest.raises(RetriableApiError, match=rf"HTTP 503 \(Retry-After: {re.escape(retry_after)}\).*not waiting"):
        make_client(sleeps, max_retry_after=10.0).fetch_page(DAY, 1)
    assert sleeps == [] and len(api.calls) == 1


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        pytest.param(
            status(400, b'{"message": "Invalid \'page\' parameter"}'),
            "page 5: the API rejected the request (400): Invalid 'page' parameter",
            id="400",
        ),
        pytest.param(status(401, b'{"message": "Invalid token"}'), "the API rejected the token (401)", id="401"),
        pytest.param(status(403), "the API refused access with this token (403)", id="403"),
        pytest.param(status(404, b"404 page not found\n"), "check SALES_API_URL", id="404-not-json"),
        pytest.param(status(405), "unexpected HTTP 405", id="405"),
        pytest.param(failure(requests.exceptions.InvalidURL("bad url")), "page 5: request failed", id="invalid-url"),
        pytest.param(
            failure(requests.exceptions.TooManyRedirects("loop")), "page 5: request failed", id="too-many-redirects"
        ),
    ],
)
def test_fatal_answers_are_not_retried(
    api: responses.RequestsMock, sleeps: Sleeps, answer: dict[str, object], message: str
) -> None:
    register(api, [answer, ok()])
    with pytest.raises(FatalApiError) as caught:
        make_client(sleeps).fetch_page(DAY, 5)
    assert message in str(caught.value)
    assert len(api.calls) == 1
    assert sleeps == []


@pytest.mark.parametrize(
    ("answer", "last_error"),
    [
        pytest.param(status(503), "HTTP 503", id="always-503"),
        pytest.param(failure(requests.ConnectionError("refused")), "connection failed", id="always-refused"),
        pytest.param(failure(requests.ReadTimeout("slow")), "timed out", id="always-timeout"),
        pytest.param(status(200, b"<html/>"), "not valid JSON", id="always-html"),
    ],
)
def test_gives_up_after_max_attempts(
    api: responses.RequestsMock, sleeps: Sleeps, answer: dict[str, object], last_error: str
) -> None:
    register(api, [answer])
    with pytest.raises(ApiError) as caught:
        make_client(sleeps, max_attempts=3).fetch_page(DAY, 4)
    error = caught.value
    assert not isinstance(error, RetriableApiError), "an exhausted page must not look retriable to the caller"
    assert str(error).startswith("page 4: gave up after 3 attempts; last error: ")
    assert last_error in str(error)
    assert len(api.calls) == 3
    assert len(sleeps) == 2, "no wait after the last attempt"


def test_a_429_does_not_use_up_attempts(api: responses.RequestsMock, sleeps: Sleeps) -> None:
    # The server's instruction to slow down, not a failure of the page: more 429s than attempts, then the page.
    register(api, [status(429, **{"Retry-After": "1"})] * 4 + [ok()])
    assert make_client(sleeps, max_attempts=2).fetch_page(DAY, 3) is not None
    assert (len(api.calls), sleeps) == (5, [1.0] * 4)


def test_throttling_ends_at_the_date_deadline(api: responses.RequestsMock, sleeps: Sleeps) -> None:
    register(api, [status(429, **{"Retry-After": "2"})])
    client = make_client(sleeps, max_attempts=3, date_deadline=7.0)
    with pytest.raises(ApiError) as caught:
        client.fetch_page(DAY, 4, started=sleeps.clock())
    assert not isinstance(caught.value, RetriableApiError), "the date failed: nothing retries it here"
    assert str(caught.value) == (
        f"page 4: {DAY} was not complete within --date-deadline 7s (the API kept throttling or failing)"
    )
    assert len(api.calls) == 4, "requests at 0, 2, 4 and 6 s; the pause after the last runs into the deadline"
    assert sum(sleeps) == 7.0, "paused time counts towards the deadline"


def test_a_throttle_pauses_every_worker(api: responses.RequestsMock, sleeps: Sleeps) -> None:
    register(api, [status(429, **{"Retry-After": "5"}), ok()])
    client = make_client(sleeps)
    assert client.fetch_page(DAY, 1) is not None
    sleeps.clock.now -= 3.0  # another worker asks for its turn 2 s after the 429
    assert client.control.reserve() == pytest.approx(3.0)


def test_single_attempt_policy_never_sleeps(api: responses.RequestsMock, sleeps: Sleeps) -> None:
    register(api, [status(503)])
    with pytest.raises(ApiError, match="gave up after 1 attempts"):
        make_client(sleeps, max_attempts=1).fetch_page(DAY, 1)
    assert (len(api.calls), sleeps) == (1, [])


@pytest.mark.parametrize(
    ("answer",),
    [
        pytest.param(status(404, b'{"message": "You requested page that doesn\'t exist"}'), id="404-json"),
        pytest.param(status(200, b"[]"), id="200-empty-array"),
    ],
)
def test_end_of_pages_is_none(api: responses.RequestsMock, sleeps: Sleeps, answer: dict[str, object]) -> None:
    register(api, [answer])
    assert make_client(sleeps).fetch_page(DAY, 13) is None
    assert (len(api.calls), sleeps) == (1, [])


def test_request_carries_token_date_page_and_timeouts(api: responses.RequestsMock, sleeps: Sleeps) -> None:
    api.add(
        responses.GET,
        URL,
        body=PAGE_BODY,
        match=[
            matchers.header_matcher({"Authorization": TOKEN}),
            matchers.query_param_matcher({"date": "2026-11-24", "page": "7"}),
        ],
    )
    assert make_client(sleeps).fetch_page(DAY, 7) is not None
    request = api.calls[0].request
    assert request.headers["Authorization"] == TOKEN
    assert request.headers["User-Agent"].startswith("sales-pipeline-extract/")
    assert vars(request)["req_kwargs"]["timeout"] == (1.5, 2.5)  # what responses saw passed to send()


def test_session_pool_fits_the_concurrency() -> None:
    session = make_session(TOKEN, 7)
    adapter = session.get_adapter("http://127.0.0.1/")
    assert isinstance(adapter, requests.adapters.HTTPAdapter)
    assert adapter.poolmanager.connection_pool_kw["maxsize"] == 7
    assert adapter.max_retries.total == 0
