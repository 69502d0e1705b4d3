"""Every declared setting reaches compose, ``.env.example`` and docs/configuration.md.

The declarations (``shared.settings``) are the one source; these tests fail when a
setting is declared but compose does not pass it to its service, or a file that
documents the settings misses it.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared import settings_doc

REPO = Path(__file__).resolve().parents[2]
SERVICES = {"extract": "extract_job", "convert": "convert_job", "sales-api": "sales_api_sim"}
COMPOSE_FILES = ("docker-compose.yml", "docker-compose.override.yml")
FIXED_BY_COMPOSE = {
    "BASE_DIR": "/data",
    "SALES_API_URL": "${SALES_API_URL:-http://sales-api:8081/sales}",
    "AUTH_TOKEN": "${AUTH_TOKEN:-dev-token}",
    "SIM_HOST": "0.0.0.0",
    "SIM_PORT": "8081",
    "SIM_TOKEN": "${SIM_TOKEN:-${AUTH_TOKEN:-dev-token}}",
}
"""The only variables compose gives a value of its own; every other one is passed as set, or left unset."""


def declared_env(program: str) -> list[str]:
    return [spec.env for spec in settings_doc.program_specs(program) if spec.env]


def compose_environment() -> dict[str, dict[str, Any]]:
    """Each service's ``environment:`` as the compose files write it (later files win, as in compose)."""
    merged: dict[str, dict[str, Any]] = {}
    for name in COMPOSE_FILES:
        document = yaml.safe_load((REPO / name).read_text(encoding="utf-8"))
        for service, body in document["services"].items():
            environment = body.get("environment", {})
            assert isinstance(environment, dict), f"{name}: {service}'s environment is a mapping (NAME: or NAME: value)"
            merged.setdefault(service, {}).update(environment)
    return merged


@pytest.mark.parametrize(("service", "program"), SERVICES.items())
def test_compose_passes_every_declared_variable(service: str, program: str) -> None:
    environment = compose_environment()[service]
    missing = [name for name in declared_env(program) if name not in environment]
    assert not missing, f"compose does not pass {missing} to {service}"


@pytest.mark.parametrize(("service", "program"), SERVICES.items())
def test_compose_leaves_an_unset_variable_unset(service: str, program: str) -> None:
    environment = compose_environment()[service]
    for name in declared_env(program):
        value = environment.get(name)
        if name in FIXED_BY_COMPOSE:
            assert str(value) == FIXED_BY_COMPOSE[name], name
        else:
            # "NAME:" (null) passes the variable only when it is set; "${NAME:-}" would pass an empty string.
            assert value is None, f"{service}: {name}: {value!r} should be written as '{name}:' with no value"


def test_the_real_api_file_alone_fixes_only_the_data_root() -> None:
    """docker-compose.yml without the simulator overlay: a forgotten URL or token stays unset (extract exits 2)."""
    services = yaml.safe_load((REPO / COMPOSE_FILES[0]).read_text(encoding="utf-8"))["services"]
    fixed = {
        name: value
        for service in ("extract", "convert")
        for name, value in services[service]["environment"].items()
        if value is not None
    }
    assert fixed == {"BASE_DIR": "/data"}


def test_env_example_lists_every_setting() -> None:
    listed = set(re.findall(r"^#?([A-Z][A-Z0-9_]*)=", (REPO / ".env.example").read_text(encoding="utf-8"), re.M))
    missing = sorted({name for program in SERVICES.values() for name in declared_env(program)} - listed)
    assert not missing, f".env.example does not mention {missing}"


def test_the_reference_is_generated_from_the_declarations() -> None:
    reference = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert reference == settings_doc.render(), (
        "docs/configuration.md is stale: run python -m shared.settings_doc --write"
    )
    for program in SERVICES.values():
        for spec in settings_doc.program_specs(program):
            assert f"`{spec.env or spec.flag}`" in reference


@pytest.mark.parametrize(
    ("program", "default"),
    [
        ("extract_job", "yesterday in UTC"),
        ("convert_job", "the dates extract's last run left complete (BASE_DIR/raw/sales/_LAST_RUN), else yesterday"),
    ],
)
def test_each_job_states_its_own_default_dates(program: str, default: str) -> None:
    """Both jobs share the dates' declarations, but convert's default is extract's last run (tests/integration)."""
    [dates] = [spec for spec in settings_doc.program_specs(program) if spec.env == "DATE"]
    parser = importlib.import_module(f"{program}.cli").build_parser()

    assert dates.shown_default().startswith(default)
    assert f"dates (default: env DATE, else {default}" in parser.format_help()


def test_real_compose_passes_a_set_variable_and_leaves_an_unset_one_out(tmp_path: Path) -> None:
    """What ``docker compose config`` resolves, with no .env: set names arrive, unset ones are absent (null)."""
    if (
        shutil.which("docker") is None
        or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode
    ):
        if os.environ.get("REQUIRE_DOCKER"):
            pytest.fail("REQUIRE_DOCKER is set but the docker compose CLI is missing")
        pytest.skip("the docker compose CLI is not installed")
    declared = {name for program in SERVICES.values() for name in declared_env(program)}
    env = {k: v for k, v in os.environ.items() if k not in declared and not k.startswith("COMPOSE_")}
    env.update({"EXTRACT_MAX_PAGES": "7", "SIM_FAULT": "html", "HOME": str(tmp_path)})
    files = [arg for name in COMPOSE_FILES for arg in ("-f", str(REPO / name))]
    command = ["docker", "compose", "--project-directory", str(tmp_path), *files, "-p", "settings-ref"]
    result = subprocess.run(
        [*command, "config", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert services["extract"]["environment"]["EXTRACT_MAX_PAGES"] == "7"
    assert services["sales-api"]["environment"]["SIM_FAULT"] == "html"
    assert services["extract"]["environment"]["EXTRACT_TIMEOUT"] is None, "unset stays unset, not ''"
    assert services["convert"]["environment"]["CONVERT_CODEC"] is None
    assert services["extract"]["environment"]["BASE_DIR"] == "/data"
