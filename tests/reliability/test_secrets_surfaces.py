"""The token never surfaces; inputs cannot steer paths or turn TLS off.

* The whole pipeline runs with a distinctive token (text and JSON logs, DEBUG,
  a wrong-token failure, AUTH_TOKEN_FILE, configuration errors); the token is
  looked for in every file under BASE_DIR, every log line and error message, and
  the settings object's repr. The process environment (``/proc/<pid>/environ``)
  is the one place it is: expected with AUTH_TOKEN, absent with AUTH_TOKEN_FILE.
* Dates are strict YYYY-MM-DD, so ``--date ../../etc`` writes nothing (exit 2).
* ``--raw-dir``/``--stg-dir`` are resolved and reported absolute in the log.
* TLS verification stays on; SALES_API_URL must be http(s).
"""

from __future__ import annotations

import json
import re
import shutil
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sales_api_sim.config import SimulatorConfig
from sales_api_sim.server import RunningSimulator, make_server
from shared.manifest import verify_partition
from tests.objectstore.seaweed import SeaweedFS
from tests.objectstore.support import objects

from .support import (
    CONVERT,
    DAY,
    EXTRACT,
    REPO,
    Result,
    assert_clean_failure,
    assert_success,
    extract_env,
    job_env,
    run_job,
    start_paused,
)

SECRET = "tok-RELIABILITY-5ecret-9d2f1b"
URL_PASSWORD = "pw-5ecret-in-url-41c7"


def files_holding(root: Path, needle: str) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


