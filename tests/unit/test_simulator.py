"""The bundled sales API simulator, exercised over real HTTP on 127.0.0.1."""

from __future__ import annotations

import datetime
import email.utils
import hashlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import pytest
import requests

from sales_api_sim import RunningSimulator, SimulatorConfig, cli, data, running
from sales_api_sim.config import RetryAfterFormat
from sales_api_sim.faults import RateLimiter
from shared.settings import specs

REPO_ROOT = Path(__file__).resolve().parents[2]
DAY = "2022-08-09"
FIELDS = {"client", "purchase_date", "product", "price"}
PAGE_GONE = {"message": "You requested page that doesn't exist"}
TIMEOUT = 5.0
# Sentinel: send no Authorization header at all.
NO_TOKEN = object()

SMALL = SimulatorConfig(records_per_page=5, pages=3)


def get_sales(
    sim: RunningSimulator,
    day: str | None = DAY,
    page: int | str | None = 1,
    *,
    token: object = None,
    session: requests.Session | None = None,
    timeout: float | tuple[float, float] = TIMEOUT,
) -> requests.Response:
    """GET /sales; ``None`` leaves a parameter out, ``token=None`` sends the right token."""
    params = {name: value for name, value in (("date", day), ("page", page)) if value is not None}
    headers = {} if token is NO_TOKEN else {"Authorization": sim.config.token if token is None else str(token)}
    getter = requests.get if session is None else session.get
    return getter(f"{sim.url}/sales", params=params, headers=headers, timeout=timeout)


def is_valid_record(record: dict[str, Any], day: str) -> bool:
    """An independent statement of what a valid record is, to check the generator's labels."""
    if set(record) != FIELDS:
        return False
    if not isinstance(record["client"], str) or not isinstance(record["product"], str):
        return False
    price = record["price"]
    if type(price) is not int or price <= 0:
        return False
    try:
        datetime.date.fromisoformat(record["purchase_date"])
    except (TypeError, ValueError):
        return False
    return bool(record["purchase_date"] == day)


def defect_of(record: dict[str, Any], day: str) -> str:
    """Name the way an invalid record is broken, using the generator's vocabulary."""
    if set(record) != FIELDS:
        return "missing_field"
    price = record["price"]
    if isinstance(price, bool):
        return "price_bool"
    if isinstance(price, str):
        return "price_string"
    if isinstance(price, float):
        return "price_float"
    if record["client"] is None:
        return "client_null"
    if isinstance(record["product"], dict):
        return "product_object"
    if record["purchase_date"] != day:
        return "impossible_date"
    return "valid"


# --- the happy path ---------------------------------------------------------


def test_page_has_the_upstream_shape() -> None:
    with running(SimulatorConfig(records_per_page=7)) as sim:
        response = get_sales(sim)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert int(response.headers["Content-Length"]) == len(response.content)
    records = response.json()
    assert len(records) == 7
    for record in records:
        assert set(record) == FIELDS
        assert isinstance(record["client"], str) and record["client"]
        assert isinstance(record["product"], str) and record["product"]
        assert type(record["price"]) is int and record["price"] > 0
        assert record["purchase_date"] == DAY


def test_body_is_exactly_the_documented_bytes() -> None:
    with running(SMALL) as sim:
        body = get_sales(sim, page=2).content

    records = data.page_records(SMALL, DAY, 2)
    assert body == json.dumps(records, ensure_ascii=False).encode("utf-8")
    assert body == data.render_page(SMALL, DAY, 2)


def test_records_include_non_ascii_names_sent_as_raw_utf8() -> None:
    with running(SimulatorConfig(pages=3)) as sim:
        bodies = [get_sales(sim, page=page).content for page in (1, 2, 3)]

    clients = {record["client"] for body in bodies for record in json.loads(body)}
    assert any(re.search("[À-ɏ]", name) for name in clients), "accented Latin"
    assert any(re.search("[Ѐ-ӿ]", name) for name in clients), "Cyrillic"
    assert any(re.search("[一-鿿\U00020000-\U0002a6df]", name) for name in clients), "CJK"
    assert all(b"\\u" not in body for body in bodies), "non-ASCII must not be escaped"


def test_health_needs_no_token() -> None:
    with running() as sim:
        response = requests.get(f"{sim.url}/health", timeout=TIMEOUT)

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


# --- determinism -------------------------------------------------------------


