"""HTTP access to the sales API: one session, explicit timeouts and deadlines, bounded retries and sizes.

Every request has a total deadline (``extract_job.watchdog``) and every answer a
maximum size, read as a stream so a huge or endless body never fills memory.
Waits between attempts end at once when the run is stopped.

Every request first asks the run's one ``RateController`` for its turn, and
reports a throttle to it: a 429 (or a 503 with Retry-After) pauses every worker,
not only this one. A 429 is the server's instruction, not a failure of the
page: it does not use up an attempt; the date's deadline bounds it instead.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from requests.models import PreparedRequest

from extract_job.classify import Page, classify
from extract_job.ratecontrol import RateController
from extract_job.retry import RetryPolicy
from extract_job.settings import DEFAULT_END_OF_PAGES
from extract_job.watchdog import Watchdog, watched_adapter
from shared.errors import ApiError, FatalApiError, RetriableApiError, ThrottledApiError
from shared.manifest import tool_version
from shared.urls import public_url

log = logging.getLogger(__name__)

# Failures of the connection itself: resets, bodies cut short, timeouts.
_TRANSIENT = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


@dataclass(frozen=True)
class Timeouts:
    """Seconds per request; the values come from the job's settings (``extract_job.settings``).

    ``connect`` and ``read`` bound each step; ``total`` the whole request, body included.
    """

    connect: float
    read: float
    total: float = 120.0


_CHUNK = 64 * 1024


class TokenAuth(AuthBase):
    """Sends the token as the ``Authorization`` header.

    As ``session.auth`` it takes precedence over credentials in the URL and over
    ``~/.netrc``, which requests would otherwise swap in as Basic auth.
    """

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        request.headers["Authorization"] = self._token
        return request

    def __repr__(self) -> str:
        return "TokenAuth(***)"


def make_session(token: str, pool_size: int, watchdog: Watchdog | None = None) -> requests.Session:
    """A session whose connection pool fits ``pool_size`` parallel requests; urllib3's own retries off.

    With a ``watchdog``, every connection registers its socket with it, so deadlines and stops can end a read.
    """
    session = requests.Session()
    options: dict[str, Any] = {"pool_connections": 1, "pool_maxsize": pool_size, "max_retries": 0}
    adapter = watched_adapter(watchdog, **options) if watchdog else HTTPAdapter(**options)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.auth = TokenAuth(token)
    session.headers["User-Agent"] = f"sales-pipeline-extract/{tool_version()}"
    return session


class SalesApiClient:
    """Fetches single pages of ``GET <url>?date=D&page=N``, retrying what is transient."""

    def __init__(
        self,
        session: requests.Session,
        url: str,
        policy: RetryPolicy,
        timeouts: Timeouts,
        sleep: Callable[[float], object] | None = None,
        rng: random.Random | None = None,
        end_of_pages: re.Pattern[str] = re.compile(DEFAULT_END_OF_PAGES),
        watchdog: Watchdog | None = None,
        max_page_bytes: int = 64 * 1024 * 1024,
        control: RateController | None = None,
        date_deadline: float | None = None,
    ) -> None:
        self._session = session
        self._url = url
        self._policy = policy
        self._timeouts = timeouts
        self._watchdog = watchdog or Watchdog()
        self._sleep = sleep or self._watchdog.stopped.wait  # a stop ends the wait at once
        self._rng = rng or random.Random()
        self._end_of_pages = end_of_pages
        self._max_bytes = max_page_bytes
        self.control = control or RateController(concurrency=1)
        self._date_deadline = date_deadline

    def stop(self) -> None:
        """Make every request in flight and every wait end now (from any thread, e.g. on a signal)."""
        self._watchdog.stop()

    def fetch_page(self, day: date, page: int, started: float | None = None) -> Page | None:
        """The page, or None past the last page. Raises ``ApiError`` once retrying is pointless or exhausted.

        ``started``: when the date's first request went out (on the controller's
        clock); with a date deadline, the page gives up when it has passed,
        however much of that time was spent paused.
        """
        attempts = self._policy.max_attempts
        attempt = throttles = 0
        deadline = None if started is None or self._date_deadline is None else started + self._date_deadline
        while True:
            self._wait_turn(day, page, deadline)
            sent_at = self.control.now()
            try:
                answer = self._get(day, page, attempt + throttles + 1)
            except ThrottledApiError as exc:
                failure: RetriableApiError = exc
                throttles += 1
            except RetriableApiError as exc:
                failure = exc
                attempt += 1
            else:
                self.control.succeeded()
                return answer
            if failure.retry_after is not None and failure.retry_after > self._policy.max_retry_after:
                raise RetriableApiError(
                    f"{failure}: the API asks to wait {failure.retry_after:g}s, longer than "
                    f"--max-retry-after {self._policy.max_retry_after:g}s; not waiting"
                )
            if isinstance(failure, ThrottledApiError):
                delay = self._policy.delay(throttles, failure.retry_after, self._rng)
                log.warning("%s %s; every request pauses, retrying in %.2fs", day, failure, delay)
            elif attempt >= attempts:
                # Plain ApiError (exit 1: a later run may succeed), not RetriableApiError: nothing retries it here.
                raise ApiError(f"page {page}: gave up after {attempts} attempts; last error: {failure}")
            else:
                delay = self._policy.delay(attempt, failure.retry_after, self._rng)
                log.warning("%s %s; attempt %d of %d, retrying in %.2fs", day, failure, attempt, attempts, delay)
            if isinstance(failure, ThrottledApiError) or failure.retry_after is not None:
                # The API says when: every worker waits (an overloaded API is not helped by the others either).
                self.control.throttled(sent_at, delay)
            self._wait(delay, day, page, deadline)

    def _wait_turn(self, day: date, page: int, deadline: float | None) -> None:
        """Wait until the controller lets this request go."""
        while True:
            self._check_stopped(page)
            turn = self.control.claim()
            if turn is None:
                self._wait(self.control.paused_for(), day, page, deadline)
                continue
            if turn > 0:
                self._wait(turn, day, page, deadline)
                if self.control.paused_for() > 0:
                    continue  # paused meanwhile: the turn is void, ask again after the pause
            self._check_deadline(day, page, deadline)
            return

    def _wait(self, seconds: float, day: date, page: int, deadline: float | None) -> None:
        """Sleep ``seconds`` (a stop ends it at once); give up when the date's deadline comes first."""
        if deadline is not None and self.control.now() + seconds >= deadline:
            self._sleep(max(0.0, deadline - self.control.now()))
            self._check_stopped(page)
            self._check_deadline(day, page, deadline)
        self._sleep(seconds)

    def _check_deadline(self, day: date, page: int, deadline: float | None) -> None:
        if deadline is not None and self.control.now() >= deadline:
            raise ApiError(
                f"page {page}: {day} was not complete within --date-deadline {self._date_deadline:g}s "
                f"(the API kept throttling or failing)"
            )

    def _check_stopped(self, page: int) -> None:
        if self._watchdog.stopped.is_set():
            raise ApiError(f"page {page}: stopped")

    def _get(self, day: date, page: int, tries: int) -> Page | None:
        with self._watchdog.watch(self._timeouts.total) as request:
            try:
                return self._request(day, page, tries)
            except ApiError:
                if self._watchdog.stopped.is_set():
                    raise ApiError(f"page {page}: stopped") from None
                if request.expired:
                    raise RetriableApiError(
                        f"page {page}: no complete answer within the {self._timeouts.total:g}s request deadline"
                    ) from None
                raise

    def _request(self, day: date, page: int, tries: int) -> Page | None:
        """One GET of ``page`` (the ``tries``-th for it), classified; logged at DEBUG with its status and size."""
        sent = time.monotonic()
        try:
            with self._session.get(
                self._url,
                params={"date": day.isoformat(), "page": str(page)},
                timeout=(self._timeouts.connect, self._timeouts.read),
                stream=True,
            ) as response:
                body = self._read_body(response, page)
        except requests.exceptions.SSLError as exc:
            # A certificate that fails verification will fail the same way on every attempt.
            raise FatalApiError(f"page {page}: TLS verification failed ({_reason(exc)})") from None
        except requests.Timeout as exc:
            raise RetriableApiError(f"page {page}: timed out ({type(exc).__name__})") from None
        except _TRANSIENT as exc:
            raise RetriableApiError(f"page {page}: connection failed ({_reason(exc)})") from None
        except requests.RequestException as exc:
            raise FatalApiError(f"page {page}: request failed: {_reason(exc)}") from None
        where = f"{public_url(self._url)}?date={day.isoformat()}&page={page}"
        log.debug(
            "%s page %d: HTTP %d, %d bytes in %.3fs (try %d) from %s",
            day,
            page,
            response.status_code,
            len(body),
            time.monotonic() - sent,
            tries,
            where,
        )
        return classify(page, response.status_code, response.headers, body, end_of_pages=self._end_of_pages, url=where)

    def _read_body(self, response: requests.Response, page: int) -> bytes:
        """The whole body (decoded), refused beyond ``max_page_bytes`` before it is all in memory."""
        limit = self._max_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            raise FatalApiError(f"page {page}: the answer is {int(declared)} bytes, more than --max-page-bytes {limit}")
        body = bytearray()
        for chunk in response.iter_content(_CHUNK):
            body += chunk
            if len(body) > limit:
                raise FatalApiError(f"page {page}: the answer is larger than --max-page-bytes {limit}; stopped reading")
        return bytes(body)


def _reason(exc: BaseException) -> str:
    """The root cause in a few words ("Connection refused"), not the wrapper chain's whole text."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = getattr(current, "reason", None) or current.__cause__ or current.__context__
        if not isinstance(current, BaseException):
            current = None
    for cause in reversed(seen):
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
    root = seen[-1]
    return f"{type(root).__name__}: {' '.join(str(root).split())[:160]}"  # one line, whatever the server sent
