"""Extract against the simulator's fault knobs: complete, correct data or a clear failure, nothing in between.

Each row is (simulator knobs, extra flags) -> expected outcome. Before every run
a previous complete partition is in place (different data from the simulator's),
so a failure can be checked to have left it byte-for-byte as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sales_api_sim import data
from sales_api_sim.server import RunningSimulator
from sales_api_sim.stats import RequestStats
from shared.filenames import SUCCESS_FILE
from shared.manifest import verify_partition
from shared.quarantine import rejected_records

from .support import (
    CONVERT,
    DAY,
    EXTRACT,
    assert_clean_failure,
    assert_success,
    data_snapshot,
    extract_env,
    hidden_entries,
    page_name,
    run_job,
    write_raw_partition,
)

# Small pages keep each run well under a second; retries wait 10 ms, not the default 0.5 s.
BASE_KNOBS: dict[str, Any] = {"pages": 3, "records_per_page": 20}
BASE_FLAGS = ("--date", DAY, "--max-attempts", "3", "--backoff", "0.01")


@dataclass(frozen=True)
class Recovers:
    """Exit 0 and the partition holds exactly the simulator's pages."""

    evidence: Callable[[RequestStats], bool]  # proof the fault really happened (no vacuous pass)
    min_seconds: float = 0.0  # a wait the server asked for (Retry-After) was honoured


@dataclass(frozen=True)
class Fails:
    """Exit ``code``, one stderr line with ``message``, and the previous partition untouched."""

    message: str
    code: int = 1


def saw(status: int) -> Callable[[RequestStats], bool]:
    return lambda stats: stats.responses_by_status.get(status, 0) >= 1


def retried_page_1(stats: RequestStats) -> bool:
    return stats.page_requests(DAY, 1) >= 2


def case(case_id: str, knobs: dict[str, Any], flags: tuple[str, ...], expected: Recovers | Fails) -> Any:
    return pytest.param(knobs, flags, expected, id=case_id)


SLOW = {"fault": "slow", "slow_seconds": 1.0}
READ_TIMEOUT = ("--timeout", "0.3")

FAULT_MATRIX = [
    case("503-burst-recovers", {"fail_first": 2, "error_status": 503}, (), Recovers(saw(503))),
    case("502-burst-recovers", {"fail_first": 2, "error_status": 502}, (), Recovers(saw(502))),
    case(
        "503-random-half-recovers",
        {"pages": 10, "error_rate": 0.5, "error_status": 503},
        ("--max-attempts", "20"),
        Recovers(saw(503)),
    ),
    case(
        "503-persistent-fails",
        {"fail_first": 3, "error_status": 503},
        (),
        Fails("page 1: gave up after 3 attempts; last error: page 1: HTTP 503"),
    ),
    case(
        "502-persistent-fails",
        {"fail_first": 3, "error_status": 502},
        (),
        Fails("page 1: gave up after 3 attempts; last error: page 1: HTTP 502"),
    ),
    case(
        "429-retry-after-seconds-recovers",
        {"rate_limit": 2, "retry_after": 1},
        ("--concurrency", "1"),
        Recovers(saw(429), min_seconds=1.0),
    ),
    case(
        "429-retry-after-http-date-recovers",
        {"rate_limit": 2, "retry_after": 1, "retry_after_format": "http-date"},
        ("--concurrency", "1"),
        Recovers(saw(429), min_seconds=1.0),
    ),
    # A 429 is the server's instruction, not a failure of the page (issue 14): more 429s than attempts recover;
    # a date throttled for ever fails at its deadline, paused time included.
    case(
        "429-more-than-attempts-recovers",
        {"fail_first": 4, "error_status": 429, "retry_after": 0},
        (),
        Recovers(saw(429)),
    ),
    case(
        "429-persistent-fails-at-the-date-deadline",
        {"fail_first": 10**6, "error_status": 429, "retry_after": 1},
        ("--date-deadline", "2"),
        Fails("was not complete within --date-deadline 2s (the API kept throttling or failing)"),
    ),
    case("reset-mid-body-once-recovers", {"fault": "reset", "fault_first": 1}, (), Recovers(retried_page_1)),
    case("reset-mid-body-always-fails", {"fault": "reset"}, (), Fails("last error: page 1: connection failed")),
    case("truncated-json-once-recovers", {"fault": "truncate", "fault_first": 1}, (), Recovers(retried_page_1)),
    case(
        "truncated-json-always-fails",
        {"fault": "truncate"},
        (),
        Fails("last error: page 1: HTTP 200 but the body is not valid JSON"),
    ),
    case(
        "truncated-json-page-2-only-fails",
        {"fault": "truncate", "fault_pages": {2}},
        (),
        Fails("page 2: gave up after 3 attempts; last error: page 2: HTTP 200 but the body is not valid JSON"),
    ),
    case("html-200-once-recovers", {"fault": "html", "fault_first": 1}, (), Recovers(retried_page_1)),
    case(
        "html-200-always-fails",
        {"fault": "html"},
        (),
        Fails("last error: page 1: HTTP 200 but the body is not valid JSON"),
    ),
    case("slower-than-read-timeout-once-recovers", {**SLOW, "fault_first": 1}, READ_TIMEOUT, Recovers(retried_page_1)),
    case(
        "slower-than-read-timeout-always-fails",
        SLOW,
        READ_TIMEOUT,
        Fails("last error: page 1: timed out (ReadTimeout)"),
    ),
    case(
        "endless-pages-stops-at-max-pages",
        {"endless": True},
        ("--max-pages", "5"),
        Fails("the API still had pages after 5; stopping (raise --max-pages if that is real)", code=3),
    ),
    case(
        "token-revoked-401-on-page-5-fails",
        {"pages": 8, "revoke_after_page": 4},
        (),
        Fails("the API rejected the token (401)", code=3),
    ),
    case("no-sales-that-day-gives-an-empty-partition", {"pages": 0}, ("--allow-empty",), Recovers(saw(404))),
]


