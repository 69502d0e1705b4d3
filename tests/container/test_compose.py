"""The pipeline as shipped: images and compose files, driven through the real ``docker compose`` CLI.

Each test runs its own compose project (see conftest.py) against the simulator
with a fixed date and a few small pages, so a test takes seconds once the
images are built.
"""

from __future__ import annotations

import json
import subprocess
from datetime import date
from pathlib import Path

import pytest

from shared.last_run import LAST_RUN_FILE

from ..support.avro import avro_records
from .conftest import (
    BUILD_TIME_TOKEN,
    QUICK_TIMEOUT,
    TEST_DATE,
    UP_TIMEOUT,
    Compose,
    assert_up_fails_when_convert_fails,
    describe,
    exit_codes,
    image_run,
)

pytestmark = pytest.mark.container

RAW = Path("raw/sales") / TEST_DATE
STG = Path("stg/sales") / TEST_DATE
AVRO_NAME = f"sales_{TEST_DATE}.avro"
PAGES = 3
RECORDS_PER_PAGE = 50


def raw_records(partition: Path) -> list[dict]:
    """The raw records in page order, as the staging Avro should hold them (purchase_date as a date)."""
    manifest = json.loads((partition / "_SUCCESS").read_bytes())
    names = [entry["name"] for entry in manifest["files"]]
    assert names == [f"sales_{TEST_DATE}_{page}.json" for page in range(1, len(names) + 1)]
    records = []
    for name in names:
        for record in json.loads((partition / name).read_bytes()):
            records.append({**record, "purchase_date": date.fromisoformat(record["purchase_date"])})
    return records


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_up_runs_both_jobs_and_the_avro_holds_the_raw_records(compose_project: Compose, tmp_path: Path) -> None:
    result = compose_project("up", "--no-build", timeout=UP_TIMEOUT)

    assert result.returncode == 0, describe(result, compose_project)
    codes = exit_codes(compose_project)
    assert codes["extract"] == ("exited", 0), describe(result, compose_project)
    assert codes["convert"] == ("exited", 0), describe(result, compose_project)
    assert codes["pipeline-done"] == ("exited", 0), describe(result, compose_project)
    assert codes["sales-api"][0] == "running"  # `up` returned without waiting for the simulator

    data = compose_project.data_tree(tmp_path / "data")
    raw = raw_records(data / RAW)
    assert len(raw) == PAGES * RECORDS_PER_PAGE
    assert listing(data / STG) == ["_SUCCESS", AVRO_NAME]
    assert avro_records(data / STG / AVRO_NAME) == raw
    stg_manifest = json.loads((data / STG / "_SUCCESS").read_bytes())
    raw_manifest = json.loads((data / RAW / "_SUCCESS").read_bytes())
    assert stg_manifest["raw_run_id"] == raw_manifest["run_id"]
    assert stg_manifest["files"][0]["records"] == len(raw)


def test_up_exits_non_zero_when_convert_fails(project_factory) -> None:
    assert_up_fails_when_convert_fails(project_factory(SIM_INVALID_RATE="0.5"))


def test_a_rejected_token_fails_extract_and_convert_never_runs(project_factory, tmp_path: Path) -> None:
    compose = project_factory(AUTH_TOKEN="not-the-token", SIM_TOKEN="the-token")

    result = compose("up", "--no-build", timeout=UP_TIMEOUT)

    assert result.returncode != 0, describe(result, compose)
    codes = exit_codes(compose)
    assert codes["extract"] == ("exited", 3), describe(result, compose)  # permanent: no retry helps
    assert codes["convert"][0] == "created", f"convert must never start: {codes['convert']}"
    assert "rejected the token (401)" in compose.logs()
    assert "not-the-token" not in compose.logs() + result.stdout + result.stderr
    data = compose.data_tree(tmp_path / "data")
    assert not (data / RAW).exists()
    assert not (data / STG).exists()


