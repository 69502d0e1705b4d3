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
import re
import sqlite3
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..container.store_zones import read_partition
from .conftest import (
    DAGS,
    PAGES,
    RECORDS_PER_PAGE,
    ROOT,
    Stack,
    Store,
    describe,
    docker,
    partitions,
    run,
    wait_for_health,
    without_airflow_settings,
)

pytestmark = [pytest.mark.airflow, pytest.mark.container]

DAG_TEST_TIMEOUT = 300


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
    """A fresh Airflow home with its database migrated and the API pool created, as docs/airflow.md says."""
    airflow = Airflow(airflow_python, tmp_path_factory.mktemp("airflow-home"))
    for command in (["db", "migrate"], ["pools", "set", "sales_api", "2", "Sales API: extract tasks at once"]):
        result = airflow(*command)
        assert result.returncode == 0, describe(result)
    return airflow


def dag_test(
    airflow: Airflow,
    stack: Stack,
    logical_date: str,
    token: str | None = None,
    airflow_env: Mapping[str, str] = {},
    store: Store | None = None,
    **variables: str,
) -> subprocess.CompletedProcess:
    """``airflow dags test sales_pipeline <date>`` pointed at ``stack``.

    ``token`` replaces the simulator's token in the connection; ``store`` puts the data root
    on that object store (Variable and connection); ``variables`` override Variables;
    ``airflow_env`` is more of Airflow's own configuration.
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
    if store is not None:
        env["AIRFLOW_VAR_SALES_BASE_DIR"] = store.base_dir
        env["AIRFLOW_CONN_SALES_STORE"] = store.connection()
    env.update(airflow_env)
    started = time.monotonic()
    result = airflow("dags", "test", "sales_pipeline", logical_date, env=env)
    print(
        f"airflow dags test sales_pipeline {logical_date}: exit {result.returncode} "
        f"in {time.monotonic() - started:.1f}s"
    )
    return result


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


# An OpenLineage endpoint for the job containers, on the stack's network: it prints each event as one line,
# {"authorization": <the request's Authorization header>, "event": <the event>}.
LINEAGE_RECEIVER = """
import http.server, json, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        line = {"authorization": self.headers.get("Authorization"), "event": json.loads(body)}
        sys.stdout.write(json.dumps(line) + "\\n"); sys.stdout.flush()
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", 8081), Handler).serve_forever()
"""


LINEAGE_KEY = "lineage-key-7f3a9c"


def test_the_jobs_lineage_events_name_the_airflow_task_run_as_parent(airflow: Airflow, stack: Stack) -> None:
    """With OpenLineage on in Airflow, the provider's macros reach the jobs, and their events carry them.

    Both jobs report: convert, which has no network on the data volume otherwise, joins the
    stack's network because its settings name an endpoint; the API key of the ``sales_lineage``
    connection reaches both privately.
    """
    receiver = f"{stack.network.removesuffix('-net')}-lineage"
    started = docker(
        "run", "--detach", "--network", stack.network, "--name", receiver, "--entrypoint", "python",
        stack.images["extract"], "-c", LINEAGE_RECEIVER,
    )  # fmt: skip
    assert started.returncode == 0, describe(started)
    try:
        wait_for_health(receiver)
        result = dag_test(
            airflow,
            stack,
            "2022-08-14",
            # Airflow's own OpenLineage events go to its task log; enabled, the provider registers its macros.
            airflow_env={
                "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps({"type": "console"}),
                "AIRFLOW_CONN_SALES_LINEAGE": json.dumps({"conn_type": "http", "password": LINEAGE_KEY}),
            },
            sales_job_settings=json.dumps({"OPENLINEAGE_URL": f"http://{receiver}:8081"}),
        )
        assert result.returncode == 0, describe(result)
        logs = docker("logs", receiver).stdout
    finally:
        docker("rm", "--force", receiver)
    received = [json.loads(line) for line in logs.splitlines() if line.strip()]
    assert {r["authorization"] for r in received} == {f"Bearer {LINEAGE_KEY}"}
    events = [r["event"] for r in received]
    assert [(e["job"]["name"], e["eventType"]) for e in events] == [
        ("extract", "START"),
        ("extract", "COMPLETE"),
        ("convert", "START"),
        ("convert", "COMPLETE"),
    ]
    task_runs = set(re.findall(r'"runId": "([0-9a-f-]{36})"', result.stdout + result.stderr))
    for job in ("extract", "convert"):
        parents = {json.dumps(e["run"]["facets"]["parent"], sort_keys=True) for e in events if e["job"]["name"] == job}
        assert len(parents) == 1, f"{job}: START and COMPLETE name the same parent"
        parent = json.loads(parents.pop())
        assert (parent["job"]["namespace"], parent["job"]["name"]) == ("default", f"sales_pipeline.{job}")
        assert (parent["root"]["job"]["namespace"], parent["root"]["job"]["name"]) == ("default", "sales_pipeline")
        assert parent["run"]["runId"] in task_runs, f"the run id of Airflow's own event for the {job} task"
        assert parent["root"]["run"]["runId"] in task_runs
    task_logs = [path.read_text(errors="replace") for path in (airflow.home / "logs").rglob("*.log")]
    assert LINEAGE_KEY not in result.stdout + result.stderr
    assert not [text for text in task_logs if LINEAGE_KEY in text]


def test_a_dag_run_on_object_storage_mounts_no_volume_and_commits_both_zones_to_the_store(
    airflow: Airflow, stack: Stack, store: Store
) -> None:
    day = "2022-08-13"
    result = dag_test(airflow, stack, day, store=store, sales_job_settings='{"EXTRACT_CONCURRENCY": 2}')

    assert result.returncode == 0, describe(result)
    assert airflow.task_states(day) == {"extract": ("success", 1), "convert": ("success", 1)}
    raw = read_partition(store.env(), store.base_dir, "raw", day)
    assert len(raw) == PAGES
    assert sum(len(json.loads(page)) for page in raw.values()) == PAGES * RECORDS_PER_PAGE
    [avro_name] = read_partition(store.env(), store.base_dir, "stg", day)
    assert avro_name.endswith(f"sales_{day}.avro")
    assert partitions(stack, day) == {}  # nothing reached the data volume
    output = result.stdout + result.stderr
    assert "extracting 1 date(s) from" in output and "with concurrency 2" in output  # sales_job_settings arrived
    # The store's secret went to the containers privately: neither Airflow's output nor its task logs hold it.
    task_logs = [path.read_text(errors="replace") for path in (airflow.home / "logs").rglob("*.log")]
    assert store.secret not in output
    assert not [text for text in task_logs if store.secret in text]


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
