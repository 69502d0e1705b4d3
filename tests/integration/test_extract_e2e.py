"""The extract job end to end against the real simulator on 127.0.0.1: data, manifests, exit codes, secrets."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from shared.filenames import SUCCESS_FILE
from shared.manifest import verify_partition

from ..support.files import all_file_bytes, data_files, hidden_entries, snapshot
from ..support.jobs import run_job
from .extract_support import TOKEN, assert_partition_matches, expected_pages

DATES = ["2026-11-22", "2026-11-23", "2026-11-24"]
RECORDS = 25


def test_three_date_backfill_in_process(simulator, workspace, run_in_process) -> None:
    sim = simulator(token=TOKEN, records_per_page=RECORDS)
    env = {**workspace.for_simulator(sim), "SALES_API_URL": f"{sim.url}/sales?client=ignored"}
    result = run_in_process(env, "--start", DATES[0], "--end", DATES[-1], "--concurrency", "3")
    assert result.code == 0, result.stderr
    assert result.error_lines("extract_job") == []
    run_ids = set()
    for day in DATES:
        manifest = assert_partition_matches(workspace.partition(day), sim.config, day, source=f"{sim.url}/sales")
        run_ids.add(manifest["run_id"])
    assert len(run_ids) == 3, "each date gets its own run"
    dataset = workspace.partition(DATES[0]).parent
    assert sorted(p.name for p in dataset.iterdir()) == [*DATES, "_LAST_RUN"], "no hidden temporaries"
    assert "3 date(s): 3 done, 0 skipped, 0 failed" in result.stderr
    assert result.stdout == ""


def test_three_date_backfill_subprocess_from_date_variable(simulator, workspace, run_subprocess) -> None:
    sim = simulator(token=TOKEN, records_per_page=RECORDS)
    env = {**workspace.for_simulator(sim), "DATE": f"{DATES[0]}..{DATES[-1]}"}
    result = run_subprocess(env, "--log-format", "json")
    assert result.code == 0, result.stderr
    for day in DATES:
        assert_partition_matches(workspace.partition(day), sim.config, day, source=f"{sim.url}/sales")
    summaries = [json.loads(line) for line in result.stderr.splitlines()]
    per_date = {s["date"]: s for s in summaries if "run_id" in s}
    assert set(per_date) == set(DATES)
    for day in DATES:
        assert per_date[day]["pages"] == len(expected_pages(sim.config, day))
        assert per_date[day]["run_id"] == verify_partition(workspace.partition(day))["run_id"]


def test_secrets_in_the_url_query_stay_out_of_the_manifest_and_logs(simulator, workspace, run_subprocess) -> None:
    sim = simulator(token=TOKEN, records_per_page=RECORDS, pages=1)
    url = f"{sim.url}/sales?api_key=url-secret-q1"
    result = run_subprocess(
        {**workspace.for_simulator(sim), "SALES_API_URL": url}, "--date", DATES[0], "--log-level", "DEBUG"
    )
    assert result.code == 0, result.stderr
    manifest = verify_partition(workspace.partition(DATES[0]))
    assert manifest["source"] == f"{sim.url}/sales"
    assert "url-secret-q1" not in result.stderr
    assert b"url-secret-q1" not in all_file_bytes(workspace.base)


def test_no_sales_date_gives_a_manifest_only_partition(simulator, workspace, run_subprocess) -> None:
    sim = simulator(token=TOKEN, records_per_page=RECORDS, no_sales_dates={DATES[1]})
    result = run_subprocess(workspace.for_simulator(sim), "--start", DATES[0], "--end", DATES[1])
    assert result.code == 0, result.stderr
    empty = workspace.partition(DATES[1])
    assert [p.name for p in empty.iterdir()] == [SUCCESS_FILE]
    manifest = verify_partition(empty)
    assert (manifest["pages"], manifest["records"], manifest["bytes"], manifest["files"]) == (0, 0, 0, [])
    assert_partition_matches(workspace.partition(DATES[0]), sim.config, DATES[0], f"{sim.url}/sales")


def test_missing_only_skips_complete_dates_and_refetches_the_rest(simulator, workspace, run_in_process) -> None:
    sim = simulator(token=TOKEN, records_per_page=RECORDS)
    env = workspace.for_simulator(sim)
    assert run_in_process(env, "--start", DATES[0], "--end", DATES[-1]).code == 0
    complete = snapshot(workspace.partition(DATES[0]))
    # Damage the second date (a page file gone) and remove the third entirely.
    (workspace.partition(DATES[1]) / f"sales_{DATES[1]}_2.json").unlink()
    for path in workspace.partition(DATES[2]).iterdir():
        path.unlink()
    workspace.partition(DATES[2]).rmdir()
    sim.stats.reset()

    result = run_in_process(env, "--start", DATES[0], "--end", DATES[-1], "--missing-only")
    assert result.code == 0, result.stderr
    assert snapshot(workspace.partition(DATES[0])) == complete, "the complete date is left alone"
    assert not any(day == DATES[0] for day, _ in sim.stats.requests_by_page), "and not fetched"
    for day in DATES[1:]:
        assert_partition_matches(workspace.partition(day), sim.config, day, f"{sim.url}/sales")
    assert f"{DATES[0]}: already complete, skipped (--missing-only)" in result.stderr
    assert "3 date(s): 2 done, 1 skipped, 0 failed" in result.stderr


def test_missing_only_refetches_an_altered_date(simulator, workspace, run_in_process) -> None:
    sim = simulator(token=TOKEN, records_per_page=RECORDS, pages=2)
    env = workspace.for_simulator(sim)
    assert run_in_process(env, "--date", DATES[0]).code == 0
    first_run = verify_partition(workspace.partition(DATES[0]))["run_id"]
    page = workspace.partition(DATES[0]) / f"sales_{DATES[0]}_1.json"
    page.write_bytes(page.read_bytes().replace(b'"price": ', b'"price": 1', 1))
    assert run_in_process(env, "--date", DATES[0], "--missing-only").code == 0
    manifest = assert_partition_matches(workspace.partition(DATES[0]), sim.config, DATES[0], f"{sim.url}/sales")
    assert manifest["run_id"] != first_run, "fetched again"


def test_missing_only_removes_a_dead_runs_leftovers_beside_a_complete_date(
    simulator, workspace, run_in_process
) -> None:
    sim = simulator(token=TOKEN, records_per_page=RECORDS, pages=2)
    env = workspace.for_simulator(sim)
    assert run_in_process(env, "--date", DATES[0]).code == 0
    complete = snapshot(workspace.partition(DATES[0]))
    leftover = workspace.partition(DATES[0]).parent / f".{DATES[0]}.tmp-deadrun"
    leftover.mkdir()
    (leftover / f"sales_{DATES[0]}_1.json").write_bytes(b"[partial")
    result = run_in_process(env, "--date", DATES[0], "--missing-only")
    assert result.code == 0, result.stderr
    assert snapshot(workspace.partition(DATES[0])) == complete
    assert hidden_entries(workspace.partition(DATES[0]).parent) == []


def test_raw_dir_writes_there(simulator, workspace, run_subprocess) -> None:
    sim = simulator(token=TOKEN, records_per_page=RECORDS)
    raw_dir = workspace.root / "elsewhere" / "day"
    result = run_subprocess(workspace.for_simulator(sim), "--date", DATES[2], "--raw-dir", str(raw_dir))
    assert result.code == 0, result.stderr
    assert_partition_matches(raw_dir, sim.config, DATES[2], f"{sim.url}/sales")
    assert not workspace.base.exists(), "BASE_DIR is not used"
    assert hidden_entries(raw_dir.parent) == []


def test_rerun_replaces_the_partition(simulator, workspace, run_in_process) -> None:
    sim = simulator(token=TOKEN, records_per_page=RECORDS)
    env = workspace.for_simulator(sim)
    assert run_in_process(env, "--date", DATES[1]).code == 0
    partition = workspace.partition(DATES[1])
    first, first_files = verify_partition(partition), snapshot(partition)
    # A page file of the pipeline's own naming the next run must not keep (a foreign file is refused: path safety).
    (partition / f"sales_{DATES[1]}_99.json").write_bytes(b"[]")
    assert run_in_process(env, "--date", DATES[1]).code == 0
    second = assert_partition_matches(partition, sim.config, DATES[1], f"{sim.url}/sales")
    assert second["run_id"] != first["run_id"]
    assert second["files"] == first["files"]
    assert {k: v for k, v in snapshot(partition).items() if k != SUCCESS_FILE} == {
        k: v for k, v in first_files.items() if k != SUCCESS_FILE
    }
    assert hidden_entries(partition.parent) == []


# --- exit codes -------------------------------------------------------------------------------------------------


def test_success_exit_code_and_quiet_stdout(simulator, workspace, run_subprocess) -> None:
    sim = simulator(token=TOKEN, records_per_page=RECORDS, pages=2)
    result = run_subprocess(workspace.for_simulator(sim), "--date", DATES[0])
    assert (result.code, result.stdout, result.error_lines("extract_job")) == (0, "", [])


def test_bad_token_stops_the_range_with_one_line_and_writes_nothing(simulator, workspace, run_subprocess) -> None:
    # A rejected token is the same for every date: the first answer stops the range (issue 14).
    sim = simulator(token=TOKEN, records_per_page=RECORDS)
    result = run_subprocess(
        workspace.for_simulator(sim, token="wrong-token"), "--start", DATES[0], "--end", DATES[1], "--concurrency", "1"
    )
    assert result.code == 3
    assert result.error_lines("extract_job") == [f"extract_job: {DATES[0]}: the API rejected the token (401)"]
    assert "2 date(s): 0 done, 0 skipped, 1 failed, 1 not attempted" in result.stderr
    assert data_files(workspace.base) == [], "nothing written"
    zone = workspace.partition(DATES[0]).parent
    assert [p.name for p in zone.iterdir()] == ["_LAST_RUN"], "no partitions, no leftovers: only the record"
    assert json.loads((zone / "_LAST_RUN").read_text())["dates"] == [], "convert given no date converts nothing"
    assert sim.stats.responses_by_status == {401: 1}, "one request in all: the range stopped at the first 401"


def test_bad_token_single_date(simulator, workspace, run_subprocess) -> None:
    sim = simulator(token=TOKEN)
    result = run_subprocess(workspace.for_simulator(sim, token="wrong-token"), "--date", DATES[0])
    assert result.code == 3
    assert result.error_lines("extract_job") == [f"extract_job: {DATES[0]}: the API rejected the token (401)"]


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    ("env_change", "argv", "message"),
    [
        pytest.param({"SALES_API_URL": None}, ["--date", DATES[0]], "SALES_API_URL is not set", id="no-url"),
        pytest.param(
            {"SALES_API_URL": "ftp://127.0.0.1/sales"},
            ["--date", DATES[0]],
            "must be an http:// or https://",
            id="ftp-url",
        ),
        pytest.param({"SALES_API_URL": "http://[::1/sales"}, ["--date", DATES[0]], "not a valid URL", id="broken-url"),
        pytest.param({"AUTH_TOKEN": None}, ["--date", DATES[0]], "no API token", id="no-token"),
        pytest.param(
            {"AUTH_TOKEN": "two\nlines"}, ["--date", DATES[0]], "contains a line break", id="token-with-line-break"
        ),
        pytest.param(
            {"AUTH_TOKEN": None, "AUTH_TOKEN_FILE": "/nonexistent/token"},
            ["--date", DATES[0]],
            "cannot read AUTH_TOKEN_FILE",
            id="missing-token-file",
        ),
        pytest.param({}, ["--date", "2026-02-30"], "invalid date '2026-02-30'", id="impossible-date"),
        pytest.param({}, ["--date", "24/11/2026"], "expected YYYY-MM-DD", id="badly-formed-date"),
        pytest.param({"DATE": "2026-11-24..2026-11-20"}, [], "before it starts", id="backwards-env-range"),
        pytest.param(
            {},
            ["--date", DATES[0], "--start", DATES[0], "--end", DATES[1]],
            "either --date or --start",
            id="date-and-range",
        ),
        pytest.param({}, ["--start", DATES[0]], "--start and --end go together", id="start-without-end"),
        pytest.param(
            {},
            ["--start", DATES[0], "--end", DATES[1], "--raw-dir", "x"],
            "--raw-dir names one partition",
            id="raw-dir-with-range",
        ),
        pytest.param(
            {"EXTRACT_CONCURRENCY": "many"}, ["--date", DATES[0]], "EXTRACT_CONCURRENCY='many'", id="bad-env-number"
        ),
        pytest.param({}, ["--date", DATES[0], "--concurrency", "0"], "must be between 1 and 64", id="zero-concurrency"),
        pytest.param({"LOG_LEVEL": "chatty"}, ["--date", DATES[0]], "LOG_LEVEL='chatty'", id="bad-log-level"),
    ],
)
def test_usage_errors_exit_2_and_write_nothing(
    simulator, workspace, run_subprocess, env_change: dict[str, str | None], argv: list[str], message: str
) -> None:
    sim = simulator(token=TOKEN)
    env = workspace.for_simulator(sim)
    for name, value in env_change.items():
        if value is None:
            env.pop(name)
        else:
            env[name] = value
    result = run_subprocess(env, *argv)
    assert result.code == 2, result.stderr
    assert result.stderr.startswith("extract_job: error: "), result.stderr
    assert message in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert not workspace.base.exists(), "nothing written"
    assert sim.stats.requests_total == 0, "no request made"
    assert TOKEN not in result.stderr
    if env.get("AUTH_TOKEN") == "two\nlines":
        assert "two" not in result.stderr and "lines" not in result.stderr, "not even part of a bad token is shown"


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["--bogus"], id="unknown-flag"),
        pytest.param(["--concurrency", "two"], id="flag-not-a-number"),
        pytest.param(["--log-level", "loud"], id="bad-log-level-flag"),
    ],
)
def test_argument_errors_exit_2(simulator, workspace, run_subprocess, argv: list[str]) -> None:
    sim = simulator(token=TOKEN)
    result = run_subprocess(workspace.for_simulator(sim), *argv)
    assert result.code == 2
    assert "usage: python -m extract_job" in result.stderr
    assert not workspace.base.exists()


@pytest.mark.parametrize("tool", ["extract_job", "convert_job"])
def test_a_usage_error_in_json_is_logged_under_the_jobs_name(workspace, tool: str) -> None:
    result = run_job(tool, ["--bogus"], {**workspace.env, "LOG_FORMAT": "json"}, workspace.root)
    assert result.code == 2
    [line] = [json.loads(text) for text in result.stderr.splitlines()]
    assert line["logger"] == tool, "the name of every other line, not the usage's 'python -m ...'"
    assert line["message"] == f"{tool}: error: unrecognized arguments: --bogus"


def test_help_exits_0_and_documents_exit_codes(workspace, run_subprocess) -> None:
    result = run_subprocess(workspace.env, "--help")
    assert result.code == 0
    assert "exit codes" in result.stdout and "SALES_API_URL" in result.stdout
    assert "  3    a date failed in a way no retry fixes" in result.stdout and "143  stopped (SIGTERM" in result.stdout


def test_wrong_url_path_is_a_clear_failure(simulator, workspace, run_subprocess) -> None:
    sim = simulator(token=TOKEN)
    env = {**workspace.for_simulator(sim), "SALES_API_URL": f"{sim.url}/not-sales"}
    result = run_subprocess(env, "--date", DATES[0])
    assert result.code == 3
    [line] = result.error_lines("extract_job")
    assert line.startswith(f"extract_job: {DATES[0]}: page 1: HTTP 404 that is not the API's end of pages")
    assert "check SALES_API_URL" in line


def test_unreachable_api_gives_up_with_a_clear_error(workspace, run_subprocess) -> None:
    env = {**workspace.env, "SALES_API_URL": f"http://127.0.0.1:{closed_port()}/sales", "AUTH_TOKEN": TOKEN}
    result = run_subprocess(
        env, "--date", DATES[0], "--max-attempts", "2", "--backoff", "0.01", "--connect-timeout", "1"
    )
    assert result.code == 1
    [line] = result.error_lines("extract_job")
    assert f"extract_job: {DATES[0]}: page " in line and "gave up after 2 attempts" in line
    assert "connection failed" in line


# --- the token never leaks --------------------------------------------------------------------------------------


@pytest.mark.parametrize("log_format", ["text", "json"])
@pytest.mark.parametrize(
    ("knobs", "token_source", "expected_code"),
    [
        pytest.param({}, "env", 0, id="success-env-token"),
        pytest.param({}, "file", 0, id="success-token-file"),
        pytest.param({"revoke_after_page": 1}, "env", 3, id="revoked-mid-date"),
        pytest.param({"fail_first": 1}, "env", 0, id="with-retries"),
        pytest.param({"pages": 30}, "env", 3, id="max-pages-exceeded"),
    ],
)
def test_token_never_appears_anywhere(
    simulator, workspace, run_subprocess, knobs, token_source: str, expected_code: int, log_format: str
) -> None:
    sim = simulator(token=TOKEN, records_per_page=5, **{"pages": 3, **knobs})
    env = workspace.for_simulator(sim)
    if token_source == "file":
        secret = workspace.root / "secrets" / "token"
        secret.parent.mkdir()
        secret.write_text(TOKEN + "\n")
        env.pop("AUTH_TOKEN")
        env["AUTH_TOKEN_FILE"] = str(secret)
    result = run_subprocess(
        env,
        "--date",
        DATES[0],
        "--log-format",
        log_format,
        "--log-level",
        "DEBUG",
        "--backoff",
        "0.01",
        "--max-pages",
        "10",
    )
    assert result.code == expected_code, result.stderr
    assert TOKEN not in result.stdout and TOKEN not in result.stderr
    assert TOKEN.encode() not in all_file_bytes(workspace.base)
    if log_format == "json":
        for line in result.stderr.splitlines():
            if not line.startswith("extract_job: "):
                json.loads(line)


def test_token_with_json_special_characters_is_redacted(simulator, workspace, run_subprocess) -> None:
    token = 'odd"tok\\en-5e6f'
    sim = simulator(token=token, records_per_page=5, pages=2, fail_first=1)
    result = run_subprocess(
        workspace.for_simulator(sim, token=token),
        "--date",
        DATES[0],
        "--log-format",
        "json",
        "--log-level",
        "DEBUG",
        "--backoff",
        "0.01",
    )
    assert result.code == 0, result.stderr
    for form in (token, json.dumps(token)[1:-1], repr(token)[1:-1]):
        assert form not in result.stderr


def test_in_process_run_does_not_leak_the_token(simulator, workspace, run_in_process, tmp_path: Path) -> None:
    sim = simulator(token=TOKEN, records_per_page=5, pages=2, fail_first=1)
    result = run_in_process(
        workspace.for_simulator(sim), "--date", DATES[0], "--log-level", "DEBUG", "--backoff", "0.01"
    )
    assert result.code == 0
    assert TOKEN not in result.stderr and TOKEN not in result.stdout
    assert TOKEN.encode() not in all_file_bytes(tmp_path)
