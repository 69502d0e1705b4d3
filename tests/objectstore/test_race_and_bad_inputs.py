"""Two runs of a date at once on the store: exactly one commits. Bad inputs: one clear line, the right exit code."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sales_api_sim import data
from shared.testhook import PAUSE_DIR_ENV, PAUSE_ENV
from tests.reliability.support import (
    CONVERT,
    DAY,
    EXTRACT,
    assert_clean_failure,
    assert_success,
    extract_env,
    job_command,
    job_env,
    run_job,
    start_job,
)
from tests.support.jobs import PAUSE_TIMEOUT

from .seaweed import SeaweedFS, free_port
from .support import objects, reader, unreferenced

RAW = f"lake/raw/sales/{DAY}"


def test_two_extracts_of_a_date_started_together_exactly_one_commits(
    seaweedfs: SeaweedFS, simulator: Callable[..., Any], tmp_path: Path
) -> None:
    sim = simulator(pages=6, records_per_page=40)
    bucket = seaweedfs.new_bucket()
    pause = Path(tempfile.mkdtemp(prefix="pause-", dir=tmp_path))
    env = {
        **extract_env(sim, tmp_path),
        **seaweedfs.env(f"s3://{bucket}/lake"),
        PAUSE_ENV: "partition.synced",  # both hold just before the conditional put of _SUCCESS
        PAUSE_DIR_ENV: str(pause),
    }
    logs = [(tmp_path / f"run{n}.err").open("wb") for n in (1, 2)]
    runs = [start_job(EXTRACT, ["--date", DAY], env, tmp_path, stderr=log) for log in logs]
    deadline = time.monotonic() + PAUSE_TIMEOUT
    while len(list(pause.iterdir())) < 2:
        assert all(run.poll() is None for run in runs), "a run ended before reaching its commit"
        assert time.monotonic() < deadline, "the runs did not both reach their commit"
        time.sleep(0.01)  # polling for the marker files, not waiting for a guessed duration
    for marker in pause.iterdir():
        marker.unlink()  # both go on at once
    codes = sorted(run.wait(timeout=120) for run in runs)
    for log in logs:
        log.close()

    assert codes == [0, 1]
    loser = next(p.read_text() for p in (tmp_path / "run1.err", tmp_path / "run2.err") if "1 failed" in p.read_text())
    assert "another run committed this partition" in loser and "Traceback" not in loser
    manifest = reader(seaweedfs, bucket, RAW).verify()
    pages = [reader(seaweedfs, bucket, RAW).read(entry["name"]) for entry in manifest["files"]]
    assert pages == [data.render_page(sim.config, DAY, n) for n in range(1, data.pages_for_date(sim.config, DAY) + 1)]
    assert unreferenced(seaweedfs, bucket, RAW) == [], "the loser left objects behind"


def test_a_wrong_secret_is_exit_3_naming_the_bucket(
    seaweedfs: SeaweedFS, simulator: Callable[..., Any], tmp_path: Path
) -> None:
    bucket = seaweedfs.new_bucket()
    wrong = "wrong-secret-key-7e1f0a"
    env = {**extract_env(simulator(pages=1), tmp_path), **seaweedfs.env(f"s3://{bucket}/lake")}

    for tool in (EXTRACT, CONVERT):
        result = run_job(tool, ["--date", DAY], {**env, "AWS_SECRET_ACCESS_KEY": wrong}, tmp_path)
        assert_clean_failure(result, tool, f"s3://{bucket}/lake", "the secret key is wrong", code=3)
        assert wrong not in result.stderr
    assert objects(seaweedfs, bucket) == {}


def test_an_unknown_bucket_is_exit_3(seaweedfs: SeaweedFS, simulator: Callable[..., Any], tmp_path: Path) -> None:
    env = {**extract_env(simulator(pages=1), tmp_path), **seaweedfs.env("s3://no-such-bucket-here/lake")}
    for tool in (EXTRACT, CONVERT):
        result = run_job(tool, ["--date", DAY], env, tmp_path)
        assert_clean_failure(result, tool, "s3://no-such-bucket-here/lake", "the bucket does not exist", code=3)


@contextlib.contextmanager
def failing_store() -> Iterator[tuple[str, list[str]]]:
    """An endpoint on 127.0.0.1 that answers every request 503; yields its URL and the requests it saw."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _fail(self) -> None:
            seen.append(f"{self.command} {self.path}")
            body = b"<Error><Code>ServiceUnavailable</Code><Message>down for the test</Message></Error>"
            self.send_response(503)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _fail

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_failing_store_is_retried_then_exit_1(simulator: Callable[..., Any], tmp_path: Path) -> None:
    pytest.importorskip("boto3")
    with failing_store() as (endpoint, seen):
        env = {
            **extract_env(simulator(pages=1), tmp_path),
            "BASE_DIR": "s3://lake/x",
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "test-key-id",
            "AWS_SECRET_ACCESS_KEY": "test-secret-key-4411",
            "STORAGE_MAX_ATTEMPTS": "3",
        }
        result = run_job(EXTRACT, ["--date", DAY], env, tmp_path)
    assert_clean_failure(result, EXTRACT, "s3://lake/x", "the store is failing or throttling", code=1)
    assert len(seen) == 3, seen  # the one listing, tried 3 times


