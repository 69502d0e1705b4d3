"""What the Airflow tests share: the Airflow environment, the project's images, and a Docker stack to run them on.

* ``airflow_python``: ``orchestration/airflow/setup-env`` makes ``.venv-airflow`` (a no-op once installed).
* ``images``: the job images and the simulator built by compose under a tag of their own.
* ``stack``: a Docker network with the simulator on it and a named data volume.
* ``store``: SeaweedFS (the object-store image) on that network, with a bucket, its S3 API
  also published on a free 127.0.0.1 port for the test's own reads.

Skipped without a Docker engine unless ``REQUIRE_DOCKER=1``, where that fails.
Everything created here (containers, network, volume, image tags) is removed after.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SETUP_ENV = ROOT / "orchestration" / "airflow" / "setup-env"
DAGS = ROOT / "orchestration" / "airflow" / "dags"
VENV = ROOT / ".venv-airflow"

SETUP_TIMEOUT = 1800  # a cold install downloads ~140 packages
BUILD_TIMEOUT = 900
QUICK_TIMEOUT = 60

IMAGES = ("extract", "convert", "sales-api", "object-store")

# A small, fixed day of sales: two pages of 50 valid records.
PAGES = 2
RECORDS_PER_PAGE = 50
SIMULATOR = {
    "SIM_PAGES": str(PAGES),
    "SIM_RECORDS_PER_PAGE": str(RECORDS_PER_PAGE),
    "SIM_INVALID_RATE": "0",
    "SIM_SEED": "7",
}


def run(command: list[str], timeout: float, **options: object) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, **options)  # type: ignore[call-overload]


def describe(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout[-20000:]}\n--- stderr\n{result.stderr[-20000:]}"


def docker(*args: str, timeout: float = QUICK_TIMEOUT) -> subprocess.CompletedProcess:
    return run(["docker", *args], timeout)


def without_airflow_settings(extra: Mapping[str, str] = {}) -> dict[str, str]:
    """This process's environment without Airflow, compose, pipeline or AWS settings, plus ``extra``."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AIRFLOW", "COMPOSE_", "SIM_", "AWS_")) and name not in ("TAG", "AUTH_TOKEN", "DATE")
    }
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def docker_ready() -> None:
    try:
        result = docker("info", "--format", "{{.ServerVersion}}")
        problem = None if result.returncode == 0 else (result.stderr or result.stdout).strip()[:300]
    except FileNotFoundError:
        problem = "the docker CLI is not installed"
    except subprocess.TimeoutExpired:
        problem = f"`docker info` did not answer within {QUICK_TIMEOUT}s"
    if problem is None:
        return
    if os.environ.get("REQUIRE_DOCKER") == "1":
        pytest.fail(f"REQUIRE_DOCKER=1 but Docker is unusable: {problem}", pytrace=False)
    pytest.skip(f"the Airflow DAG tests need Docker ({problem}); set REQUIRE_DOCKER=1 to make this an error")


@pytest.fixture(scope="module")
def airflow_python(docker_ready: None) -> Path:
    """The interpreter of .venv-airflow, installed by setup-env (a no-op when already there)."""
    started = time.monotonic()
    result = run([str(SETUP_ENV)], SETUP_TIMEOUT, cwd=ROOT, env=without_airflow_settings())
    assert result.returncode == 0, describe(result)
    print(f"[{time.monotonic() - started:.0f}s] {result.stderr.strip().splitlines()[-1]}")
    return VENV / "bin" / "python"


@pytest.fixture(scope="module")
def unique() -> str:
    return f"salespipe-airflow-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def images(docker_ready: None, unique: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The job, simulator and object-store images built by compose under a tag of their own; removed after."""
    tag = unique.removeprefix("salespipe-")
    empty_env_file = tmp_path_factory.mktemp("compose") / "empty.env"
    empty_env_file.write_text("", encoding="utf-8")
    files = ("docker-compose.yml", "docker-compose.override.yml", "docker-compose.s3.yml")
    result = run(
        [
            "docker",
            "compose",
            *(arg for name in files for arg in ("-f", name)),
            "-p",
            unique,
            "--env-file",
            str(empty_env_file),
            "build",
            *IMAGES,
        ],
        BUILD_TIMEOUT,
        cwd=ROOT,
        env=without_airflow_settings({"TAG": tag}),
    )
    assert result.returncode == 0, describe(result)
    references = {service: f"sales-pipeline/{service}:{tag}" for service in IMAGES}
    yield references
    docker("image", "rm", *references.values())


@dataclass(frozen=True)
class Stack:
    """What one DAG run needs from Docker: a network with the simulator on it, and a data volume."""

    network: str
    volume: str
    api_url: str
    token: str
    images: dict[str, str]


