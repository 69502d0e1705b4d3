"""The sales_pipeline DAG for real: Airflow from .venv-airflow, the project's images, a simulator in Docker.

Runs from the jobs' environment (no Airflow needed there):

1. ``orchestration/airflow/setup-env`` makes ``.venv-airflow`` (a no-op once installed);
2. ``test_dag_import.py`` runs inside it, so the DAG's import test runs in CI too;
3. ``airflow dags test sales_pipeline <date>`` runs whole DAG runs against a Docker
   network, a named volume and a simulator of their own, with an Airflow home
   (SQLite) in a temporary folder; settings and the token come in as
   ``AIRFLOW_VAR_*`` / ``AIRFLOW_CONN_*`` environment variables.

Skipped without a Docker engine unless ``REQUIRE_DOCKER=1``, where that fails.
Everything it creates (containers, network, volume, image tags) is removed after.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = [pytest.mark.airflow, pytest.mark.container]

ROOT = Path(__file__).resolve().parents[2]
SETUP_ENV = ROOT / "orchestration" / "airflow" / "setup-env"
DAGS = ROOT / "orchestration" / "airflow" / "dags"
VENV = ROOT / ".venv-airflow"

SETUP_TIMEOUT = 1800  # a cold install downloads ~140 packages
BUILD_TIMEOUT = 900
DAG_TEST_TIMEOUT = 300
QUICK_TIMEOUT = 60

# A small, fixed day of sales: two pages of 50 valid records.
SIMULATOR = {"SIM_PAGES": "2", "SIM_RECORDS_PER_PAGE": "50", "SIM_INVALID_RATE": "0", "SIM_SEED": "7"}
PAGES = 2


def run(command: list[str], timeout: float, **options: object) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, **options)  # type: ignore[call-overload]


def describe(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout[-20000:]}\n--- stderr\n{result.stderr[-20000:]}"


def docker(*args: str, timeout: float = QUICK_TIMEOUT) -> subprocess.CompletedProcess:
    return run(["docker", *args], timeout)


def without_airflow_settings(extra: Mapping[str, str] = {}) -> dict[str, str]:
    """This process's environment without Airflow, compose or pipeline settings, plus ``extra``."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AIRFLOW", "COMPOSE_", "SIM_")) and name not in ("TAG", "AUTH_TOKEN", "DATE")
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
    """The three images built by compose under a tag of their own (cached layers make it quick); removed after."""
    tag = unique.removeprefix("salespipe-")
    empty_env_file = tmp_path_factory.mktemp("compose") / "empty.env"
    empty_env_file.write_text("", encoding="utf-8")
    result = run(
        [
            "docker",
            "compose",
            "-f",
            "docker-compose.yml",
            "-f",
            "docker-compose.override.yml",
            "-p",
            unique,
            "--env-file",
            str(empty_env_file),
            "build",
            "extract",
            "convert",
            "sales-api",
        ],
        BUILD_TIMEOUT,
        cwd=ROOT,
        env=without_airflow_settings({"TAG": tag}),
    )
    assert result.returncode == 0, describe(result)
    references = {service: f"sales-pipeline/{service}:{tag}" for service in ("extract", "convert", "sales-api")}
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


@dataclass(frozen=True)
class Airflow:
    """``airflow`` commands against one Airflow home (SQLite), with the DAG folder of this repository."""

    python: Path
    home: Path

    def env(self, extra: Mapping[str, str] = {}) -> dict[str, str]:
        return without_airflow_settings(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                **extra,
            }
        )

    def __call__(self, *args: str, env: Mapping[str, str] = {}, timeout: float = DAG_TEST_TIMEOUT):
        return run([str(self.python.parent / "airflow"), *args], timeout, cwd=ROOT, env=self.env(env))

    def task_states(self, logical_date: str) -> dict[str, tuple[str | None, int]]:
        """task id -> (state, try number) of the DAG run for ``logical_date``, read from the metadata DB."""
        with sqlite3.connect(self.home / "airflow.db") as db:
            rows = db.execute(
                "SELECT ti.task_id, ti.state, ti.try_number FROM task_instance ti JOIN dag_run dr"
                " ON ti.dag_id = dr.dag_id AND ti.run_id = dr.run_id"
                " WHERE dr.dag_id = 'sales_pipeline' AND dr.logical_date LIKE ?",
                (f"{logical_date}%",),
            ).fetchall()
        return {task_id: (state, tries) for task_id, state, tries in rows}


