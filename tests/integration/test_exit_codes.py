"""The exit-code contract, one row per kind of failure, for both jobs, a single date and a range.

0 every date succeeded or was skipped; 1 a retry may fix it; 2 usage or
configuration, nothing written; 3 nothing succeeds until someone changes
something. In a range the most serious code wins (3 over 1). Every row runs the
job as a process against a real server on 127.0.0.1 and real files. (Disk full,
exit 1, is in tests/reliability/test_disk_full.py: it needs a tmpfs.)
"""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from ..support.jobs import run_job
from .extract_support import TOKEN

SALE = {"client": "Ann", "purchase_date": "2022-08-09", "product": "TV", "price": 10}
PAGE = json.dumps([SALE, SALE]).encode()
BAD_PAGE = json.dumps([SALE, {**SALE, "price": "ten"}]).encode()
END = (404, b'{"message": "You requested page that doesn\'t exist"}')
DAYS = ("2022-08-09", "2022-08-10")


def answers(first_page: tuple[int, bytes]) -> Callable[[str, int], tuple[int, bytes]]:
    """A day whose page 1 answers ``first_page`` (then the API's end), or a normal day of one page."""
    return lambda day, page: first_page if page == 1 else END


def fine(day: str, page: int) -> tuple[int, bytes]:
    return (200, PAGE) if page == 1 else END


EXTRACT_FAILURES = {
    "ok": (fine, 0),
    "token-rejected-401": (answers((401, b'{"message": "Unauthorized"}')), 3),
    "access-refused-403": (answers((403, b'{"message": "Forbidden"}')), 3),
    "request-rejected-400": (answers((400, b'{"message": "bad date"}')), 3),
    "not-the-sales-api-404": (answers((404, b'{"detail": "Not Found"}')), 3),
    "inconsistent-api-never-ends": (lambda day, page: (200, PAGE), 3),
    "gave-up-on-503": (answers((503, b"busy")), 1),
    "gave-up-on-429": (answers((429, b"slow down")), 1),
    "gave-up-on-a-body-that-is-not-json": (answers((200, b"<html>maintenance</html>")), 1),
}
# A 429 does not use up attempts (issue 14): a date throttled for ever ends at its deadline instead.
EXTRACT_FLAGS = (
    *("--max-attempts", "2", "--backoff", "0.01", "--max-pages", "3", "--concurrency", "1"),
    *("--date-deadline", "3"),
)


@pytest.mark.parametrize("kind", EXTRACT_FAILURES)
def test_extract_single_date(kind: str, scripted_api, workspace) -> None:
    answer, code = EXTRACT_FAILURES[kind]
    env = {**workspace.env, "SALES_API_URL": scripted_api(answer), "AUTH_TOKEN": TOKEN}

    result = run_job("extract_job", ["--date", DAYS[0], *EXTRACT_FLAGS], env, workspace.root)

    assert result.code == code, result.stderr
    assert len(result.error_lines("extract_job")) == (0 if code == 0 else 1), result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("first", "second", "code"),
    [
        pytest.param("ok", "ok", 0, id="both-ok"),
        pytest.param("ok", "gave-up-on-503", 1, id="ok-and-retriable"),
        pytest.param("ok", "token-rejected-401", 3, id="ok-and-permanent"),
        pytest.param("gave-up-on-503", "not-the-sales-api-404", 3, id="permanent-wins-over-retriable"),
        pytest.param("inconsistent-api-never-ends", "gave-up-on-429", 3, id="permanent-first"),
    ],
)
def test_extract_range_exits_with_the_most_serious_code(first, second, code, scripted_api, workspace) -> None:
    by_day = {DAYS[0]: EXTRACT_FAILURES[first][0], DAYS[1]: EXTRACT_FAILURES[second][0]}
    env = {**workspace.env, "SALES_API_URL": scripted_api(lambda d, p: by_day[d](d, p)), "AUTH_TOKEN": TOKEN}

    result = run_job("extract_job", ["--start", DAYS[0], "--end", DAYS[1], *EXTRACT_FLAGS], env, workspace.root)

    assert result.code == code, result.stderr
    failed = [kind for kind in (first, second) if kind != "ok"]
    assert len(result.error_lines("extract_job")) == len(failed), "one line per failed date"


def test_extract_unreachable_api_exits_1(workspace) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    env = {**workspace.env, "SALES_API_URL": f"http://127.0.0.1:{closed}/sales", "AUTH_TOKEN": TOKEN}
    assert run_job("extract_job", ["--date", DAYS[0], *EXTRACT_FLAGS], env, workspace.root).code == 1