@pytest.fixture(scope="module")
def stack(images: dict[str, str], unique: str) -> Iterator[Stack]:
    network, volume, simulator = f"{unique}-net", f"{unique}-data", f"{unique}-sales-api"
    token = f"airflow-test-token-{uuid.uuid4().hex}"
    try:
        for command in (["network", "create", network], ["volume", "create", volume]):
            result = docker(*command)
            assert result.returncode == 0, describe(result)
        sim_env = [
            arg
            for name, value in {**SIMULATOR, "SIM_HOST": "0.0.0.0", "SIM_TOKEN": token}.items()
            for arg in ("--env", f"{name}={value}")
        ]
        result = docker("run", "--detach", "--network", network, "--name", simulator, *sim_env, images["sales-api"])
        assert result.returncode == 0, describe(result)
        wait_for_health(simulator)
        yield Stack(network, volume, f"http://{simulator}:8081/sales", token, images)
    finally:
        # Job containers are removed by the operator; a run cut short could leave one behind.
        leftovers = {
            container
            for selector in (f"network={network}", f"volume={volume}")
            for container in docker("ps", "--all", "--quiet", "--filter", selector).stdout.split()
        }
        docker("rm", "--force", simulator, *leftovers)
        docker("volume", "rm", "--force", volume)
        docker("network", "rm", network)


def wait_for_health(container: str, seconds: float = 30) -> None:
    probe = "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8081/health', timeout=2)"
    deadline = time.monotonic() + seconds
    while True:
        result = docker("exec", container, "python", "-c", probe)
        if result.returncode == 0:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"the simulator did not answer /health within {seconds:g}s:\n{docker('logs', container)}")
        time.sleep(0.5)


def partitions(stack: Stack, logical_date: str) -> dict[str, list[str]]:
    """Zone -> file names of that date's partition in the data volume (missing zones are left out)."""
    script = (
        "import json, os, sys; d = sys.argv[1]; "
        "print(json.dumps({z: sorted(os.listdir(f'/data/{z}/sales/{d}')) "
        "for z in ('raw', 'stg') if os.path.isdir(f'/data/{z}/sales/{d}')}))"
    )
    result = docker(
        "run",
        "--rm",
        "--network",
        "none",
        "--volume",
        f"{stack.volume}:/data:ro",
        "--entrypoint",
        "python",
        stack.images["convert"],
        "-c",
        script,
        logical_date,
    )
    assert result.returncode == 0, describe(result)
    return json.loads(result.stdout)


def wait_until_healthy(container: str, seconds: float = 120) -> None:
    """Poll the container's own HEALTHCHECK until Docker reports it healthy."""
    deadline = time.monotonic() + seconds
    while docker("inspect", "--format", "{{.State.Health.Status}}", container).stdout.strip() != "healthy":
        if time.monotonic() > deadline:
            pytest.fail(f"{container} was not healthy within {seconds:g}s:\n{docker('logs', container)}")
        time.sleep(0.5)


@dataclass(frozen=True)
class Store:
    """An S3-compatible store on the stack's network: the jobs reach it by name, the test on 127.0.0.1."""

    container: str
    bucket: str
    key_id: str
    secret: str
    published: str

    @property
    def base_dir(self) -> str:
        return f"s3://{self.bucket}/pipeline"

    def connection(self) -> str:
        """``AIRFLOW_CONN_SALES_STORE``: the ``aws`` connection the DAG reads the store from."""
        extra = {"endpoint_url": f"http://{self.container}:8333", "region_name": "us-east-1"}
        return json.dumps({"conn_type": "aws", "login": self.key_id, "password": self.secret, "extra": extra})

    def env(self) -> dict[str, str]:
        """The AWS_* variables for the test's own reads, through the published port."""
        return {
            "AWS_ENDPOINT_URL": self.published,
            "AWS_ACCESS_KEY_ID": self.key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret,
            "AWS_REGION": "us-east-1",
        }


@pytest.fixture(scope="module")
def store(stack: Stack, unique: str) -> Iterator[Store]:
    container, bucket = f"{unique}-store", "airflow-lake"
    key_id, secret = f"key-{uuid.uuid4().hex[:8]}", f"store-secret-{uuid.uuid4().hex}"
    # The credentials go by name (-e NAME): their values come from the environment, never the command line.
    credentials = {"AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret}
    try:
        options = ["--network", stack.network, "--name", container, "--publish", "127.0.0.1::8333"]
        options += ["--env", "AWS_ACCESS_KEY_ID", "--env", "AWS_SECRET_ACCESS_KEY"]
        options += ["--read-only", "--tmpfs", "/tmp", "--volume", "/data"]  # an anonymous volume, removed with it
        result = run(
            ["docker", "run", "--detach", *options, stack.images["object-store"]],
            QUICK_TIMEOUT,
            env={**os.environ, **credentials},
        )
        assert result.returncode == 0, describe(result)
        wait_until_healthy(container)
        result = docker(
            "exec",
            container,
            "python",
            "/usr/local/lib/object-store/object_store.py",
            "create-bucket",
            bucket,
            "--master",
            "127.0.0.1:9333",
            timeout=180,
        )
        assert result.returncode == 0, describe(result)
        port = docker("port", container, "8333").stdout.strip().splitlines()[0].rsplit(":", 1)[1]
        yield Store(container, bucket, key_id, secret, f"http://127.0.0.1:{port}")
    finally:
        docker("rm", "--force", "--volumes", container)