def test_an_endpoint_that_is_down_is_exit_1(simulator: Callable[..., Any], tmp_path: Path) -> None:
    pytest.importorskip("boto3")
    port = free_port(set())  # nothing listens there
    env = {
        **extract_env(simulator(pages=1), tmp_path),
        "BASE_DIR": "s3://lake/x",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "test-key-id",
        "AWS_SECRET_ACCESS_KEY": "test-secret-key-4411",
        "STORAGE_MAX_ATTEMPTS": "2",
    }
    for tool in (EXTRACT, CONVERT):
        result = run_job(tool, ["--date", DAY], env, tmp_path)
        assert_clean_failure(result, tool, "cannot reach the store at", code=1)


def test_a_manifest_listing_a_missing_object_is_refused(
    seaweedfs: SeaweedFS, simulator: Callable[..., Any], tmp_path: Path
) -> None:
    bucket = seaweedfs.new_bucket()
    env = {**extract_env(simulator(pages=3), tmp_path), **seaweedfs.env(f"s3://{bucket}/lake")}
    assert_success(run_job(EXTRACT, ["--date", DAY], env, tmp_path))
    listed = reader(seaweedfs, bucket, RAW).read_manifest()["files"][1]["name"]
    seaweedfs.client().delete_object(Bucket=bucket, Key=f"{RAW}/{listed}")

    result = run_job(CONVERT, ["--date", DAY], env, tmp_path)

    assert_clean_failure(result, CONVERT, f"s3://{bucket}/{RAW}", f"missing {listed}", code=3)
    assert not any(key.startswith("lake/stg/") for key in objects(seaweedfs, bucket))


def test_a_process_environment_without_the_store_variables_uses_those_in_env_file(
    seaweedfs: SeaweedFS, simulator: Callable[..., Any], tmp_path: Path
) -> None:
    bucket = seaweedfs.new_bucket()
    settings = {**extract_env(simulator(pages=2), tmp_path), **seaweedfs.env(f"s3://{bucket}/lake")}
    (tmp_path / ".env").write_text("".join(f"{name}={value}\n" for name, value in settings.items()))

    done = subprocess.run(
        job_command(EXTRACT, ["--date", DAY]),
        env=job_env({}),  # no pipeline or AWS variable in the process environment: all come from .env
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert reader(seaweedfs, bucket, RAW).verify()["pages"] == 2


def test_a_partition_of_another_date_is_refused_on_the_store(
    seaweedfs: SeaweedFS, simulator: Callable[..., Any], tmp_path: Path
) -> None:
    """The local rules hold on the store: the date check is the storage seam's, written once for both."""
    other = "2022-08-01"
    sim = simulator(pages=2, records_per_page=5)
    bucket = seaweedfs.new_bucket()
    env = {**extract_env(sim, tmp_path), **seaweedfs.env(f"s3://{bucket}/lake")}
    side = f"s3://{bucket}/side"
    assert_success(run_job(EXTRACT, ["--date", other, "--raw-dir", side], env, tmp_path))
    requests, stored = sim.stats.requests_total, objects(seaweedfs, bucket)

    for raw_dir, needle in [
        (side, f"{side}, whose manifest says {other}"),
        (f"s3://{bucket}/lake/raw/sales/{other}", f"whose name is the date {other}"),
    ]:
        result = run_job(EXTRACT, ["--date", DAY, "--raw-dir", raw_dir], env, tmp_path)
        assert_clean_failure(result, EXTRACT, f"--date {DAY} disagrees with", needle, code=2)
    assert (sim.stats.requests_total, objects(seaweedfs, bucket)) == (requests, stored)

    client = seaweedfs.client()
    for key in stored:  # the other date's partition, misplaced at DAY's place
        client.copy_object(Bucket=bucket, Key=f"{RAW}/{key.removeprefix('side/')}", CopySource=f"{bucket}/{key}")
    result = run_job(CONVERT, ["--date", DAY], env, tmp_path)
    assert_clean_failure(result, CONVERT, f"the date {DAY} disagrees with s3://{bucket}/{RAW}", f"says {other}", code=3)
    assert not any(key.startswith("lake/stg/") for key in objects(seaweedfs, bucket))

    again = run_job(EXTRACT, ["--date", DAY, "--missing-only"], env, tmp_path)
    assert_success(again)
    assert "1 done, 0 skipped" in again.stderr
    assert reader(seaweedfs, bucket, RAW).verify()["date"] == DAY
