"""Fixtures for the container tests: the real ``docker compose`` CLI on this repository's compose files.

* Without a working Docker engine and Compose v2 these tests are skipped, unless
  ``REQUIRE_DOCKER=1`` (CI), where that is a failure.
* The images are built once per session under a tag of their own, removed at the end.
* Each test gets its own compose project (``salespipe-test-<random>``), so its
  own network and data volume, torn down with ``down -v`` afterwards.
* The compose CLI sees a controlled environment: the caller's compose and
  pipeline variables are dropped and the repository's ``.env`` is not read, so a
  developer's settings cannot leak into a run.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ..support.env import PIPELINE_VARIABLES

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("extract", "convert", "sales-api")

# Small, fixed inputs keep each run to seconds. Invalid records off: the Avro must equal the raw data.
TEST_DATE = "2026-01-15"
SIM_SETTINGS = {"SIM_PAGES": "3", "SIM_RECORDS_PER_PAGE": "50", "SIM_INVALID_RATE": "0", "SIM_SEED": "7"}

BUILD_TIMEOUT = 900  # a cold build downloads the dependencies
UP_TIMEOUT = 240
RUN_TIMEOUT = 120
QUICK_TIMEOUT = 60

# Variables that steer compose or the services; removed from the inherited environment: every setting the
# programs declare, and compose's own (its COMPOSE_* variables, the image TAG, where the token secret lives).
_STEERING_PREFIXES = ("COMPOSE_",)
_STEERING_NAMES = PIPELINE_VARIABLES | {"TAG", "AUTH_TOKEN_SECRET_FILE"}


def _docker_problem() -> str | None:
    """Why Docker cannot be used here, or None when the engine and Compose v2 both answer."""
    for command in (["docker", "info", "--format", "{{.ServerVersion}}"], ["docker", "compose", "version"]):
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=QUICK_TIMEOUT)
        except FileNotFoundError:
            return "the docker CLI is not installed"
        except subprocess.TimeoutExpired:
            return f"`{' '.join(command)}` did not answer within {QUICK_TIMEOUT}s"
        if result.returncode != 0:
            return f"`{' '.join(command)}` failed: {(result.stderr or result.stdout).strip()[:300]}"
    return None


@pytest.fixture(scope="session")
def docker_ready() -> None:
    problem = _docker_problem()
    if problem is None:
        return
    if os.environ.get("REQUIRE_DOCKER") == "1":
        pytest.fail(f"REQUIRE_DOCKER=1 but Docker is unusable: {problem}", pytrace=False)
    pytest.skip(f"container tests need Docker with Compose v2 ({problem}); set REQUIRE_DOCKER=1 to make this an error")


def clean_environment(extra: Mapping[str, str] = {}) -> dict[str, str]:
    """The process environment without compose/pipeline variables, plus ``extra``."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(_STEERING_PREFIXES) and name not in _STEERING_NAMES
    }
    env.update(extra)
    return env


@dataclass
class Compose:
    """One compose project of this repository, driven through the CLI."""

    project: str
    env: dict[str, str]
    env_file: Path
    logs_seen: list[str] = field(default_factory=list)

    def __call__(
        self,
        *args: str,
        timeout: float = RUN_TIMEOUT,
        env: Mapping[str, str] = {},
        stdout_bytes: bool = False,
    ) -> subprocess.CompletedProcess:
        """Run ``docker compose -p <project> --env-file <empty> ARGS`` from the repository root."""
        command = ["docker", "compose", "-p", self.project, "--env-file", str(self.env_file), *args]
        return subprocess.run(
            command,
            cwd=ROOT,
            env={**self.env, **env},
            capture_output=True,
            text=not stdout_bytes,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def containers(self) -> dict[str, dict]:
        """Service name -> its (non one-off) container as ``ps -a --format json`` shows it."""
        result = self("ps", "-a", "--format", "json", timeout=QUICK_TIMEOUT)
        assert result.returncode == 0, result.stderr
        text = result.stdout.strip()
        # Compose prints one object per line (older releases: a single array).
        rows = json.loads(text) if text.startswith("[") else [json.loads(line) for line in text.splitlines() if line]
        return {row["Service"]: row for row in rows}

    def logs(self) -> str:
        """Every service's log, for assertion messages."""
        result = self("logs", "--no-color", "--timestamps", timeout=QUICK_TIMEOUT)
        return result.stdout + result.stderr

    def data_tree(self, destination: Path) -> Path:
        """Copy the project's /data volume to ``destination`` (the documented tar pipe) and return it."""
        result = self(
            "run",
            "--rm",
            "--no-deps",
            "-T",
            "--entrypoint",
            "tar",
            "convert",
            "-C",
            "/data",
            "-cf",
            "-",
            ".",
            stdout_bytes=True,
        )
        assert result.returncode == 0, result.stderr.decode("utf-8", "replace")
        destination.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(result.stdout)) as archive:
            # The "data" filter (Python 3.11.4+) refuses links and paths that leave the destination.
            if hasattr(tarfile, "data_filter"):
                archive.extractall(destination, filter="data")
            else:
                archive.extractall(destination)
        return destination