def test_the_token_appears_in_no_file_log_line_or_message(
    sales_api: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    sim = sales_api(token=SECRET, pages=3, records_per_page=20, invalid_rate=0.05)
    other = sales_api(token="a-different-token", pages=3)
    base = tmp_path / "data"
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    (secrets_dir / "token").write_text(SECRET + "\n")
    (secrets_dir / "two-lines").write_text(f"{SECRET}\nsecond line\n")
    # DEBUG: the jobs log nothing at DEBUG today, and any line added later is covered here.
    debug = ("--date", DAY, "--log-level", "DEBUG", "--backoff", "0.01", "--max-attempts", "2")
    env = extract_env(sim, base)
    from_file = {**extract_env(sim, base), "AUTH_TOKEN": "", "AUTH_TOKEN_FILE": str(secrets_dir / "token")}
    runs: dict[str, Result] = {}

    for fmt in ("text", "json"):
        runs[f"extract-{fmt}"] = run_job(EXTRACT, [*debug, "--log-format", fmt], env, tmp_path)
        assert_success(runs[f"extract-{fmt}"])
        runs[f"convert-{fmt}"] = run_job(
            CONVERT,
            ["--date", DAY, "--log-level", "DEBUG", "--log-format", fmt, "--force", "--max-invalid-ratio", "0.2"],
            env,
            tmp_path,
        )
        assert_success(runs[f"convert-{fmt}"])
        runs[f"wrong-token-{fmt}"] = run_job(
            EXTRACT, [*debug, "--log-format", fmt], extract_env(other, base, AUTH_TOKEN=SECRET), tmp_path
        )
        assert_clean_failure(runs[f"wrong-token-{fmt}"], EXTRACT, "the API rejected the token (401)", code=3)
        runs[f"token-file-{fmt}"] = run_job(EXTRACT, [*debug, "--log-format", fmt], from_file, tmp_path)
        assert_success(runs[f"token-file-{fmt}"])
    runs["token-file-two-lines"] = run_job(
        EXTRACT, debug, {**from_file, "AUTH_TOKEN_FILE": str(secrets_dir / "two-lines")}, tmp_path
    )
    assert runs["token-file-two-lines"].code == 2 and "line break" in runs["token-file-two-lines"].stderr
    runs["bad-url"] = run_job(EXTRACT, debug, {**env, "SALES_API_URL": f"ftp://{SECRET}@127.0.0.1/"}, tmp_path)
    assert runs["bad-url"].code == 2
    runs["password-in-url"] = run_job(
        EXTRACT,
        [*debug, "--max-attempts", "1"],
        {**env, "SALES_API_URL": f"{sim.url.replace('://', f'://user:{URL_PASSWORD}@')}/sales"},
        tmp_path,
    )

    for name, result in runs.items():
        for secret in (SECRET, URL_PASSWORD):
            assert secret not in result.stdout + result.stderr, f"{name} printed a secret:\n{result.stderr}"
    json_lines = [
        line
        for fmt in ("extract-json", "convert-json", "wrong-token-json", "token-file-json")
        for line in runs[fmt].stderr.splitlines()
        if line.startswith("{")
    ]
    assert json_lines and all(isinstance(json.loads(line), dict) for line in json_lines)
    assert verify_partition(base / "raw" / "sales" / DAY) and (base / "quarantine").is_dir()
    assert files_holding(base, SECRET) == [] and files_holding(base, URL_PASSWORD) == []


SETTINGS_DUMP = (
    "from extract_job.cli import build_parser; from extract_job.settings import ExtractSettings; "
    "from shared.config import load_environment; from shared.settings import resolve; "
    "s = resolve(ExtractSettings, build_parser().parse_args([]), load_environment()); print(repr(s)); print(s)"
)


@pytest.mark.parametrize("source", ["AUTH_TOKEN", "AUTH_TOKEN_FILE"])
def test_the_settings_repr_hides_the_token(tmp_path: Path, source: str) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(SECRET)
    env = {"SALES_API_URL": "http://127.0.0.1:9/sales", source: SECRET if source == "AUTH_TOKEN" else str(token_file)}

    done = subprocess.run(
        [sys.executable, "-c", SETTINGS_DUMP],
        env=job_env(env),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ExtractSettings(") and "api_url='http://127.0.0.1:9/sales'" in done.stdout
    assert "token" not in done.stdout and SECRET not in done.stdout


@pytest.mark.parametrize(("source", "in_environ"), [("AUTH_TOKEN", True), ("AUTH_TOKEN_FILE", False)])
def test_the_process_environment_is_the_only_place_the_token_lives(
    sales_api: Callable[..., RunningSimulator], tmp_path: Path, source: str, in_environ: bool
) -> None:
    """With AUTH_TOKEN, /proc/<pid>/environ holds it (as for any environment variable, readable by the same
    user and root only); with AUTH_TOKEN_FILE, not even there. Never on the command line."""
    sim = sales_api(token=SECRET, pages=2)
    token_file = tmp_path / "token"
    token_file.write_text(SECRET)
    env = extract_env(sim, tmp_path / "data")
    if source == "AUTH_TOKEN_FILE":
        env = {**env, "AUTH_TOKEN": "", "AUTH_TOKEN_FILE": str(token_file)}

    process = start_paused(EXTRACT, ["--date", DAY], env, tmp_path, "extract.page-stored")
    try:
        environ = Path(f"/proc/{process.pid}/environ").read_bytes()
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes()
    finally:
        for marker in tmp_path.glob("pause-*/*"):
            marker.unlink()  # the paused job goes on
        process.wait(timeout=60)
    assert (SECRET.encode() in environ) is in_environ
    assert SECRET.encode() not in cmdline
    assert process.returncode == 0


# --- dates cannot steer paths --------------------------------------------------------------------------------

STEERING = [
    pytest.param(["--date", "../../etc"], {}, id="date-dot-dot"),
    pytest.param(["--date", f"{DAY}/../../x"], {}, id="date-then-dot-dot"),
    pytest.param(["--date", "/etc"], {}, id="date-absolute-path"),
    pytest.param(["--date", "2022-02-30"], {}, id="date-not-in-the-calendar"),
    pytest.param(["--date", "20220809"], {}, id="date-basic-iso-format"),
    pytest.param(["--date", "2022-W32-2"], {}, id="date-iso-week"),
    pytest.param(["--date", "２０２２-０８-０９"], {}, id="date-fullwidth-digits"),
    pytest.param(["--start", "../x", "--end", DAY], {}, id="range-start-dot-dot"),
    pytest.param([], {"DATE": "../../etc"}, id="env-DATE-dot-dot"),
    pytest.param([], {"DATE": f"{DAY}..../x"}, id="env-DATE-range-dot-dot"),
]


@pytest.mark.parametrize("tool", [EXTRACT, CONVERT])
@pytest.mark.parametrize(("args", "env"), STEERING)
def test_a_date_that_is_not_a_real_date_writes_nothing(
    tmp_path: Path, tool: str, args: list[str], env: dict[str, str]
) -> None:
    base = tmp_path / "data"
    env = {"BASE_DIR": str(base), "SALES_API_URL": "http://127.0.0.1:9/sales", "AUTH_TOKEN": SECRET, **env}

    result = run_job(tool, args, env, tmp_path)

    assert result.code == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.error_lines(tool)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{tool}: error: invalid date "), result.stderr
    assert list(tmp_path.iterdir()) == [], "something was written"


def test_extract_reports_the_resolved_raw_dir(sales_api: Callable[..., RunningSimulator], tmp_path: Path) -> None:
    sim = sales_api(pages=2, records_per_page=5)

    result = run_job(
        EXTRACT, ["--date", DAY, "--raw-dir", "out/../out/raw"], extract_env(sim, tmp_path / "data"), tmp_path
    )

    assert_success(result)
    absolute = (tmp_path / "out" / "raw").resolve()
    verify_partition(absolute)
    assert f"-> {absolute}\n" in result.stderr


def test_convert_reports_the_resolved_stg_dir(sales_api: Callable[..., RunningSimulator], tmp_path: Path) -> None:
    sim = sales_api(pages=2, records_per_page=5)
    assert_success(run_job(EXTRACT, ["--date", DAY, "--raw-dir", "in"], extract_env(sim, tmp_path / "data"), tmp_path))

    result = run_job(
        CONVERT,
        ["--raw-dir", "in", "--stg-dir", "./x/../stg", "--quarantine-dir", "q"],
        {"BASE_DIR": str(tmp_path / "data")},
        tmp_path,
    )

    assert_success(result)
    absolute = (tmp_path / "stg").resolve()
    verify_partition(absolute)
    assert f"-> {absolute}\n" in result.stderr


# --- TLS and the API URL -------------------------------------------------------------------------------------


def test_the_session_verifies_tls() -> None:
    from extract_job.client import make_session

    with make_session("token", 1) as session:
        assert session.verify is True


TLS_OFF = re.compile(r"verify\s*=\s*False|CERT_NONE|check_hostname\s*=\s*False|disable_warnings|_create_unverified")


def test_nothing_in_the_code_turns_tls_verification_off() -> None:
    offenders = [
        f"{path.relative_to(REPO)}:{n}: {line.strip()}"
        for package in ("extract_job", "convert_job", "shared")
        for path in sorted((REPO / package).rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if TLS_OFF.search(line)
    ]
    assert offenders == []


@pytest.fixture
def self_signed_https(tmp_path: Path) -> Iterator[str]:
    """The simulator behind TLS with a self-signed certificate; yields its https:// sales URL."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl binary to make a self-signed certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = make_server(SimulatorConfig(pages=1), "127.0.0.1", 0)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_port}/sales"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_self_signed_certificate_is_refused(self_signed_https: str, tmp_path: Path) -> None:
    base = tmp_path / "data"
    env = {"SALES_API_URL": self_signed_https, "AUTH_TOKEN": "dev-token", "BASE_DIR": str(base)}

    # Default attempts and a long backoff: a quick failure shows the refusal is not retried.
    result = run_job(EXTRACT, ["--date", DAY, "--backoff", "30"], env, tmp_path)

    assert_clean_failure(result, EXTRACT, DAY, "CERTIFICATE_VERIFY_FAILED", code=3)
    assert "gave up after" not in result.stderr
    assert not (base / "raw" / "sales" / DAY).exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param("ftp://127.0.0.1/sales", "must be an http:// or https:// URL", id="ftp"),
        pytest.param("file:///etc/passwd", "must be an http:// or https:// URL", id="file"),
        pytest.param("localhost:8080", "must be an http:// or https:// URL", id="no-scheme-host-port"),
        pytest.param("127.0.0.1:8080/sales", "must be an http:// or https:// URL", id="no-scheme-ip-port"),
        pytest.param("//127.0.0.1:8080/sales", "must be an http:// or https:// URL", id="scheme-relative"),
        pytest.param("http:///sales", "must be an http:// or https:// URL", id="no-host"),
        pytest.param("http://127.0.0.1:99999/sales", "is not a valid URL", id="port-out-of-range"),
        pytest.param("   ", "SALES_API_URL is not set", id="blank"),
    ],
)
def test_the_api_url_must_be_http_or_https(tmp_path: Path, url: str, message: str) -> None:
    env = {"SALES_API_URL": url, "AUTH_TOKEN": SECRET, "BASE_DIR": str(tmp_path / "data")}

    result = run_job(EXTRACT, ["--date", DAY], env, tmp_path)

    assert result.code == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.error_lines(EXTRACT)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("extract_job: error: ")
    assert message in lines[0]
    assert list(tmp_path.iterdir()) == []


# --- the object store's credentials ---------------------------------------------------------------------------

WRONG_AWS_SECRET = "wrong-aws-5ecret-RELIABILITY-3c1e"
AWS_SESSION_SECRET = "aws-session-5ecret-token-RELIABILITY-8b2d"


def test_the_store_credentials_appear_in_no_object_log_line_or_message(
    seaweedfs: SeaweedFS, sales_api: Callable[..., RunningSimulator], tmp_path: Path
) -> None:
    sim = sales_api(pages=3, records_per_page=20, invalid_rate=0.05)
    bucket = seaweedfs.new_bucket()
    env = {**extract_env(sim, tmp_path), **seaweedfs.env(f"s3://{bucket}/lake")}
    debug = ("--date", DAY, "--log-level", "DEBUG")
    runs: dict[str, Result] = {}
    for fmt in ("text", "json"):
        runs[f"extract-{fmt}"] = run_job(EXTRACT, [*debug, "--log-format", fmt], env, tmp_path)
        assert_success(runs[f"extract-{fmt}"])
        convert = [*debug, "--log-format", fmt, "--force", "--max-invalid-ratio", "0.2"]
        runs[f"convert-{fmt}"] = run_job(CONVERT, convert, env, tmp_path)
        assert_success(runs[f"convert-{fmt}"])
    runs["wrong-secret"] = run_job(EXTRACT, debug, {**env, "AWS_SECRET_ACCESS_KEY": WRONG_AWS_SECRET}, tmp_path)
    assert_clean_failure(runs["wrong-secret"], EXTRACT, "the secret key is wrong", code=3)
    dead = {**env, "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "STORAGE_MAX_ATTEMPTS": "1"}
    runs["session-token"] = run_job(EXTRACT, debug, {**dead, "AWS_SESSION_TOKEN": AWS_SESSION_SECRET}, tmp_path)
    assert_clean_failure(runs["session-token"], EXTRACT, "cannot reach the store", code=1)
    (tmp_path / "store.env").write_text(f"AWS_SECRET_ACCESS_KEY={seaweedfs.secret_key}\n")
    from_file = {name: value for name, value in env.items() if name != "AWS_SECRET_ACCESS_KEY"}
    from_file["ENV_FILE"] = str(tmp_path / "store.env")
    runs["secret-from-env-file"] = run_job(
        CONVERT, [*debug, "--force", "--max-invalid-ratio", "0.2"], from_file, tmp_path
    )
    assert_success(runs["secret-from-env-file"])

    for name, result in runs.items():
        for secret in (seaweedfs.secret_key, WRONG_AWS_SECRET, AWS_SESSION_SECRET):
            assert secret not in result.stdout + result.stderr, f"{name} printed a store secret:\n{result.stderr}"
    stored = objects(seaweedfs, bucket)
    assert any(key.endswith("/_SUCCESS") for key in stored)
    for key, content in stored.items():
        for secret in (seaweedfs.secret_key, WRONG_AWS_SECRET, AWS_SESSION_SECRET):
            assert secret.encode() not in content, f"{key} holds a store secret"
