"""The sales_pipeline DAG imports cleanly and has the shape, schedule, pool and retry policy we rely on.

Needs Airflow and its Docker provider, which live in their own environment
(``orchestration/airflow/setup-env`` makes ``.venv-airflow``), so in the jobs'
environment this module is skipped; ``test_dag_run.py`` runs it inside
``.venv-airflow``. No Docker engine, database or network is needed: the job
containers are replaced by a fake Docker API client.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "orchestration" / "airflow" / "dags"


def _airflow_installed() -> bool:
    # airflow.sdk, not just "airflow": it tells Airflow 3 from anything else named airflow.
    try:
        return importlib.util.find_spec("airflow.sdk") is not None
    except ImportError:
        return False


if _airflow_installed() and "AIRFLOW_HOME" not in os.environ:
    # Importing Airflow writes airflow.cfg into AIRFLOW_HOME (default ~/airflow): keep it out of $HOME.
    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="airflow-home-")
    atexit.register(shutil.rmtree, os.environ["AIRFLOW_HOME"], ignore_errors=True)

pytest.importorskip("airflow.sdk", reason="Airflow lives in .venv-airflow (orchestration/airflow/setup-env)")
pytest.importorskip("airflow.providers.docker", reason="apache-airflow-providers-docker is not installed")

from airflow.dag_processing.dagbag import BundleDagBag  # noqa: E402
from airflow.providers.docker.exceptions import DockerContainerFailedException  # noqa: E402
from airflow.sdk.exceptions import AirflowFailException  # noqa: E402
from jinja2 import Environment, StrictUndefined, Template  # noqa: E402

if str(DAGS) not in sys.path:
    sys.path.append(str(DAGS))  # as Airflow does for a DAG bundle; BundleDagBag does it too
import sales_pipeline_support as support  # noqa: E402
from sales_pipeline_support import OnExit, SalesJobOperator, on_exit  # noqa: E402

# Airflow 3.3's .airflowignore matcher calls a pathspec API that pathspec 1.x deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:GitWildMatchPattern:DeprecationWarning")

SETTING_VARIABLES = (
    "SALES_START_DATE",
    "SALES_RETRIES",
    "SALES_RETRY_DELAY_SECONDS",
    *(name.upper() for name in support.RUNTIME_DEFAULTS),
)


@pytest.fixture(autouse=True)
def _no_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts from the defaults: no Variable or token connection in the environment."""
    for name in SETTING_VARIABLES:
        monkeypatch.delenv(f"AIRFLOW_VAR_{name}", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_SALES_API", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_SALES_STORE", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_SALES_LINEAGE", raising=False)


def load_dagbag() -> BundleDagBag:
    """The DAG folder parsed the way the DAG processor parses a bundle."""
    return BundleDagBag(dag_folder=DAGS, bundle_path=DAGS)


@pytest.fixture
def dag() -> Any:
    bag = load_dagbag()
    assert bag.import_errors == {}
    return bag.dags["sales_pipeline"]


# --- the DAG file ---------------------------------------------------------


def test_the_dag_folder_imports_without_errors_and_holds_one_dag() -> None:
    bag = load_dagbag()
    assert bag.import_errors == {}
    assert bag.dag_ids == ["sales_pipeline"]
    # .airflowignore keeps the helper module out of DAG parsing.
    assert [Path(stat.file).name for stat in bag.dagbag_stats] == ["sales_pipeline.py"]


def test_extract_runs_before_convert(dag: Any) -> None:
    assert sorted(dag.task_ids) == ["convert", "extract"]
    assert dag.get_task("extract").downstream_task_ids == {"convert"}
    assert dag.get_task("convert").upstream_task_ids == {"extract"}


def test_one_run_per_day_with_catchup_from_the_configured_start(dag: Any) -> None:
    assert type(dag.timetable).__name__ == "CronDataIntervalTimetable"
    assert dag.timetable.expression == "0 0 * * *"
    assert dag.catchup is True
    assert dag.start_date == datetime(2022, 8, 1, tzinfo=timezone.utc)
    assert dag.max_active_runs == 4


def test_the_first_run_processes_the_start_date_once_that_day_is_over(dag: Any) -> None:
    # {{ ds }} is the logical date, which for a data-interval timetable is the day the run covers.
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction

    first = coerce_to_core_timetable(dag.timetable).next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=dag.start_date, latest=None, catchup=True),
    )
    assert first.data_interval.start == datetime(2022, 8, 1, tzinfo=timezone.utc)
    assert first.run_after == datetime(2022, 8, 2, tzinfo=timezone.utc)