def test_running_a_date_again_replaces_its_partitions(compose_project: Compose, tmp_path: Path) -> None:
    def run_both() -> None:
        for args in (("extract", "--date", TEST_DATE), ("--no-deps", "convert", "--date", TEST_DATE)):
            result = compose_project("run", "--rm", *args)
            assert result.returncode == 0, describe(result, compose_project)

    run_both()
    first = compose_project.data_tree(tmp_path / "first")
    run_both()
    second = compose_project.data_tree(tmp_path / "second")

    for partition in (RAW, STG):
        assert listing(second / partition) == listing(first / partition)
        first_run = json.loads((first / partition / "_SUCCESS").read_bytes())["run_id"]
        second_run = json.loads((second / partition / "_SUCCESS").read_bytes())["run_id"]
        assert second_run != first_run, f"{partition} was not rewritten by the second run"
        # No hidden temporary or set-aside folders stay beside the partitions (raw also keeps its _LAST_RUN record).
        expected = [TEST_DATE, LAST_RUN_FILE] if partition == RAW else [TEST_DATE]
        assert listing(second / partition.parent) == expected
    assert avro_records(second / STG / AVRO_NAME) == avro_records(first / STG / AVRO_NAME)
    assert len(avro_records(second / STG / AVRO_NAME)) == PAGES * RECORDS_PER_PAGE


def test_a_date_range_backfills_every_date(compose_project: Compose, tmp_path: Path) -> None:
    days = ["2026-02-01", "2026-02-02"]
    for args in (("extract",), ("--no-deps", "convert")):
        result = compose_project("run", "--rm", *args, "--start", days[0], "--end", days[-1])
        assert result.returncode == 0, describe(result, compose_project)

    data = compose_project.data_tree(tmp_path / "data")
    assert listing(data / "stg/sales") == days
    for day in days:
        assert (data / "stg/sales" / day / f"sales_{day}.avro").is_file()


def test_the_token_can_come_from_a_compose_secret(project_factory, tmp_path: Path) -> None:
    secret = tmp_path / "api_token"
    secret.write_text("token-from-file\n", encoding="utf-8")
    secret.chmod(0o444)  # the container user (uid 10001) reads the bind-mounted file
    compose = project_factory(
        COMPOSE_FILE="docker-compose.yml:docker-compose.override.yml:docker-compose.secret.yml",
        AUTH_TOKEN_SECRET_FILE=str(secret),
        SIM_TOKEN="token-from-file",
        AUTH_TOKEN="not-the-token",
    )

    result = compose("run", "--rm", "extract", "--date", TEST_DATE)

    assert result.returncode == 0, describe(result, compose)
    environment = _config(compose)["services"]["extract"]["environment"]
    assert environment["AUTH_TOKEN_FILE"] == "/run/secrets/api_token"
    assert environment["AUTH_TOKEN"] == "", "with a secret, no token may sit in the container environment"


def test_the_secret_file_must_be_named(project_factory) -> None:
    compose = project_factory(COMPOSE_FILE="docker-compose.yml:docker-compose.secret.yml")

    result = compose("config", "--quiet", timeout=QUICK_TIMEOUT)

    assert result.returncode != 0
    assert "AUTH_TOKEN_SECRET_FILE" in result.stderr


def _config(compose: Compose) -> dict:
    result = compose("config", "--format", "json", timeout=QUICK_TIMEOUT)
    assert result.returncode == 0, describe(result)
    return json.loads(result.stdout)


def test_the_simulator_runs_by_default_and_the_real_api_setup_drops_it(project_factory) -> None:
    default = _config(project_factory())
    assert set(default["services"]) == {"sales-api", "extract", "convert", "pipeline-done"}
    assert default["services"]["extract"]["depends_on"]["sales-api"]["condition"] == "service_healthy"
    assert default["services"]["convert"]["depends_on"]["extract"]["condition"] == "service_completed_successfully"
    assert default["services"]["pipeline-done"]["depends_on"]["convert"]["condition"] == (
        "service_completed_successfully"
    )
    simulator = default["services"]["extract"]["environment"]
    assert (simulator["SALES_API_URL"], simulator["AUTH_TOKEN"]) == ("http://sales-api:8081/sales", "dev-token")

    real = _config(
        project_factory(
            COMPOSE_FILE="docker-compose.yml", SALES_API_URL="https://sales.example/sales", AUTH_TOKEN="real-token"
        )
    )
    assert set(real["services"]) == {"extract", "convert", "pipeline-done"}
    assert "sales-api" not in real["services"]["extract"].get("depends_on", {})
    assert real["services"]["extract"]["environment"]["SALES_API_URL"] == "https://sales.example/sales"


