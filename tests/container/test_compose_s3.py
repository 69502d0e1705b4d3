"""docker-compose.s3.yml: the object-store service, its bucket step, and the pipeline on object storage.

Each test runs its own compose project with the three compose files of the README's
object-storage section, the store's S3 API published on a free 127.0.0.1 port, through
which the test reads the zones back.
"""

from __future__ import annotations

import io
import json
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import date

import fastavro
import pytest

from .conftest import (
    BUILD_TIMEOUT,
    QUICK_TIMEOUT,
    ROOT,
    SIM_SETTINGS,
    TEST_DATE,
    UP_TIMEOUT,
    Compose,
    assert_up_fails_when_convert_fails,
    clean_environment,
    describe,
    exit_codes,
)
from .store_zones import read_partition

pytestmark = pytest.mark.container

COMPOSE_FILE = "docker-compose.yml:docker-compose.override.yml:docker-compose.s3.yml"
BUCKET = "test-lake"


@pytest.fixture(scope="session")
def object_store_image(images: dict[str, str], tag: str, empty_env_file) -> Iterator[str]:
    """The object-store image under the session's tag (the job images come from the shared fixture)."""
    builder = Compose(f"salespipe-test-build-{tag}", clean_environment({"TAG": tag}), empty_env_file)
    result = builder(
        "-f", "docker-compose.yml", "-f", "docker-compose.s3.yml", "build", "object-store", timeout=BUILD_TIMEOUT
    )
    assert result.returncode == 0, describe(result)
    reference = f"sales-pipeline/object-store:{tag}"
    yield reference
    subprocess.run(["docker", "image", "rm", reference], capture_output=True, timeout=QUICK_TIMEOUT)


@pytest.fixture
def s3_project_factory(project_factory, object_store_image: str) -> Callable[..., Compose]:
    """Projects on the three compose files, with credentials of their own and a free port for the S3 API."""

    def make(**settings: str) -> Compose:
        return project_factory(
            COMPOSE_FILE=COMPOSE_FILE,
            OBJECT_STORE_PORT="",
            OBJECT_STORE_BUCKET=BUCKET,
            OBJECT_STORE_ACCESS_KEY_ID=f"key-{uuid.uuid4().hex[:8]}",
            OBJECT_STORE_SECRET_ACCESS_KEY=f"secret-{uuid.uuid4().hex}",
            **settings,
        )

    return make


@pytest.fixture
def s3_project(s3_project_factory: Callable[..., Compose]) -> Compose:
    return s3_project_factory()


def s3_endpoint(compose: Compose) -> str:
    result = compose("port", "object-store", "8333", timeout=QUICK_TIMEOUT)
    assert result.returncode == 0, describe(result, compose)
    host, port = result.stdout.strip().rsplit(":", 1)
    assert host == "127.0.0.1", f"the S3 API must be published on 127.0.0.1 only, got {result.stdout!r}"
    return f"http://127.0.0.1:{port}"


def buckets(compose: Compose) -> list[str]:
    """Bucket names, as weed shell lists them inside the store's container."""
    command = ["docker", "compose", "-p", compose.project, "--env-file", str(compose.env_file)]
    result = subprocess.run(
        [*command, "exec", "-T", "object-store", "weed", "shell", "-master=127.0.0.1:9333"],
        input="s3.bucket.list\n",
        capture_output=True,
        text=True,
        timeout=QUICK_TIMEOUT,
        env=compose.env,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    return sorted(line.split()[0] for line in result.stdout.splitlines() if "size:" in line)


def test_the_store_starts_healthy_creates_its_bucket_and_refuses_unsigned_requests(s3_project: Compose) -> None:
    result = s3_project("up", "--no-build", "--detach", "--wait", "object-store", timeout=UP_TIMEOUT)
    assert result.returncode == 0, describe(result, s3_project)
    result = s3_project("run", "--rm", "--no-deps", "object-store-bucket", timeout=UP_TIMEOUT)
    assert result.returncode == 0, describe(result, s3_project)
    # Running it again (the bucket exists now) is fine too: `up` may be run any number of times.
    again = s3_project("run", "--rm", "--no-deps", "object-store-bucket", timeout=UP_TIMEOUT)
    assert again.returncode == 0, describe(again, s3_project)

    assert buckets(s3_project) == [BUCKET]
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{s3_endpoint(s3_project)}/{BUCKET}", timeout=QUICK_TIMEOUT)
    assert refused.value.code == 403
    assert s3_project.env["OBJECT_STORE_SECRET_ACCESS_KEY"] not in s3_project.logs()


def store_env(compose: Compose) -> dict[str, str]:
    """The AWS_* variables that reach this project's store from the test, through its published port."""
    return {
        "AWS_ENDPOINT_URL": s3_endpoint(compose),
        "AWS_ACCESS_KEY_ID": compose.env["OBJECT_STORE_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": compose.env["OBJECT_STORE_SECRET_ACCESS_KEY"],
        "AWS_REGION": "us-east-1",
    }


def test_up_runs_the_pipeline_on_the_store_with_no_data_volume(s3_project: Compose) -> None:
    result = s3_project("up", "--no-build", timeout=UP_TIMEOUT)

    assert result.returncode == 0, describe(result, s3_project)
    states = exit_codes(s3_project)
    for job in ("object-store-bucket", "extract", "convert", "pipeline-done"):
        assert states[job] == ("exited", 0), describe(result, s3_project)
    # Neither job had a volume: the store was all they shared.
    for job in ("extract", "convert"):
        mounts = subprocess.run(
            ["docker", "inspect", "--format", "{{json .Mounts}}", s3_project.containers()[job]["Name"]],
            capture_output=True,
            text=True,
            timeout=QUICK_TIMEOUT,
        )
        assert json.loads(mounts.stdout) == [], mounts.stdout

    base_dir = f"s3://{BUCKET}/pipeline"
    env = store_env(s3_project)
    raw = read_partition(env, base_dir, "raw", TEST_DATE)
    served = [
        {**record, "purchase_date": date.fromisoformat(record["purchase_date"])}
        for data in raw.values()
        for record in json.loads(data)
    ]
    pages, per_page = int(SIM_SETTINGS["SIM_PAGES"]), int(SIM_SETTINGS["SIM_RECORDS_PER_PAGE"])
    assert len(raw) == pages
    assert len(served) == pages * per_page
    [(avro_name, avro_bytes)] = read_partition(env, base_dir, "stg", TEST_DATE).items()
    assert avro_name.endswith(f"sales_{TEST_DATE}.avro")
    assert list(fastavro.reader(io.BytesIO(avro_bytes))) == served
    # The secret reached the store and the jobs through their environment, and no log shows it.
    assert env["AWS_SECRET_ACCESS_KEY"] not in s3_project.logs()


def test_up_on_the_store_exits_non_zero_when_convert_fails(s3_project_factory: Callable[..., Compose]) -> None:
    assert_up_fails_when_convert_fails(s3_project_factory(SIM_INVALID_RATE="0.5"))