def test_only_extract_takes_a_slot_of_the_api_pool(dag: Any) -> None:
    assert dag.get_task("extract").pool == "sales_api"
    assert dag.get_task("convert").pool == "default_pool"


@pytest.mark.parametrize("task_id", ["extract", "convert"])
def test_retries_back_off_exponentially(dag: Any, task_id: str) -> None:
    task = dag.get_task(task_id)
    assert task.retries == 3
    assert task.retry_delay == timedelta(minutes=5)
    assert task.retry_exponential_backoff == 2.0
    assert task.max_retry_delay == timedelta(hours=1)
    assert task.execution_timeout == timedelta(hours=1)


@pytest.mark.parametrize("task_id", ["extract", "convert"])
def test_each_task_runs_its_job_for_the_logical_date_on_the_data_root(dag: Any, task_id: str) -> None:
    task = dag.get_task(task_id)
    assert isinstance(task, SalesJobOperator)
    assert task.command == ["--date", "{{ ds }}"]
    # The data root and its volume are Variables, decided when the task runs (see the operator tests below).
    assert task.base_dir == support.runtime_setting("sales_base_dir")
    assert task.data_volume == support.runtime_setting("sales_data_volume")
    assert task.job_settings == support.runtime_setting("sales_job_settings")
    assert task.mounts == []
    assert task.image == support.runtime_setting(f"sales_{task_id}_image")
    assert task.do_xcom_push is False


def test_only_extract_reaches_the_network_and_gets_the_token(dag: Any) -> None:
    extract, convert = dag.get_task("extract"), dag.get_task("convert")
    assert extract.network_mode == support.runtime_setting("sales_docker_network")
    assert extract.environment["SALES_API_URL"] == support.runtime_setting("sales_api_url")
    assert extract.token_connection == "sales_api"
    assert convert.network_mode == "none"
    assert convert.token_connection is None
    # On an object store, convert joins the same network as extract to reach the store.
    assert convert.outbound_network_mode == support.runtime_setting("sales_docker_network")
    assert extract.outbound_network_mode is None


def test_no_token_in_the_dag_definition(dag: Any) -> None:
    for task in dag.tasks:
        assert "AUTH_TOKEN" not in task.environment
        assert "AUTH_TOKEN_FILE" not in task.environment
        assert not any(name.startswith("AWS_") for name in task.environment)
        assert task._private_environment == {}  # filled only when the task runs


def test_parse_time_variables_override_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_SALES_START_DATE", "2023-01-15")
    monkeypatch.setenv("AIRFLOW_VAR_SALES_RETRIES", "0")
    monkeypatch.setenv("AIRFLOW_VAR_SALES_RETRY_DELAY_SECONDS", "7")
    bag = load_dagbag()
    assert bag.import_errors == {}
    dag = bag.dags["sales_pipeline"]
    assert dag.start_date == datetime(2023, 1, 15, tzinfo=timezone.utc)
    assert {(task.retries, task.retry_delay) for task in dag.tasks} == {(0, timedelta(seconds=7))}


@pytest.mark.parametrize(
    ("variable", "value"),
    [("SALES_START_DATE", "15/01/2023"), ("SALES_RETRIES", "three"), ("SALES_RETRY_DELAY_SECONDS", "-1")],
    ids=["start-date-not-iso", "retries-not-a-number", "negative-delay"],
)
def test_a_bad_parse_time_variable_is_an_import_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(f"AIRFLOW_VAR_{variable}", value)
    errors = load_dagbag().import_errors
    assert len(errors) == 1
    assert variable.lower() in next(iter(errors.values()))


# --- run-time settings ----------------------------------------------------