def expected_pages(sim: RunningSimulator) -> dict[str, bytes]:
    count = data.pages_for_date(sim.config, DAY)
    return {page_name(n): data.render_page(sim.config, DAY, n) for n in range(1, count + 1)}


def assert_partition_matches(partition: Path, sim: RunningSimulator) -> None:
    """Complete (manifest and digests) and every page byte-for-byte what the simulator served."""
    manifest = verify_partition(partition)
    pages = {p.name: p.read_bytes() for p in partition.iterdir() if p.name != SUCCESS_FILE}
    assert pages == expected_pages(sim)
    assert manifest["pages"] == len(pages)


def make_previous(base: Path) -> Path:
    """A previous complete partition whose bytes differ from anything the simulator serves."""
    partition = base / "raw" / "sales" / DAY
    write_raw_partition(partition, {page_name(1): b'[{"previous": true}]', page_name(2): b'[{"previous": 2}]'})
    return partition


@pytest.mark.parametrize(("knobs", "flags", "expected"), FAULT_MATRIX)
def test_extract_fault_matrix(
    sales_api: Callable[..., RunningSimulator],
    base: Path,
    tmp_path: Path,
    knobs: dict[str, Any],
    flags: tuple[str, ...],
    expected: Recovers | Fails,
) -> None:
    sim = sales_api(**{**BASE_KNOBS, **knobs})
    partition = make_previous(base)
    before = data_snapshot(base)

    result = run_job(EXTRACT, [*BASE_FLAGS, *flags], extract_env(sim, base), tmp_path)

    if isinstance(expected, Recovers):
        assert_success(result)
        assert_partition_matches(partition, sim)
        assert expected.evidence(sim.stats), f"the fault never fired: {sim.stats.responses_by_status}"
        assert result.seconds >= expected.min_seconds, "the server's Retry-After was not honoured"
    else:
        assert_clean_failure(result, EXTRACT, DAY, expected.message, code=expected.code)
        assert data_snapshot(base) == before, "a failed run changed BASE_DIR"
    assert hidden_entries(partition.parent) == []