def test_same_request_gives_same_bytes_on_one_server_and_across_servers() -> None:
    config = SimulatorConfig(seed=7, invalid_rate=0.2)
    with running(config) as first, running(config) as second:
        bodies = [get_sales(first).content, get_sales(first).content, get_sales(second).content]

    assert bodies[0] == bodies[1] == bodies[2]


def test_another_seed_gives_other_data() -> None:
    first, second = (data.render_page(SimulatorConfig(seed=seed), DAY, 1) for seed in (1, 2))

    assert first != second


def test_pages_are_identical_across_processes_whatever_the_hash_seed() -> None:
    script = (
        "import hashlib; from sales_api_sim import SimulatorConfig, data; "
        "c = SimulatorConfig(seed=5, invalid_rate=0.3); "
        f"print(data.pages_for_date(c, '{DAY}'), hashlib.sha256(data.render_page(c, '{DAY}', 2)).hexdigest())"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
        for hash_seed in ("1", "2")
    }
    config = SimulatorConfig(seed=5, invalid_rate=0.3)
    digest = hashlib.sha256(data.render_page(config, DAY, 2)).hexdigest()
    assert outputs == {f"{data.pages_for_date(config, DAY)} {digest}\n"}


def test_derived_pages_per_date_stay_in_range_and_vary() -> None:
    config = SimulatorConfig()
    start = datetime.date(2022, 8, 1)
    days = [(start + datetime.timedelta(days=n)).isoformat() for n in range(60)]
    counts = [data.pages_for_date(config, day) for day in days]

    assert all(data.MIN_PAGES <= count <= data.MAX_PAGES for count in counts)
    assert len(set(counts)) > 3


# --- the end of the pages ----------------------------------------------------


def test_last_page_is_200_and_the_next_is_404_with_the_upstream_message() -> None:
    config = SimulatorConfig(records_per_page=3)
    last = data.pages_for_date(config, DAY)
    with running(config) as sim:
        last_response = get_sales(sim, page=last)
        past_response = get_sales(sim, page=last + 1)

    assert last_response.status_code == 200
    assert past_response.status_code == 404
    assert past_response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert past_response.json() == PAGE_GONE


@pytest.mark.parametrize(
    ("config", "day"),
    [
        pytest.param(SimulatorConfig(pages=0), DAY, id="pages=0"),
        pytest.param(SimulatorConfig(no_sales_dates=frozenset({DAY})), DAY, id="no_sales_dates"),
    ],
)
def test_a_date_without_sales_answers_404_on_page_one(config: SimulatorConfig, day: str) -> None:
    with running(config) as sim:
        response = get_sales(sim, day=day, page=1)

    assert response.status_code == 404
    assert response.json() == PAGE_GONE


def test_no_sales_dates_leave_other_dates_alone() -> None:
    with running(SimulatorConfig(no_sales_dates=frozenset({"2022-08-10"}))) as sim:
        assert get_sales(sim, day="2022-08-10").status_code == 404
        assert get_sales(sim, day=DAY).status_code == 200


def test_endless_never_runs_out_of_pages() -> None:
    config = SimulatorConfig(pages=1, records_per_page=2, endless=True)
    with running(config) as sim:
        response = get_sales(sim, page=500)

    assert response.status_code == 200
    assert response.content == data.render_page(config, DAY, 500)


def test_revoke_after_page_answers_401_for_later_pages() -> None:
    with running(SimulatorConfig(pages=5, records_per_page=2, revoke_after_page=2)) as sim:
        statuses = [get_sales(sim, page=page).status_code for page in (1, 2, 3, 4)]
        revoked = get_sales(sim, page=3)

    assert statuses == [200, 200, 401, 401]
    assert "message" in revoked.json()


# --- client errors -------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "page", "mentions"),
    [
        pytest.param(None, 1, "date", id="missing-date"),
        pytest.param("", 1, "date", id="empty-date"),
        pytest.param("2022/08/09", 1, "date", id="slashes"),
        pytest.param("2022-8-9", 1, "date", id="no-zero-padding"),
        pytest.param("20220809", 1, "date", id="basic-iso-format"),
        pytest.param("2022-02-30", 1, "date", id="impossible-date"),
        pytest.param("yesterday", 1, "date", id="word"),
        pytest.param(DAY, None, "page", id="missing-page"),
        pytest.param(DAY, "", "page", id="empty-page"),
        pytest.param(DAY, "0", "page", id="page-zero"),
        pytest.param(DAY, "-1", "page", id="negative-page"),
        pytest.param(DAY, "1.5", "page", id="fractional-page"),
        pytest.param(DAY, "two", "page", id="word-page"),
        pytest.param(DAY, "9" * 40, "page", id="huge-page"),
    ],
)
def test_bad_parameters_answer_400_saying_what_is_wrong(day: str | None, page: str | int | None, mentions: str) -> None:
    with running(SMALL) as sim:
        response = get_sales(sim, day=day, page=page)

    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert mentions in response.json()["message"]


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(NO_TOKEN, id="missing"),
        pytest.param("wrong-token", id="wrong"),
        pytest.param("Bearer dev-token", id="bearer-prefix"),
        pytest.param("dev-token2", id="longer"),
    ],
)
def test_missing_or_wrong_token_answers_401(token: object) -> None:
    with running(SMALL) as sim:
        response = get_sales(sim, token=token)

    assert response.status_code == 401
    assert response.json()["message"]


