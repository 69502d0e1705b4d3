"""Extract against a hostile API on 127.0.0.1: what it echoes, how it lies, how slowly it answers.

Each case runs the real job as a process against a small server whose answers
are written by the test, and checks the exit code, the files left under
BASE_DIR (byte for byte) and that the token is nowhere in what was printed.
Time-bounded cases set the job's own deadlines small; no test sleeps.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from .support import DAY, EXTRACT, Result, data_snapshot, hidden_entries, run_job, send

TOKEN = "hostile-token-4be1a9"
PERMANENT = 3  # the API contradicts itself, refuses us, or answers what no retry changes
RETRY = 1  # a later run may succeed
Server = Callable[[Callable[[BaseHTTPRequestHandler, int], None]], str]


def extract(url: str, base: Path, cwd: Path, *args: str, **env: str) -> Result:
    environment = {"SALES_API_URL": url, "AUTH_TOKEN": TOKEN, "BASE_DIR": str(base), **env}
    return run_job(EXTRACT, ["--date", DAY, "--max-attempts", "1", *args], environment, cwd)


def echo_the_token(handler: BaseHTTPRequestHandler, page: int) -> None:
    token = handler.headers["Authorization"]
    send(handler, 400, json.dumps({"message": f"bad request for token {token}"}).encode())


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_an_error_body_echoing_the_token_is_redacted_on_every_line(
    hostile_api: Server, base: Path, tmp_path: Path, fmt: str
) -> None:
    result = extract(hostile_api(echo_the_token), base, tmp_path, LOG_FORMAT=fmt)

    assert result.code == PERMANENT, result.stderr
    assert TOKEN not in result.stderr + result.stdout
    assert "bad request for token ***" in result.stderr
    lines = result.stderr.splitlines()
    if fmt == "json":
        objects = [json.loads(line) for line in lines]  # every line on stderr is a JSON object
        summary = [o for o in objects if o["message"].startswith(f"{EXTRACT}: {DAY}:")]
        assert len(summary) == 1 and summary[0]["date"] == DAY
    else:
        assert len(result.error_lines(EXTRACT)) == 1
    assert data_snapshot(base) == {} and hidden_entries(base / "raw" / "sales") == []


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        pytest.param({"AUTH_TOKEN": "t"}, "AUTH_TOKEN is shorter than 8", id="token-too-short"),
        pytest.param({"AUTH_TOKEN": "tökén-ñon-λatin"}, "cannot carry", id="token-not-latin-1"),
        pytest.param(
            {"SALES_API_URL": "http://alice:PassW0rd/@127.0.0.1:9/sales"}, "percent-encoded", id="password-breaks-url"
        ),
        pytest.param({"EXTRACT_TIMEOUT": "inf"}, "must be a finite number", id="timeout-inf"),
        pytest.param({"EXTRACT_TIMEOUT": "nan"}, "must be greater than 0", id="timeout-nan"),
    ],
)
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_configuration_that_cannot_work_is_one_line_and_exit_2(
    base: Path, tmp_path: Path, env: dict[str, str], needle: str, fmt: str
) -> None:
    environment = {"SALES_API_URL": "http://127.0.0.1:9/sales", "AUTH_TOKEN": TOKEN, "BASE_DIR": str(base), **env}
    result = run_job(EXTRACT, ["--date", DAY], {**environment, "LOG_FORMAT": fmt}, tmp_path)

    assert result.code == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    message = json.loads(lines[0])["message"] if fmt == "json" else lines[0]
    assert message.startswith(f"{EXTRACT}: error: ") and needle in message, message
    assert "PassW0rd" not in result.stderr and TOKEN not in result.stderr
    assert data_snapshot(base) == {}


# --- The API contradicts itself ---------------------------------------------------------------------------------

END_OF_PAGES = b'{"message": "You requested page that doesn\'t exist"}'  # the sales API's own 404 body
RECORD = b'{"client": "Ann", "purchase_date": "2022-08-09", "product": "TV", "price": 10}'


def records_page(page: int) -> bytes:
    return b"[" + b", ".join([RECORD] * page) + b"]"  # page N holds N records: no two pages alike


class Counting:
    """A responder that counts the requests it answered."""

    def __init__(self, respond: Callable[[BaseHTTPRequestHandler, int], None]) -> None:
        self.respond, self.requests = respond, 0

    def __call__(self, handler: BaseHTTPRequestHandler, page: int) -> None:
        self.requests += 1
        self.respond(handler, page)


def pages_then_end(last: int) -> Callable[[BaseHTTPRequestHandler, int], None]:
    def respond(handler: BaseHTTPRequestHandler, page: int) -> None:
        if page <= last:
            send(handler, 200, records_page(page))
        else:
            send(handler, 404, END_OF_PAGES)

    return respond


def raw_files(base: Path) -> dict[str, bytes]:
    return data_snapshot(base / "raw")


@pytest.mark.parametrize("allow", [None, "--allow-empty", "EXTRACT_ALLOW_EMPTY"])
def test_an_empty_answer_does_not_erase_a_partition_of_records(
    hostile_api: Server, base: Path, tmp_path: Path, allow: str | None
) -> None:
    assert extract(hostile_api(pages_then_end(2)), base, tmp_path).code == 0
    before = raw_files(base)
    empty = hostile_api(lambda handler, page: send(handler, 200, b"[]"))

    flags = ["--allow-empty"] if allow == "--allow-empty" else []
    env = {"EXTRACT_ALLOW_EMPTY": "1"} if allow == "EXTRACT_ALLOW_EMPTY" else {}
    result = extract(empty, base, tmp_path, *flags, **env)

    if allow is None:
        assert result.code == PERMANENT, result.stderr
        (line,) = result.error_lines(EXTRACT)
        assert "holds 3 records" in line and "--allow-empty" in line
        assert raw_files(base) == before
    else:
        assert result.code == 0, result.stderr
        manifest = json.loads((base / "raw" / "sales" / DAY / "_SUCCESS").read_bytes())
        assert (manifest["pages"], manifest["records"]) == (0, 0)
    assert hidden_entries(base / "raw" / "sales") == []


def test_records_fetched_past_an_empty_page_fail_the_date(hostile_api: Server, base: Path, tmp_path: Path) -> None:
    """Page 2 answers 200 [] while pages 3 and 4 hold records: they were fetched, so they may not be dropped."""

    def respond(handler: BaseHTTPRequestHandler, page: int) -> None:
        body = b"[]" if page == 2 else records_page(page) if page <= 4 else END_OF_PAGES
        send(handler, 200 if page <= 4 else 404, body)

    result = extract(hostile_api(respond), base, tmp_path, "--concurrency", "4")

    assert result.code == PERMANENT, result.stderr
    (line,) = result.error_lines(EXTRACT)
    assert "inconsistent API: page 2 said the pages end, but page 3 (already fetched) holds records" in line
    assert raw_files(base) == {} and hidden_entries(base / "raw" / "sales") == []


def test_an_api_ignoring_the_page_number_fails_after_a_few_requests(
    hostile_api: Server, base: Path, tmp_path: Path
) -> None:
    server = Counting(lambda handler, page: send(handler, 200, records_page(3)))

    result = extract(hostile_api(server), base, tmp_path, "--concurrency", "4")

    assert result.code == PERMANENT, result.stderr
    (line,) = result.error_lines(EXTRACT)
    assert "the API seems to ignore the page number" in line
    assert server.requests <= 4 + 2, f"{server.requests} requests before giving up"
    assert raw_files(base) == {}


# --- Slow, huge and endless answers: the job's own deadlines and limits, set small ----------------------------


def trickle_forever(handler: BaseHTTPRequestHandler, page: int) -> None:
    """A 200 whose body arrives a byte at a time and never ends (each byte well within the read timeout)."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", "1000000")
    handler.end_headers()
    handler.wfile.write(b"[")
    pace = threading.Event()
    while not pace.wait(0.05):  # the server's pace, not the test's: the job must end it
        handler.wfile.write(b" ")
        handler.wfile.flush()