def test_wrong_token_fails_fast_and_keeps_the_previous_partition(
    sales_api: Callable[..., RunningSimulator], base: Path, tmp_path: Path
) -> None:
    sim = sales_api(**BASE_KNOBS)
    partition = make_previous(base)
    before = data_snapshot(base)

    result = run_job(EXTRACT, BASE_FLAGS, extract_env(sim, base, AUTH_TOKEN="not-the-token"), tmp_path)

    assert_clean_failure(result, EXTRACT, "the API rejected the token (401)", code=3)
    assert data_snapshot(base) == before
    assert hidden_entries(partition.parent) == []
    assert sim.stats.responses_by_status == {401: sim.stats.requests_total}, "a 401 must not be retried"
    assert sim.stats.requests_total <= 4, "no more than the first round of requests (one per worker)"


# Bodies the simulator cannot produce: a 200 that is JSON to a lenient reader but that the convert job refuses.
# The extract job must refuse them too (retry, then fail), so the raw zone only ever holds what convert can read.
VALID_PAGE = b'[{"client": "Ann", "purchase_date": "2022-08-09", "product": "TV", "price": 10}]'
UNREADABLE_BODIES = [
    pytest.param(b"\xef\xbb\xbf" + VALID_PAGE, id="utf8-bom"),
    pytest.param(VALID_PAGE.decode().encode("utf-16"), id="utf16"),
    pytest.param(VALID_PAGE.decode().encode("utf-32"), id="utf32"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, id="100000-nested-arrays"),
]


@pytest.mark.parametrize("body", UNREADABLE_BODIES)
def test_extract_refuses_a_page_convert_could_not_read(
    canned_api: Callable[[dict[int, bytes]], str], base: Path, tmp_path: Path, body: bytes
) -> None:
    url = canned_api({1: body})
    partition = make_previous(base)
    before = data_snapshot(base)
    env = {"SALES_API_URL": url, "AUTH_TOKEN": "any-token", "BASE_DIR": str(base)}

    result = run_job(EXTRACT, [*BASE_FLAGS, "--concurrency", "1"], env, tmp_path)

    assert_clean_failure(result, EXTRACT, DAY, "page 1: gave up after 3 attempts; last error: page 1: HTTP 200 but")
    assert data_snapshot(base) == before
    assert hidden_entries(partition.parent) == []


# Valid JSON that Python cannot turn into numbers on its own (an integer past the int parser's 4300 digits,
# NaN as Python's json reads it): extract stores the page as received, convert quarantines just that record.
SALE = '{"client": "Ann", "purchase_date": "2022-08-09", "product": "TV", "price": %s}'
UNCONVERTIBLE_NUMBERS = [
    pytest.param("9" * 5000, "price has 5000 digits", "9" * 5000, id="5000-digit-integer"),
    pytest.param("NaN", "price must be a whole number, got nan", "nan", id="NaN"),
]


@pytest.mark.parametrize(("price", "reason", "kept_as"), UNCONVERTIBLE_NUMBERS)
def test_a_record_python_cannot_read_is_stored_then_quarantined_and_its_page_converts(
    canned_api: Callable[[dict[int, bytes]], str], base: Path, tmp_path: Path, price: str, reason: str, kept_as: str
) -> None:
    body = f"[{SALE % 10}, {SALE % price}, {SALE % 30}]".encode()
    env = {"SALES_API_URL": canned_api({1: body}), "AUTH_TOKEN": "any-token", "BASE_DIR": str(base)}

    assert_success(run_job(EXTRACT, BASE_FLAGS, env, tmp_path))
    raw = base / "raw" / "sales" / DAY
    assert (raw / page_name(1)).read_bytes() == body, "the page is stored exactly as received"
    assert verify_partition(raw)["records"] == 3

    assert_success(run_job(CONVERT, ["--date", DAY, "--max-invalid-ratio", "0.5"], {"BASE_DIR": str(base)}, tmp_path))
    staging = verify_partition(base / "stg" / "sales" / DAY)
    assert (staging["records_written"], staging["records_rejected"]) == (2, 1)
    [reject] = rejected_records(base / "quarantine" / "sales" / DAY, staging)
    assert reject["index"] == 1 and reason in reject["reason"]
    assert f"'price': {kept_as}}}" in reject["record_repr"]