@pytest.fixture(scope="module")
def airflow(airflow_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Airflow:
    """A fresh Airflow home with its database migrated and the API pool created, as the README says."""
    airflow = Airflow(airflow_python, tmp_path_factory.mktemp("airflow-home"))
    for command in (["db", "migrate"], ["pools", "set", "sales_api", "2", "Sales API: extract tasks at once"]):
        result = airflow(*command)
        assert result.returncode == 0, describe(result)
    return airflow


def dag_test(
    airflow: Airflow, stack: Stack, logical_date: str, token: str | None = None, **variables: str
) -> subprocess.CompletedProcess:
    """``airflow dags test sales_pipeline <date>`` pointed at ``stack``.

    ``token`` replaces the simulator's token in the connection; ``variables`` override Variables.
    """
    settings = {
        "sales_extract_image": stack.images["extract"],
        "sales_convert_image": stack.images["convert"],
        "sales_api_url": stack.api_url,
        "sales_docker_network": stack.network,
        "sales_data_volume": stack.volume,
        "sales_retries": "0",
        "sales_retry_delay_seconds": "1",
        **variables,
    }
    env = {f"AIRFLOW_VAR_{name.upper()}": value for name, value in settings.items()}
    env["AIRFLOW_CONN_SALES_API"] = json.dumps({"conn_type": "http", "password": token or stack.token})
    started = time.monotonic()
    result = airflow("dags", "test", "sales_pipeline", logical_date, env=env)
    print(
        f"airflow dags test sales_pipeline {logical_date}: exit {result.returncode} "
        f"in {time.monotonic() - started:.1f}s"
    )
    return result


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


def test_the_dag_import_test_passes_inside_the_airflow_environment(airflow: Airflow) -> None:
    result = run(
        # --noconftest: the repository's conftest files belong to the jobs' environment, not this one.
        [
            str(airflow.python),
            "-m",
            "pytest",
            "tests/orchestration/test_dag_import.py",
            "-q",
            "-p",
            "no:cacheprovider",
            "--noconftest",
        ],
        DAG_TEST_TIMEOUT,
        cwd=ROOT,
        env=airflow.env(),
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, describe(result)
    assert re.fullmatch(r"\d+ passed(, \d+ warnings?)? in [\d.]+s", summary), f"expected only passes, got {summary!r}"


def test_a_dag_run_extracts_then_converts_its_logical_date(airflow: Airflow, stack: Stack) -> None:
    result = dag_test(airflow, stack, "2022-08-09")

    assert result.returncode == 0, describe(result)
    assert airflow.task_states("2022-08-09") == {"extract": ("success", 1), "convert": ("success", 1)}
    assert partitions(stack, "2022-08-09") == {
        "raw": ["_SUCCESS", *(f"sales_2022-08-09_{page}.json" for page in range(1, PAGES + 1))],
        "stg": ["_SUCCESS", "sales_2022-08-09.avro"],
    }
    assert stack.token not in result.stdout + result.stderr


def test_a_wrong_token_fails_extract_at_once_and_convert_never_runs(airflow: Airflow, stack: Stack) -> None:
    # The API's 401 is permanent: exit 3, no retry though one is allowed.
    result = dag_test(airflow, stack, "2022-08-10", token="not-the-token", sales_retries="1")

    assert result.returncode != 0, describe(result)
    assert airflow.task_states("2022-08-10") == {"extract": ("failed", 1), "convert": ("upstream_failed", 0)}
    assert "the API rejected the token (401)" in result.stdout + result.stderr
    assert "not retrying" in result.stdout + result.stderr
    assert partitions(stack, "2022-08-10") == {}


def test_an_unreachable_api_fails_extract_after_its_retries(airflow: Airflow, stack: Stack) -> None:
    # Nothing listens on port 9 of the API's container: connection refused, exit 1, which Airflow retries
    # (retries=1 here, 1 s apart).
    unreachable = stack.api_url.replace(":8081/", ":9/")
    result = dag_test(airflow, stack, "2022-08-12", sales_api_url=unreachable, sales_retries="1")

    assert result.returncode != 0, describe(result)
    assert airflow.task_states("2022-08-12") == {"extract": ("failed", 2), "convert": ("upstream_failed", 0)}
    assert "Connection refused" in result.stdout + result.stderr
    assert partitions(stack, "2022-08-12") == {}


def test_a_configuration_error_fails_extract_at_once_despite_retries(airflow: Airflow, stack: Stack) -> None:
    # A URL the job refuses is a configuration error: exit 2, no retry though two are allowed.
    result = dag_test(airflow, stack, "2022-08-11", sales_api_url="ftp://sales-api/sales", sales_retries="2")

    assert result.returncode != 0, describe(result)
    assert airflow.task_states("2022-08-11") == {"extract": ("failed", 1), "convert": ("upstream_failed", 0)}
    assert "not retrying" in result.stdout + result.stderr
    assert partitions(stack, "2022-08-11") == {}


def test_the_documented_backfill_plans_one_run_per_day_of_the_range(airflow: Airflow) -> None:
    # Only planned (--dry-run): running a backfill needs Airflow's scheduler, which this test does not start.
    backfill = [
        "backfill",
        "create",
        "--dag-id",
        "sales_pipeline",
        "--from-date",
        "2022-08-01",
        "--to-date",
        "2022-08-05",
        "--max-active-runs",
        "2",
        "--dry-run",
    ]
    for command in (["dags", "reserialize"], backfill):
        result = airflow(*command)
        assert result.returncode == 0, describe(result)

    planned = re.findall(r"^\| (\d{4}-\d\d-\d\d) 00:00:00\+00:00 ", result.stdout, flags=re.MULTILINE)
    assert planned == [f"2022-08-0{day}" for day in range(1, 6)], describe(result)