@pytest.mark.parametrize(
    ("settings", "line"),
    [
        ({}, "extract_job: error: SALES_API_URL is not set"),
        ({"SALES_API_URL": "https://sales.invalid/sales"}, "extract_job: error: no API token: set AUTH_TOKEN"),
    ],
    ids=["no-url", "no-token"],
)
def test_the_real_api_setup_has_no_simulator_defaults(project_factory, settings: dict[str, str], line: str) -> None:
    """A forgotten URL or token is a configuration error (exit 2), never a DNS error or dev-token sent to the API."""
    compose = project_factory(COMPOSE_FILE="docker-compose.yml", **settings)

    result = compose("run", "--rm", "extract")

    assert result.returncode == 2, describe(result, compose)
    assert line in result.stderr, describe(result)
    assert "dev-token" not in _config(compose)["services"]["extract"]["environment"].values()


def test_every_service_is_hardened(project_factory) -> None:
    for name, service in _config(project_factory())["services"].items():
        assert service.get("read_only") is True, name
        assert service.get("cap_drop") == ["ALL"], name
        assert "no-new-privileges:true" in service.get("security_opt", []), name


def test_images_run_as_a_fixed_non_root_user(images: dict[str, str]) -> None:
    for image in images.values():
        inspect = subprocess.run(
            ["docker", "image", "inspect", "--format", "{{.Config.User}}", image],
            capture_output=True,
            text=True,
            timeout=QUICK_TIMEOUT,
        )
        assert inspect.stdout.strip() == "10001:10001", image
        result = image_run(image, "-u", entrypoint="id")
        assert result.stdout.strip() == "10001", f"{image}: {result.stdout}{result.stderr}"


@pytest.mark.parametrize(
    ("service", "present", "absent"),
    [
        ("extract", "requests", "fastavro"),
        # openlineage-python brings requests into convert (pyproject.toml); the extract job's code stays out.
        ("convert", "fastavro", "extract_job"),
        ("sales-api", "sales_api_sim", "requests"),
    ],
)
def test_each_image_holds_only_its_own_dependencies(
    images: dict[str, str], service: str, present: str, absent: str
) -> None:
    probe = (
        "import importlib.util, json; "
        f"print(json.dumps([importlib.util.find_spec(m) is not None for m in ({present!r}, {absent!r}, 'pip')]))"
    )
    result = image_run(images[service], "-c", probe, entrypoint="python")
    assert result.returncode == 0, result.stderr
    has_present, has_absent, has_pip = json.loads(result.stdout)
    assert has_present, f"{service} image lacks {present}"
    assert not has_absent, f"{service} image must not contain {absent}"
    assert not has_pip, f"{service} image's venv still holds pip"


# What each program imports as it starts: its command line and, for the jobs, the object store client.
_STARTUP_IMPORTS = {
    "extract": "extract_job.cli, boto3",
    "convert": "convert_job.cli, boto3",
    "sales-api": "sales_api_sim.cli",
}


@pytest.mark.parametrize("service", sorted(_STARTUP_IMPORTS))
def test_every_module_a_program_imports_comes_compiled(images: dict[str, str], service: str) -> None:
    """The containers run read-only: a module without bytecode in the image is compiled again at every start."""
    probe = (
        "import importlib.util, json, os, sys; "
        f"import {_STARTUP_IMPORTS[service]}; "
        "sources = {m.__file__ for m in list(sys.modules.values()) "
        "if (getattr(m, '__file__', None) or '').endswith('.py')}; "
        "print(json.dumps(sorted(s for s in sources if not os.path.exists(importlib.util.cache_from_source(s)))))"
    )
    result = image_run(images[service], "-c", probe, entrypoint="python")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [], f"{service} image: modules without bytecode"


def test_no_token_is_baked_into_the_images(images: dict[str, str]) -> None:
    for image in images.values():
        history = subprocess.run(
            ["docker", "history", "--no-trunc", "--format", "{{.CreatedBy}}", image],
            capture_output=True,
            text=True,
            timeout=QUICK_TIMEOUT,
        )
        config = subprocess.run(
            ["docker", "image", "inspect", "--format", "{{json .Config}}", image],
            capture_output=True,
            text=True,
            timeout=QUICK_TIMEOUT,
        )
        assert history.returncode == 0 and config.returncode == 0
        for text in (history.stdout, config.stdout):
            assert BUILD_TIME_TOKEN not in text, image
            assert "dev-token" not in text, image
            assert "AUTH_TOKEN" not in text, image