@pytest.mark.parametrize("path", ["/", "/nope", "/sales/", "/SALES", "/api/sales"])
def test_unknown_path_is_a_plain_text_404(path: str) -> None:
    with running() as sim:
        response = requests.get(
            f"{sim.url}{path}",
            params={"date": DAY, "page": "1"},
            headers={"Authorization": sim.config.token},
            timeout=TIMEOUT,
        )

    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/plain")
    with pytest.raises(ValueError):
        json.loads(response.content)


# --- server errors and rate limiting -----------------------------------------------


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        pytest.param(SimulatorConfig(pages=2, fail_first=2), [503, 503, 200, 200], id="fail-first-2"),
        pytest.param(SimulatorConfig(pages=2, fail_first=1, error_status=500), [500, 200, 200, 200], id="status-500"),
        pytest.param(SimulatorConfig(pages=2, error_rate=1.0, error_status=502), [502] * 4, id="error-rate-1"),
    ],
)
def test_simulated_errors(config: SimulatorConfig, expected: list[int]) -> None:
    with running(config) as sim:
        responses = [get_sales(sim, page=1) for _ in expected]
        other_page = get_sales(sim, page=2)

    assert [response.status_code for response in responses] == expected
    assert all("message" in response.json() for response in responses if response.status_code != 200)
    assert other_page.status_code == expected[0], "each (date, page) has its own counter"
    assert sim.stats.page_requests(DAY, 1) == len(expected)
    assert sim.stats.requests_total == len(expected) + 1


def test_fail_first_applies_to_the_page_past_the_end_too() -> None:
    with running(SimulatorConfig(pages=1, fail_first=1)) as sim:
        statuses = [get_sales(sim, page=2).status_code for _ in range(2)]

    assert statuses == [503, 404]


def test_error_rate_sequence_is_repeatable() -> None:
    config = SimulatorConfig(error_rate=0.5, endless=True, records_per_page=1)
    sequences = []
    for _ in range(2):
        with running(config) as sim:
            sequences.append([get_sales(sim, page=page).status_code for page in range(1, 21)])

    assert sequences[0] == sequences[1]
    assert set(sequences[0]) == {200, 503}


@pytest.mark.parametrize("retry_after_format", ["seconds", "http-date"])
def test_rate_limit_answers_429_with_retry_after(retry_after_format: RetryAfterFormat) -> None:
    config = SimulatorConfig(
        pages=5, records_per_page=1, rate_limit=2, retry_after=3, retry_after_format=retry_after_format
    )
    with running(config) as sim, requests.Session() as session:
        statuses = [get_sales(sim, page=page, session=session).status_code for page in (1, 2)]
        limited = get_sales(sim, page=3, session=session)
        asked_at = time.time()

    assert statuses == [200, 200]
    assert limited.status_code == 429
    retry_after = limited.headers["Retry-After"]
    if retry_after_format == "seconds":
        assert retry_after == "3"
    else:
        when = email.utils.parsedate_to_datetime(retry_after).timestamp()
        assert asked_at + 3 - 1 <= when <= asked_at + 3 + 1
    assert sim.stats.responses_by_status == {200: 2, 429: 1}
    assert sim.stats.page_requests(DAY, 3) == 0, "a rejected request is not an attempt at the page"


def test_rate_limiter_slides_its_window() -> None:
    now = [100.0]
    limiter = RateLimiter(2, clock=lambda: now[0])

    assert [limiter.allow(), limiter.allow(), limiter.allow()] == [True, True, False]
    now[0] += 0.5
    assert not limiter.allow()
    now[0] += 0.5
    assert [limiter.allow(), limiter.allow(), limiter.allow()] == [True, True, False]