def headers_forever(handler: BaseHTTPRequestHandler, page: int) -> None:
    """The status line, then header lines trickling in for ever."""
    handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
    pace = threading.Event()
    n = 0
    while not pace.wait(0.05):
        handler.wfile.write(f"X-Slow-{n}: 1\r\n".encode())
        handler.wfile.flush()
        n += 1


def endless_chunks(handler: BaseHTTPRequestHandler, page: int) -> None:
    """A chunked 200 that never ends, as fast as the client reads."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    chunk = b"[" + b"0," * 32767
    while True:
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))


def declares_a_huge_body(handler: BaseHTTPRequestHandler, page: int) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", str(50 * 1024 * 1024))
    handler.end_headers()
    handler.wfile.write(b"[")


@pytest.mark.parametrize(
    ("respond", "flags", "code", "needle"),
    [
        pytest.param(
            trickle_forever,
            ["--request-deadline", "1", "--timeout", "30"],
            RETRY,
            "no complete answer within the 1s request deadline",
            id="body-trickling",
        ),
        pytest.param(
            headers_forever,
            ["--request-deadline", "1", "--timeout", "30"],
            RETRY,
            "no complete answer within the 1s request deadline",
            id="headers-trickling",
        ),
        pytest.param(
            endless_chunks,
            ["--max-page-bytes", "1048576"],
            PERMANENT,
            "larger than --max-page-bytes 1048576",
            id="endless-body",
        ),
        pytest.param(
            declares_a_huge_body,
            ["--max-page-bytes", "1048576"],
            PERMANENT,
            "the answer is 52428800 bytes, more than --max-page-bytes 1048576",
            id="huge-content-length",
        ),
    ],
)
def test_slow_huge_or_endless_answers_end_in_one_line(
    hostile_api: Server,
    base: Path,
    tmp_path: Path,
    respond: Callable[[BaseHTTPRequestHandler, int], None],
    flags: list[str],
    code: int,
    needle: str,
) -> None:
    result = extract(hostile_api(respond), base, tmp_path, *flags)

    assert result.code == code, result.stderr
    assert "Traceback" not in result.stderr
    (line,) = result.error_lines(EXTRACT)
    assert needle in line, line
    assert raw_files(base) == {} and hidden_entries(base / "raw" / "sales") == []


def test_a_retry_after_above_the_cap_fails_at_once_quoting_it(hostile_api: Server, base: Path, tmp_path: Path) -> None:
    server = Counting(lambda handler, page: send(handler, 503, b'{"message": "later"}', Retry_After="3600"))

    result = extract(hostile_api(server), base, tmp_path, "--max-attempts", "5", "--concurrency", "1")

    assert result.code == RETRY, result.stderr
    (line,) = result.error_lines(EXTRACT)
    assert "HTTP 503 (Retry-After: 3600)" in line and "longer than --max-retry-after 300s; not waiting" in line
    assert server.requests == 1, "no further attempt after a wait longer than the cap"


def test_a_retry_after_within_the_cap_is_waited_for(hostile_api: Server, base: Path, tmp_path: Path) -> None:
    def respond(handler: BaseHTTPRequestHandler, page: int) -> None:
        if server.requests == 1:
            send(handler, 429, b'{"message": "slow down"}', Retry_After="1")
        else:
            pages_then_end(1)(handler, page)

    server = Counting(respond)
    result = extract(hostile_api(server), base, tmp_path, "--max-attempts", "2", "--concurrency", "1")

    assert result.code == 0, result.stderr
    # A 429 pauses every request and uses up no attempt (issue 14).
    assert "HTTP 429 (Retry-After: 1); every request pauses, retrying in 1.00s" in result.stderr


# --- Every kind of answer a real server (or something that is not one) can give ------------------------------


def raw_answer(data: bytes) -> Callable[[BaseHTTPRequestHandler, int], None]:
    """Write ``data`` as the whole answer, byte for byte, then close the connection."""

    def respond(handler: BaseHTTPRequestHandler, page: int) -> None:
        handler.wfile.write(data)
        handler.wfile.flush()
        handler.close_connection = True

    return respond


def gzip_bomb() -> bytes:
    body = gzip.compress(b"[" + b"0," * (8 * 1024 * 1024) + b"0]")
    head = f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    return head + body


@pytest.mark.parametrize(
    ("data", "code", "needle"),
    [
        pytest.param(
            b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70000 + b"\r\nContent-Length: 2\r\n\r\n[]",
            1,
            "LineTooLong",
            id="header-line-too-long",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(150)) + b"\r\n",
            1,
            "got more than 100 headers",
            id="too-many-headers",
        ),
        pytest.param(b"SSH-2.0-OpenSSH_9.2\r\n\r\n", 1, "BadStatusLine: SSH-2.0-OpenSSH_9.2", id="not-http"),
        pytest.param(b"", 1, "connection failed", id="closed-without-answer"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n[1, 2", 1, "connection failed", id="body-cut-short"
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nabcd",
            1,
            "while decompressing data",
            id="gzip-that-is-not",
        ),
        pytest.param(gzip_bomb(), 3, "larger than --max-page-bytes 1048576", id="gzip-bomb"),
        pytest.param(b"HTTP/1.1 204 No Content\r\n\r\n", 3, "unexpected HTTP 204", id="204"),
        pytest.param(b"HTTP/1.1 999 Odd\r\nContent-Length: 2\r\n\r\n{}", 3, "unexpected HTTP 999", id="status-999"),
        pytest.param(
            b"HTTP/1.1 302 Found\r\nLocation: /sales?page=1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            3,
            "TooManyRedirects",
            id="redirect-loop",
        ),
        pytest.param(
            b"HTTP/1.1 503 Busy\r\nRetry-After: 99999999999999999999999\r\nContent-Length: 0\r\n\r\n",
            1,
            "longer than --max-retry-after 300s; not waiting",
            id="retry-after-absurd",
        ),
    ],
)
def test_answers_of_every_kind_end_in_one_line_and_no_traceback(
    hostile_api: Server, base: Path, tmp_path: Path, data: bytes, code: int, needle: str
) -> None:
    result = extract(hostile_api(raw_answer(data)), base, tmp_path, "--concurrency", "1", "--max-page-bytes", "1048576")

    assert result.code == code, result.stderr
    assert "Traceback" not in result.stderr
    (line,) = result.error_lines(EXTRACT)
    assert needle in line, line
    assert raw_files(base) == {} and hidden_entries(base / "raw" / "sales") == []


def test_a_redirect_to_another_server_does_not_carry_the_token(hostile_api: Server, base: Path, tmp_path: Path) -> None:
    seen: list[str | None] = []

    def elsewhere(handler: BaseHTTPRequestHandler, page: int) -> None:
        seen.append(handler.headers.get("Authorization"))
        pages_then_end(1)(handler, page)

    other = hostile_api(elsewhere)

    def redirect(handler: BaseHTTPRequestHandler, page: int) -> None:
        handler.send_response(302)
        handler.send_header("Location", f"{other}?date={DAY}&page={page}")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    result = extract(hostile_api(redirect), base, tmp_path, "--concurrency", "1")

    assert result.code == 0, result.stderr
    assert seen and all(header is None for header in seen), seen