@pytest.mark.parametrize(
    ("argv", "env_change"),
    [
        pytest.param(["--date", "2022-13-01"], {}, id="bad-date"),
        pytest.param(["--concurrency", "0"], {}, id="bad-flag-value"),
        pytest.param(["--no-such-flag"], {}, id="unknown-flag"),
        pytest.param([], {"SALES_API_URL": "ftp://x/sales"}, id="bad-url"),
        pytest.param([], {"AUTH_TOKEN": ""}, id="no-token"),
    ],
)
def test_extract_usage_errors_exit_2_and_write_nothing(argv, env_change, workspace) -> None:
    env = {**workspace.env, "SALES_API_URL": "http://127.0.0.1:9/sales", "AUTH_TOKEN": TOKEN, **env_change}
    dates = [] if "--date" in argv else ["--date", DAYS[0]]
    result = run_job("extract_job", [*dates, *argv], env, workspace.root)
    assert result.code == 2, result.stderr
    assert not workspace.base.exists()


# --- convert -------------------------------------------------------------------------------------------------


@pytest.fixture
def extracted(scripted_api, workspace) -> Path:
    """BASE_DIR with both days extracted for real: DAYS[0] clean, DAYS[1] with one invalid record in two."""
    pages = {DAYS[0]: PAGE, DAYS[1]: BAD_PAGE}
    url = scripted_api(lambda day, page: (200, pages[day]) if page == 1 else END)
    env = {**workspace.env, "SALES_API_URL": url, "AUTH_TOKEN": TOKEN}
    assert run_job("extract_job", ["--start", DAYS[0], "--end", DAYS[1]], env, workspace.root).code == 0
    return workspace.base


def damage(base: Path, kind: str, day: str) -> list[str]:
    """Make ``day`` fail as ``kind``; returns extra flags for convert."""
    raw = base / "raw" / "sales" / day
    if kind == "raw-missing":
        shutil.rmtree(raw)
    elif kind == "raw-partial":
        (raw / "_SUCCESS").unlink()
    elif kind == "raw-altered":
        page = raw / f"sales_{day}_1.json"
        page.write_bytes(page.read_bytes().replace(b"Ann", b"Bob"))
    elif kind == "raw-extra-file":
        (raw / "stray.json").write_bytes(b"[]")
    return {"too-many-invalid": ["--max-invalid-ratio", "0.1"]}.get(kind, ["--max-invalid-ratio", "0.5"])


CONVERT_FAILURES = ["raw-missing", "raw-partial", "raw-altered", "raw-extra-file", "too-many-invalid"]


@pytest.mark.parametrize("kind", ["ok", *CONVERT_FAILURES])
def test_convert_single_date(kind: str, extracted: Path, workspace) -> None:
    flags = damage(extracted, kind, DAYS[1])
    result = run_job("convert_job", ["--date", DAYS[1], *flags], workspace.env, workspace.root)
    assert result.code == (0 if kind == "ok" else 3), result.stderr
    assert len(result.error_lines("convert_job")) == (0 if kind == "ok" else 1)
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("kind", CONVERT_FAILURES)
def test_convert_range_exits_3_when_one_date_fails_permanently(kind: str, extracted: Path, workspace) -> None:
    flags = damage(extracted, kind, DAYS[1])
    result = run_job("convert_job", ["--start", DAYS[0], "--end", DAYS[1], *flags], workspace.env, workspace.root)
    assert result.code == 3, result.stderr
    [line] = result.error_lines("convert_job")
    assert line.startswith(f"convert_job: {DAYS[1]}: ")
    assert (extracted / "stg" / "sales" / DAYS[0] / "_SUCCESS").is_file(), "the other date still converted"


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["--codec", "no-such-codec"], id="unknown-codec"),
        pytest.param(["--max-invalid-ratio", "2"], id="ratio-above-1"),
        pytest.param(["--keep-failed-runs", "0"], id="keep-no-failed-run"),
        pytest.param(["--workers", "0"], id="no-workers"),
    ],
)
def test_convert_usage_errors_exit_2_and_write_nothing(argv, extracted: Path, workspace) -> None:
    result = run_job("convert_job", ["--date", DAYS[0], *argv], workspace.env, workspace.root)
    assert result.code == 2, result.stderr
    assert not (extracted / "stg").exists() and not (extracted / "quarantine").exists()


@pytest.mark.parametrize("tool", ["extract_job", "convert_job"])
@pytest.mark.parametrize("missing", ["no-such.env", "."], ids=["missing", "a-folder"])
def test_an_env_file_that_is_not_there_is_one_usage_line(tool: str, missing: str, workspace) -> None:
    # The API is not configured at all: without the check, the error was "SALES_API_URL is not set".
    named = workspace.root / missing
    env = {**workspace.env, "ENV_FILE": str(named)}
    result = run_job(tool, ["--date", DAYS[0]], env, workspace.root)
    assert result.code == 2, result.stderr
    assert result.stderr.splitlines() == [result.error_lines(tool)[0]]
    assert f"ENV_FILE {named} " in result.stderr
    assert not workspace.base.exists()