def test_latency_delays_every_sales_request() -> None:
    with running(SimulatorConfig(pages=1, records_per_page=1, latency=0.2)) as sim:
        started = time.perf_counter()
        statuses = [get_sales(sim, page=1).status_code, get_sales(sim, page=1, token="bad").status_code]
        elapsed = time.perf_counter() - started

    assert statuses == [200, 401]
    assert elapsed >= 0.4


# --- invalid records --------------------------------------------------------


def test_invalid_records_are_served_and_labelled() -> None:
    config = SimulatorConfig(records_per_page=200, pages=2, invalid_rate=0.3)
    labelled = data.generate_page(config, DAY, 1)
    with running(config) as sim:
        served = get_sales(sim, page=1).json()

    assert served == [record for record, _ in labelled]
    assert [is_valid_record(record, DAY) for record in served] == [valid for _, valid in labelled]
    invalid_share = sum(not valid for _, valid in labelled) / len(labelled)
    assert 0.15 < invalid_share < 0.45


def test_every_kind_of_invalid_record_occurs() -> None:
    config = SimulatorConfig(records_per_page=100, invalid_rate=1.0)
    records = [record for page in (1, 2, 3) for record, _ in data.generate_page(config, DAY, page)]

    assert {defect_of(record, DAY) for record in records} == set(data.INVALID_KINDS)


def test_zero_invalid_rate_gives_only_valid_records() -> None:
    labelled = data.date_records(SimulatorConfig(), DAY)

    assert all(valid and is_valid_record(record, DAY) for record, valid in labelled)


def test_page_cache_evicts_least_recently_used_pages_beyond_its_byte_budget() -> None:
    cache = data.PageCache(max_bytes=10)
    cache.put("a", b"12345")
    cache.put("b", b"12345")
    assert cache.get("a") == b"12345"
    cache.put("c", b"12345")
    cache.put("huge", b"x" * 11)

    assert cache.get("b") is None, "least recently used goes first"
    assert cache.get("a") == b"12345" and cache.get("c") == b"12345"
    assert cache.get("huge") is None, "a page larger than the budget is not cached"


def test_raising_invalid_rate_only_corrupts_more_of_the_same_records() -> None:
    low = data.generate_page(SimulatorConfig(invalid_rate=0.1), DAY, 1)
    high = data.generate_page(SimulatorConfig(invalid_rate=0.5), DAY, 1)
    clean = data.generate_page(SimulatorConfig(), DAY, 1)

    def invalid_positions(labelled: list[tuple[dict[str, Any], bool]]) -> set[int]:
        return {position for position, (_, valid) in enumerate(labelled) if not valid}

    assert invalid_positions(low) <= invalid_positions(high)
    assert [record for record, valid in high if valid] == [
        record for (record, _), (_, valid) in zip(clean, high, strict=True) if valid
    ]


# --- transport faults --------------------------------------------------------


def test_reset_fault_cuts_the_body_short_then_recovers() -> None:
    with running(SimulatorConfig(pages=2, fault="reset", fault_first=1)) as sim:
        with pytest.raises(requests.exceptions.ChunkedEncodingError, match="IncompleteRead"):
            get_sales(sim)
        retried = get_sales(sim)

    assert retried.status_code == 200
    assert retried.content == data.render_page(sim.config, DAY, 1)


def test_truncate_fault_sends_cut_json_with_a_matching_length() -> None:
    with running(SimulatorConfig(pages=2, fault="truncate")) as sim:
        response = get_sales(sim)

    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert data.render_page(sim.config, DAY, 1).startswith(response.content)
    response.content.decode("utf-8")
    with pytest.raises(ValueError):
        json.loads(response.content)


def test_html_fault_answers_200_with_an_html_page() -> None:
    with running(SimulatorConfig(pages=2, fault="html")) as sim:
        responses = [get_sales(sim), get_sales(sim)]

    for response in responses:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/html")
        assert response.text.startswith("<html>") and response.text.endswith("</html>")


def test_slow_fault_outlasts_a_short_read_timeout() -> None:
    with running(SimulatorConfig(pages=2, fault="slow", slow_seconds=0.5, fault_first=1)) as sim:
        with pytest.raises(requests.exceptions.ReadTimeout):
            get_sales(sim, timeout=(TIMEOUT, 0.1))
        assert get_sales(sim, timeout=(TIMEOUT, 0.4)).status_code == 200