def exit_codes(compose: Compose) -> dict[str, tuple[str, int]]:
    """Service -> (state, exit code) of the project's containers."""
    return {service: (row["State"], row["ExitCode"]) for service, row in compose.containers().items()}


def assert_up_fails_when_convert_fails(compose: Compose) -> None:
    """Plain ``up`` of a project whose convert fails (too many invalid records) exits non-zero."""
    result = compose("up", "--no-build", timeout=UP_TIMEOUT)

    assert result.returncode != 0, describe(result, compose)
    codes = exit_codes(compose)
    assert codes["extract"] == ("exited", 0), describe(result, compose)
    assert codes["convert"] == ("exited", 3), describe(result, compose)  # permanent: too many invalid records
    assert codes["pipeline-done"][0] == "created", f"the final step must never start: {codes['pipeline-done']}"
    assert codes["sales-api"][0] == "running"  # `up` returned without waiting for the simulator
    assert "records are invalid" in compose.logs()


def describe(result: subprocess.CompletedProcess, compose: Compose | None = None) -> str:
    """A failed command's output (and the project's logs) for an assertion message."""
    text = f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    if compose is not None:
        text += f"\n--- logs\n{compose.logs()}"
    return text


@pytest.fixture(scope="session")
def tag() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def empty_env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Given as --env-file so that compose ignores the repository's .env."""
    path = tmp_path_factory.mktemp("compose") / "empty.env"
    path.write_text("", encoding="utf-8")
    return path


# A token value that must never end up in an image: present in the environment of the build.
BUILD_TIME_TOKEN = f"build-time-token-{uuid.uuid4().hex}"


@pytest.fixture(scope="session")
def images(docker_ready: None, tag: str, empty_env_file: Path) -> Iterator[dict[str, str]]:
    """Build the three images once; service name -> image reference. Removed after the session."""
    builder = Compose(
        f"salespipe-test-build-{tag}", clean_environment({"TAG": tag, "AUTH_TOKEN": BUILD_TIME_TOKEN}), empty_env_file
    )
    result = builder("build", *SERVICES, timeout=BUILD_TIMEOUT)
    assert result.returncode == 0, describe(result)
    references = {service: f"sales-pipeline/{service}:{tag}" for service in SERVICES}
    yield references
    subprocess.run(["docker", "image", "rm", *references.values()], capture_output=True, timeout=QUICK_TIMEOUT)


def make_project(tag: str, env_file: Path, settings: Mapping[str, str]) -> Compose:
    env = clean_environment({"TAG": tag, "DATE": TEST_DATE, **SIM_SETTINGS, **settings})
    return Compose(f"salespipe-test-{uuid.uuid4().hex[:10]}", env, env_file)


@pytest.fixture
def compose_project(images: dict[str, str], tag: str, empty_env_file: Path) -> Iterator[Compose]:
    """A fresh compose project (default compose files, test date, small simulator); removed afterwards."""
    compose = make_project(tag, empty_env_file, {})
    try:
        yield compose
    finally:
        compose("down", "-v", "--remove-orphans", "--timeout", "5", timeout=RUN_TIMEOUT)


@pytest.fixture
def project_factory(images: dict[str, str], tag: str, empty_env_file: Path) -> Iterator:
    """Projects with extra environment (e.g. a wrong token, another COMPOSE_FILE); all removed afterwards."""
    made: list[Compose] = []

    def make(**settings: str) -> Compose:
        compose = make_project(tag, empty_env_file, settings)
        made.append(compose)
        return compose

    try:
        yield make
    finally:
        for compose in made:
            compose("down", "-v", "--remove-orphans", "--timeout", "5", timeout=RUN_TIMEOUT)


def image_run(image: str, *command: str, entrypoint: str | None = None) -> subprocess.CompletedProcess:
    """``docker run --rm`` of one image, outside compose."""
    args: Sequence[str] = ["--entrypoint", entrypoint] if entrypoint else []
    return subprocess.run(
        ["docker", "run", "--rm", "--network", "none", *args, image, *command],
        capture_output=True,
        text=True,
        timeout=QUICK_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
