"""HTTP access to the sales API: one session, explicit timeouts, bounded retries."""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from requests.models import PreparedRequest

from extract_job.classify import Page, classify
from extract_job.retry import RetryPolicy
from extract_job.settings import DEFAULT_END_OF_PAGES, public_url
from shared.errors import ApiError, FatalApiError, RetriableApiError
from shared.manifest import tool_version

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
    """Seconds per request; the values come from the job's settings (``extract_job.settings``)."""

    connect: float
    read: float


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


def make_session(token: str, pool_size: int) -> requests.Session:
    """A session whose connection pool fits ``pool_size`` parallel requests; urllib3's own retries off."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
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
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        end_of_pages: re.Pattern[str] = re.compile(DEFAULT_END_OF_PAGES),
    ) -> None:
        self._session = session
        self._url = url
        self._policy = policy
        self._timeouts = timeouts
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._end_of_pages = end_of_pages

    def fetch_page(self, day: date, page: int) -> Page | None:
        """The page, or None past the last page. Raises ``ApiError`` once retrying is pointless or exhausted."""
        attempts = self._policy.max_attempts
        for attempt in range(1, attempts + 1):
            try:
                return self._get(day, page)
            except RetriableApiError as exc:
                failure = exc
            if attempt < attempts:
                delay = self._policy.delay(attempt, failure.retry_after, self._rng)
                log.warning("%s %s; attempt %d of %d, retrying in %.2fs", day, failure, attempt, attempts, delay)
                self._sleep(delay)
        # Plain ApiError (exit 1: a later run may succeed), not RetriableApiError: nothing retries it again here.
        raise ApiError(f"page {page}: gave up after {attempts} attempts; last error: {failure}")

    def _get(self, day: date, page: int) -> Page | None:
        try:
            response = self._session.get(
                self._url,
                params={"date": day.isoformat(), "page": page},
                timeout=(self._timeouts.connect, self._timeouts.read),
            )
            body = response.content
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
        return classify(page, response.status_code, response.headers, body, end_of_pages=self._end_of_pages, url=where)


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
    return f"{type(root).__name__}: {str(root)[:160]}"