def test_fault_pages_limit_the_fault_to_the_listed_pages() -> None:
    with running(SimulatorConfig(pages=3, fault="html", fault_pages=frozenset({2}))) as sim:
        kinds = [get_sales(sim, page=page).headers["Content-Type"].split(";")[0] for page in (1, 2, 3)]

    assert kinds == ["application/json", "text/html", "application/json"]


def test_faults_leave_the_end_of_pages_alone() -> None:
    with running(SimulatorConfig(pages=1, fault="html")) as sim:
        response = get_sales(sim, page=2)

    assert response.status_code == 404
    assert response.json() == PAGE_GONE


# --- connections -------------------------------------------------------------


def test_a_session_reuses_one_keep_alive_connection() -> None:
    with running(SMALL) as sim, requests.Session() as session:
        statuses = [get_sales(sim, page=page, session=session).status_code for page in (1, 2, 3, 4, 1)]

    assert statuses == [200, 200, 200, 404, 200]
    assert sim.stats.connections_total == 1


def test_parallel_clients_each_get_the_whole_date() -> None:
    config = SimulatorConfig(records_per_page=20)
    expected = [record for record, _ in data.date_records(config, DAY)]
    last = data.pages_for_date(config, DAY)
    results: list[list[dict[str, Any]]] = []
    errors: list[BaseException] = []

    def fetch_all(sim: RunningSimulator) -> None:
        try:
            with requests.Session() as session:
                pages = [get_sales(sim, page=page, session=session).json() for page in range(1, last + 1)]
            results.append([record for page_records in pages for record in page_records])
        except BaseException as exc:  # reported by the main thread below
            errors.append(exc)

    with running(config) as sim:
        workers = [threading.Thread(target=fetch_all, args=(sim,)) for _ in range(16)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=30)

    assert not errors
    assert len(results) == 16 and all(records == expected for records in results)
    assert sim.stats.requests_total == 16 * last


def test_leaving_running_closes_pooled_connections() -> None:
    session = requests.Session()
    with running(SMALL) as sim:
        assert get_sales(sim, session=session).status_code == 200

    with pytest.raises(requests.exceptions.ConnectionError):
        get_sales(sim, session=session, timeout=1.0)
    session.close()


# --- configuration ---------------------------------------------------------------