class FakeVariables:
    """What ``var.value`` offers a template: ``get(name, default)``."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, name: str, default: str) -> str:
        return self.values.get(name, default)


@pytest.mark.parametrize("name", sorted(support.RUNTIME_DEFAULTS))
def test_a_runtime_setting_renders_its_variable_else_the_default(name: str) -> None:
    template = Template(support.runtime_setting(name))
    assert template.render(var={"value": FakeVariables({})}) == support.RUNTIME_DEFAULTS[name]
    assert template.render(var={"value": FakeVariables({name: "from-variable"})}) == "from-variable"


@pytest.mark.parametrize("task_id", ["extract", "convert"])
def test_each_job_gets_the_lineage_parent_of_its_task_run_when_the_provider_is_enabled(dag: Any, task_id: str) -> None:
    """The OpenLineage provider's macros, rendered as Airflow does (StrictUndefined); blank without them."""
    task = dag.get_task(task_id)
    ti = SimpleNamespace(dag_id="sales_pipeline", task_id=task_id)
    plugin = SimpleNamespace(
        lineage_parent_id=lambda ti: f"default/{ti.dag_id}.{ti.task_id}/01932c5e-7b1e-7a4e-9a55-5b3f0c8f2d10",
        lineage_root_parent_id=lambda ti: f"default/{ti.dag_id}/01932c5e-6f00-7c2a-8d1e-3a9b1f4c6e21",
    )
    enabled = SimpleNamespace(OpenLineageProviderPlugin=plugin)
    disabled = SimpleNamespace()  # the provider registers no macros while OpenLineage is not configured
    environment = Environment(undefined=StrictUndefined)

    def render(name: str, macros: Any) -> str:
        return environment.from_string(task.environment[name]).render(macros=macros, task_instance=ti)

    assert render("OPENLINEAGE_PARENT_ID", enabled) == (
        f"default/sales_pipeline.{task_id}/01932c5e-7b1e-7a4e-9a55-5b3f0c8f2d10"
    )
    assert (
        render("OPENLINEAGE_ROOT_PARENT_ID", enabled) == "default/sales_pipeline/01932c5e-6f00-7c2a-8d1e-3a9b1f4c6e21"
    )
    assert render("OPENLINEAGE_PARENT_ID", disabled) == render("OPENLINEAGE_ROOT_PARENT_ID", disabled) == ""


# --- exit codes -----------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (0, OnExit.SUCCEED),
        (1, OnExit.RETRY),
        (2, OnExit.FAIL),
        (3, OnExit.FAIL),
        (4, OnExit.RETRY),
        (130, OnExit.RETRY),
        (137, OnExit.RETRY),
        (143, OnExit.RETRY),
        (255, OnExit.RETRY),
    ],
    ids=[
        "ok",
        "a-retry-may-fix-it",
        "configuration-error",
        "permanent-failure",
        "unknown",
        "interrupted",
        "killed",
        "stopped",
        "max",
    ],
)
def test_on_exit_maps_each_job_status_to_what_airflow_does(status: int, expected: OnExit) -> None:
    assert on_exit(status) is expected


def test_the_provider_is_told_to_single_out_exactly_the_fail_at_once_statuses() -> None:
    assert support.FAIL_AT_ONCE_CODES == (2, 3)
    operator = SalesJobOperator(task_id="job", image="job:dev")
    assert tuple(operator.skip_on_exit_code) == support.FAIL_AT_ONCE_CODES


class FakeDockerApi:
    """The few ``docker.APIClient`` calls ``DockerOperator`` makes, for a container that exits ``status``."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.created: dict[str, Any] = {}
        self.removed: list[str] = []

    def images(self, name: str) -> list[dict[str, str]]:
        return [{"Id": name}]  # present locally: no pull

    def create_host_config(self, **options: Any) -> dict[str, Any]:
        return options

    def create_container(self, **options: Any) -> dict[str, str]:
        self.created = options
        return {"Id": "c0ffee"}

    def attach(self, **_: Any) -> Iterator[bytes]:
        return iter([b"extract_job: 1 date(s): 0 done, 0 skipped, 1 failed\n"])

    def start(self, container: str) -> None:
        pass

    def wait(self, container: str) -> dict[str, Any]:
        return {"Error": None, "StatusCode": self.status}

    def remove_container(self, container: str, force: bool = False) -> None:
        self.removed.append(container)


def run_job(monkeypatch: pytest.MonkeyPatch, status: int, **options: Any) -> FakeDockerApi:
    """Execute a ``SalesJobOperator`` through the provider's real code against a fake Docker API."""
    api = FakeDockerApi(status)
    monkeypatch.setattr(SalesJobOperator, "cli", property(lambda self: api))
    operator = SalesJobOperator(
        task_id="extract", image="sales-pipeline/extract:dev", auto_remove="force", mount_tmp_dir=False, **options
    )
    operator.execute(context={})
    return api


def test_status_0_succeeds_and_removes_the_container(monkeypatch: pytest.MonkeyPatch) -> None:
    api = run_job(monkeypatch, 0)
    assert api.removed == ["c0ffee"]


def test_status_1_is_an_ordinary_failure_that_airflow_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DockerContainerFailedException) as caught:
        run_job(monkeypatch, 1)
    assert not isinstance(caught.value, AirflowFailException)