@pytest.mark.parametrize(
    "knobs",
    [
        pytest.param({"records_per_page": 0}, id="no-records-per-page"),
        pytest.param({"records_per_page": True}, id="bool-as-int"),
        pytest.param({"pages": -1}, id="negative-pages"),
        pytest.param({"error_rate": 1.5}, id="error-rate-above-1"),
        pytest.param({"invalid_rate": -0.1}, id="negative-invalid-rate"),
        pytest.param({"error_status": 200}, id="success-as-error-status"),
        pytest.param({"latency": -1}, id="negative-latency"),
        pytest.param({"latency": float("nan")}, id="nan-latency"),
        pytest.param({"rate_limit": 0}, id="zero-rate-limit"),
        pytest.param({"retry_after_format": "minutes"}, id="retry-after-format"),
        pytest.param({"fault": "explode"}, id="unknown-fault"),
        pytest.param({"fault_pages": frozenset({0})}, id="fault-page-zero"),
        pytest.param({"token": ""}, id="empty-token"),
        pytest.param({"token": "tøken"}, id="non-ascii-token"),
        pytest.param({"no_sales_dates": frozenset({"2022-02-30"})}, id="impossible-no-sales-date"),
        pytest.param({"no_sales_dates": "2022-08-09"}, id="no-sales-dates-as-string"),
    ],
)
def test_config_rejects_bad_knobs(knobs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SimulatorConfig(**knobs)


def test_config_coerces_collections_and_stays_hashable() -> None:
    # Deliberately not frozensets: the config accepts any collection at run time.
    config = SimulatorConfig(
        no_sales_dates=[datetime.date(2022, 8, 1), "2022-08-02"],  # type: ignore[arg-type]
        fault_pages=[2, 3],  # type: ignore[arg-type]
    )

    assert config.no_sales_dates == frozenset({"2022-08-01", "2022-08-02"})
    assert config.fault_pages == frozenset({2, 3})
    same = SimulatorConfig(no_sales_dates=frozenset({"2022-08-02", "2022-08-01"}), fault_pages=frozenset({3, 2}))
    assert hash(config) == hash(same)


# --- command line --------------------------------------------------------------


def test_cli_flags_and_env_fallbacks_build_the_config() -> None:
    environ = {"SIM_TOKEN": "env-token", "SIM_PAGES": "4", "SIM_RATE_LIMIT": "", "SIM_ENDLESS": "yes"}
    argv = ["--pages", "2", "--fault", "reset", "--fault-pages", "1,3"]
    argv += ["--no-sales-dates", "2022-08-01,2022-08-02"]
    args, config = cli.parse_args(argv, environ)

    assert (args.host, args.port) == ("127.0.0.1", 8081)
    assert config.token == "env-token"
    assert config.pages == 2, "a flag beats its environment variable"
    assert config.rate_limit is None, "an empty environment variable counts as unset"
    assert config.endless is True
    assert config.fault == "reset" and config.fault_pages == frozenset({1, 3})
    assert config.no_sales_dates == frozenset({"2022-08-01", "2022-08-02"})


@pytest.mark.parametrize(
    ("argv", "environ"),
    [
        pytest.param(["--error-rate", "2"], {}, id="error-rate-flag"),
        pytest.param(["--port", "http"], {}, id="port-flag"),
        pytest.param(["--fault", "explode"], {}, id="fault-flag"),
        pytest.param(["--no-sales-dates", "2022-13-01"], {}, id="date-flag"),
        pytest.param([], {"SIM_SEED": "forty-two"}, id="seed-env"),
        pytest.param([], {"SIM_LATENCY": "-1"}, id="latency-env"),
        pytest.param([], {"SIM_ENDLESS": "maybe"}, id="endless-env"),
    ],
)
def test_cli_rejects_bad_values_with_exit_status_2(
    argv: list[str], environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.parse_args(argv, environ)

    assert exit_info.value.code == 2
    assert "error" in capsys.readouterr().err


def test_cli_help_exits_0_and_names_every_env_var() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sales_api_sim", "--help"],
        check=False,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 0
    declared = [spec for settings_class in cli.SETTINGS for spec in specs(settings_class)]
    assert len(declared) == 23
    text = " ".join(result.stdout.split())  # argparse wraps long help lines
    for spec in declared:
        assert f"{spec.flag} " in text and f"env {spec.env};" in text


class LineCollector:
    """Reads a process's stream on a thread so waiting for a line can time out."""

    def __init__(self, stream: IO[str]) -> None:
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.seen = ""
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                break
            self.seen += line
            if match := re.search(pattern, line):
                return match
        raise AssertionError(f"no line matching {pattern!r}; output so far:\n{self.seen}")

    def rest(self, timeout: float) -> str:
        """Everything after the last line read, once the stream has closed."""
        self._thread.join(timeout)
        while not self._lines.empty():
            self.seen += self._lines.get() or ""
        return self.seen


def test_cli_serves_on_a_free_port_and_stops_cleanly_on_sigterm() -> None:
    secret = "s3cret-token-xyz"
    environ = {name: value for name, value in os.environ.items() if not name.startswith("SIM_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "sales_api_sim", "--host", "127.0.0.1", "--port", "0", "--token", secret],
        cwd=REPO_ROOT,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    stderr = LineCollector(process.stderr)
    try:
        match = stderr.wait_for(r"sales API simulator listening on (http://127\.0\.0\.1:(\d+))$", timeout=60)
        url = match.group(1)
        health = requests.get(f"{url}/health", timeout=TIMEOUT)
        sales = requests.get(
            f"{url}/sales",
            params={"date": DAY, "page": "1"},
            headers={"Authorization": secret},
            timeout=TIMEOUT,
        )
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        output = stderr.rest(timeout=5)
        process.stderr.close()

    assert int(match.group(2)) > 0
    assert health.json() == {"status": "ok"}
    assert sales.status_code == 200
    assert returncode == 0
    assert secret not in output


def test_max_concurrent_answers_429_above_the_limit() -> None:
    # Two requests held in progress by the latency; the third, sent meanwhile, is one too many.
    config = SimulatorConfig(pages=5, records_per_page=1, max_concurrent=2, latency=0.5, retry_after=2)
    with running(config) as sim:
        api = sim.server.api
        with api.concurrency.enter() as first, api.concurrency.enter() as second:
            assert first and second
            crowded = get_sales(sim, page=1)
        after = get_sales(sim, page=1)
    assert (crowded.status_code, crowded.headers["Retry-After"]) == (429, "2")
    assert crowded.json() == {"message": "Too many concurrent requests"}
    assert after.status_code == 200, "a slot freed is a slot again"
    assert sim.stats.page_requests(DAY, 1) == 1, "a crowded request is not an attempt at the page"