@pytest.mark.parametrize("status", [2, 3], ids=["configuration-error", "permanent-failure"])
def test_status_2_or_3_fails_the_task_without_retrying(monkeypatch: pytest.MonkeyPatch, status: int) -> None:
    with pytest.raises(AirflowFailException, match="not retrying"):
        run_job(monkeypatch, status)


def test_the_token_reaches_the_container_from_the_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SALES_API", '{"conn_type": "http", "password": "s3cret-token"}')
    api = run_job(monkeypatch, 0, token_connection="sales_api", environment={"BASE_DIR": "/data"})
    assert api.created["environment"] == {"BASE_DIR": "/data", "AUTH_TOKEN": "s3cret-token"}


@pytest.mark.parametrize(
    "connection",
    [None, '{"conn_type": "http"}'],
    ids=["no-connection", "no-password"],
)
def test_a_missing_token_fails_the_task_before_any_container_starts(
    monkeypatch: pytest.MonkeyPatch, connection: str | None
) -> None:
    if connection is not None:
        monkeypatch.setenv("AIRFLOW_CONN_SALES_API", connection)
    api = FakeDockerApi(0)
    monkeypatch.setattr(SalesJobOperator, "cli", property(lambda self: api))
    operator = SalesJobOperator(task_id="extract", image="sales-pipeline/extract:dev", token_connection="sales_api")
    with pytest.raises(AirflowFailException, match="sales_api"):
        operator.execute(context={})
    assert api.created == {}


# --- the data root: a volume or an object store -------------------------------

STORE_SECRET = "store-secret-0123456789abcdef"
STORE_CONNECTION = json.dumps(
    {
        "conn_type": "aws",
        "login": "pipeline-key",
        "password": STORE_SECRET,
        "extra": {"endpoint_url": "http://object-store:8333", "region_name": "eu-west-1"},
    }
)


def test_a_local_data_root_mounts_the_volume_and_keeps_convert_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    api = run_job(
        monkeypatch, 0, base_dir="/data", data_volume="lake-volume", network_mode="none", outbound_network_mode="net"
    )
    host = api.created["host_config"]
    [mount] = host["mounts"]
    assert (mount["Target"], mount["Source"], mount["Type"]) == ("/data", "lake-volume", "volume")
    assert host["network_mode"] == "none"
    assert api.created["environment"] == {"BASE_DIR": "/data"}


@pytest.mark.parametrize("setting", ["OPENLINEAGE_URL", "PUSHGATEWAY_URL"])
def test_a_job_that_reports_joins_the_outbound_network_on_a_local_data_root(
    monkeypatch: pytest.MonkeyPatch, setting: str
) -> None:
    api = run_job(
        monkeypatch,
        0,
        base_dir="/data",
        network_mode="none",
        outbound_network_mode="net",
        job_settings=json.dumps({setting: "http://receiver:8080"}),
    )
    assert api.created["host_config"]["network_mode"] == "net"
    assert api.created["environment"] == {setting: "http://receiver:8080", "BASE_DIR": "/data"}


def test_the_lineage_api_key_comes_from_its_connection_privately(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SALES_LINEAGE", '{"conn_type": "http", "password": "lineage-s3cret"}')
    api = FakeDockerApi(0)
    monkeypatch.setattr(SalesJobOperator, "cli", property(lambda self: api))
    operator = SalesJobOperator(task_id="convert", image="sales-pipeline/convert:dev")
    operator.execute(context={})
    assert api.created["environment"]["OPENLINEAGE_API_KEY"] == "lineage-s3cret"
    # ``environment`` is a template field (rendered into the UI and the database); the key is not in it.
    assert "lineage-s3cret" not in json.dumps(operator.environment)


def test_without_a_lineage_connection_no_key_is_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    api = run_job(monkeypatch, 0)
    assert "OPENLINEAGE_API_KEY" not in api.created["environment"]


def test_an_object_store_data_root_mounts_nothing_and_passes_the_credentials_privately(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SALES_STORE", STORE_CONNECTION)
    operator_environment: dict[str, str] = {}
    api = run_job(
        monkeypatch,
        0,
        base_dir="s3://lake/pipeline",
        data_volume="lake-volume",
        network_mode="none",
        outbound_network_mode="store-net",
        environment=operator_environment,
    )
    host = api.created["host_config"]
    assert host["mounts"] == []
    assert host["network_mode"] == "store-net"
    assert api.created["environment"] == {
        "BASE_DIR": "s3://lake/pipeline",
        "AWS_ACCESS_KEY_ID": "pipeline-key",
        "AWS_SECRET_ACCESS_KEY": STORE_SECRET,
        "AWS_ENDPOINT_URL": "http://object-store:8333",
        "AWS_REGION": "eu-west-1",
    }


def test_the_store_credentials_stay_out_of_the_rendered_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SALES_STORE", STORE_CONNECTION)
    api = FakeDockerApi(0)
    monkeypatch.setattr(SalesJobOperator, "cli", property(lambda self: api))
    operator = SalesJobOperator(task_id="convert", image="sales-pipeline/convert:dev", base_dir="s3://lake/p")
    operator.execute(context={})
    assert STORE_SECRET in api.created["environment"].values()
    # ``environment`` is a template field (rendered into the UI and the database); the secret is not in it.
    assert STORE_SECRET not in json.dumps(operator.environment)


@pytest.mark.parametrize(
    "connection",
    [None, json.dumps({"conn_type": "aws", "login": "key-without-secret"})],
    ids=["no-connection", "no-secret"],
)
def test_an_object_store_without_usable_credentials_fails_before_any_container_starts(
    monkeypatch: pytest.MonkeyPatch, connection: str | None
) -> None:
    if connection is not None:
        monkeypatch.setenv("AIRFLOW_CONN_SALES_STORE", connection)
    api = FakeDockerApi(0)
    monkeypatch.setattr(SalesJobOperator, "cli", property(lambda self: api))
    operator = SalesJobOperator(task_id="extract", image="sales-pipeline/extract:dev", base_dir="s3://lake/p")
    with pytest.raises(AirflowFailException, match="sales_store"):
        operator.execute(context={})
    assert api.created == {}


def test_a_local_data_root_outside_the_volume_fails_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(AirflowFailException, match="sales_base_dir"):
        run_job(monkeypatch, 0, base_dir="/srv/lake", data_volume="lake-volume")


# --- job settings from Airflow ----------------------------------------------


def test_each_job_gets_the_settings_it_declares_from_the_json_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = json.dumps(
        {"EXTRACT_CONCURRENCY": 8, "CONVERT_WORKERS": 2, "LOG_LEVEL": "DEBUG", "EXTRACT_ALLOW_EMPTY": True}
    )
    extract = run_job(monkeypatch, 0, job_settings=settings)
    assert extract.created["environment"] == {
        "EXTRACT_CONCURRENCY": "8",
        "EXTRACT_ALLOW_EMPTY": "true",
        "LOG_LEVEL": "DEBUG",
        "BASE_DIR": "/data",
    }
    api = FakeDockerApi(0)
    monkeypatch.setattr(SalesJobOperator, "cli", property(lambda self: api))
    SalesJobOperator(
        task_id="convert", image="sales-pipeline/convert:dev", mount_tmp_dir=False, job_settings=settings
    ).execute(context={})
    assert api.created["environment"] == {"CONVERT_WORKERS": "2", "LOG_LEVEL": "DEBUG", "BASE_DIR": "/data"}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ('{"EXTRACT_CONCURENCY": 8}', "EXTRACT_CONCURENCY not settable here"),
        ('{"BASE_DIR": "/elsewhere"}', "BASE_DIR not settable here"),
        ('{"AUTH_TOKEN": "x"}', "AUTH_TOKEN not settable here"),
        ('{"OPENLINEAGE_API_KEY": "x"}', "OPENLINEAGE_API_KEY not settable here"),
        ("EXTRACT_CONCURRENCY=8", "not JSON"),
        ('["EXTRACT_CONCURRENCY"]', "must be a JSON object"),
        ('{"EXTRACT_CONCURRENCY": [8]}', "EXTRACT_CONCURRENCY must be a string or a number"),
    ],
    ids=["misspelt", "owned-by-the-dag", "token", "a-secret", "not-json", "not-an-object", "not-a-scalar"],
)
def test_a_bad_job_setting_fails_the_task_before_any_container_starts(
    monkeypatch: pytest.MonkeyPatch, settings: str, message: str
) -> None:
    with pytest.raises(AirflowFailException, match=message):
        run_job(monkeypatch, 0, job_settings=settings)


def test_the_settings_list_names_only_each_jobs_own_settings() -> None:
    assert "EXTRACT_CONCURRENCY" in support.JOB_SETTINGS["extract"]
    assert "EXTRACT_CONCURRENCY" not in support.JOB_SETTINGS["convert"]
    assert "CONVERT_WORKERS" in support.JOB_SETTINGS["convert"]
    assert "CONVERT_WORKERS" not in support.JOB_SETTINGS["extract"]
