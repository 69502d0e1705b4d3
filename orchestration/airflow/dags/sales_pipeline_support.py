"""What the ``sales_pipeline`` DAG needs besides its shape: settings, exit-code policy, the job operator.

Settings are Airflow Variables (or ``AIRFLOW_VAR_<NAME>`` environment variables),
each with a default that suits the bundled simulator started by ``docker compose``:

    read when the DAG file is parsed        read when a task runs (Jinja, no parse-time lookups)
    sales_start_date            2022-08-01  sales_extract_image    sales-pipeline/extract:dev
    sales_retries               3           sales_convert_image    sales-pipeline/convert:dev
    sales_retry_delay_seconds   300         sales_api_url          http://sales-api:8081/sales
                                            sales_docker_network   sales-pipeline_default
                                            sales_base_dir         /data
                                            sales_data_volume      sales-pipeline_data
                                            sales_job_settings     {}

``sales_base_dir`` is the jobs' data root. A path is on the volume ``sales_data_volume``,
mounted at /data. A URL (``s3://bucket/prefix``) is an object store: no volume is mounted,
both containers join ``sales_docker_network`` to reach it, and its credentials come from
the Airflow connection ``sales_store`` (type ``aws``: login = access key id, password =
secret access key, extra ``endpoint_url``, ``region_name``, ``aws_session_token``), passed
as the standard ``AWS_*`` variables.

``sales_job_settings`` is a JSON object of job settings (``{"EXTRACT_CONCURRENCY": 8,
"LOG_LEVEL": "DEBUG"}``); each task passes on the names its job declares
(``sales_job_settings.json``, generated from the jobs' declarations, secrets left out)
and an unknown name fails the task at once. Names the DAG sets itself (``DAG_OWNED``)
are refused too.

The API token is the password of the Airflow connection ``sales_api`` (so any
secrets backend can hold it); it is read when the extract task runs and reaches
the container through ``private_environment``, never a template or a log. The
store's credentials travel the same way, and so does the OpenLineage API key:
the password of the optional connection ``sales_lineage``, given to both jobs as
``OPENLINEAGE_API_KEY``. A job told to report (``OPENLINEAGE_URL``,
``OPENLINEAGE_CONFIG`` or ``PUSHGATEWAY_URL`` in ``sales_job_settings``) joins
``sales_docker_network`` even where it would otherwise run with no network
(convert on the data volume), so its events and metrics can leave.

The jobs' exit codes (``shared/errors.py``, README "Exit codes") decide what
Airflow does, in ``on_exit``: 0 is success; 2 (usage or configuration) and 3 (a
permanent failure: token rejected, raw partition altered, too many invalid
records) fail the task now, since another try would fail the same way; any
other status, 1 above all, gets another try after the task's backoff.
This module does not import the project: Airflow runs in an environment of its
own, and the jobs run in their images.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from airflow.providers.docker.exceptions import DockerContainerFailedSkipException
from airflow.providers.docker.operators.docker import DockerOperator
from airflow.sdk import BaseHook, Variable
from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException
from airflow.sdk.log import mask_secret
from docker.types import Mount

# Exit codes of both jobs, as documented in shared/errors.py.
EXIT_OK = 0
EXIT_RETRY = 1
EXIT_USAGE = 2
EXIT_PERMANENT = 3

TOKEN_CONNECTION = "sales_api"
"""Airflow connection whose password is the sales API token."""

API_POOL = "sales_api"
"""Airflow pool bounding how many extract tasks call the API at once, across DAG runs."""

STORE_CONNECTION = "sales_store"
"""Airflow connection (type ``aws``) holding the object store's credentials, endpoint and region."""

LINEAGE_CONNECTION = "sales_lineage"
"""Optional Airflow connection whose password is the OpenLineage API key (``OPENLINEAGE_API_KEY``)."""

REPORTING_SETTINGS = frozenset({"OPENLINEAGE_URL", "OPENLINEAGE_CONFIG", "PUSHGATEWAY_URL"})
"""Job settings that make a job send events or metrics over the network."""

DATA_MOUNT = "/data"
"""Where the data volume is mounted when the data root is a local path."""

DAG_OWNED = frozenset(
    {
        "BASE_DIR",
        "DATE",
        "SALES_API_URL",
        "AUTH_TOKEN",
        "AUTH_TOKEN_FILE",
        "OPENLINEAGE_PARENT_ID",
        "OPENLINEAGE_ROOT_PARENT_ID",
    }
)
"""Settings the DAG sets itself (Variables, ``--date``, connections): ``sales_job_settings`` may not."""

JOB_SETTINGS: dict[str, frozenset[str]] = {
    task: frozenset(names)
    for task, names in json.loads((Path(__file__).with_name("sales_job_settings.json")).read_text("utf-8")).items()
}
"""Task id -> the environment variables its job declares (generated by ``python -m shared.settings_doc --write``)."""

# Defaults of the run-time settings: the images `docker compose build` tags and the
# network and volume of the default compose project ("sales-pipeline").
RUNTIME_DEFAULTS = {
    "sales_extract_image": "sales-pipeline/extract:dev",
    "sales_convert_image": "sales-pipeline/convert:dev",
    "sales_api_url": "http://sales-api:8081/sales",
    "sales_docker_network": "sales-pipeline_default",
    "sales_base_dir": DATA_MOUNT,
    "sales_data_volume": "sales-pipeline_data",
    "sales_job_settings": "{}",
}

DEFAULT_START_DATE = "2022-08-01"
DEFAULT_RETRIES = 3
DEFAULT_RETRY_DELAY_SECONDS = 300


class OnExit(enum.Enum):
    """What Airflow does after a job container exits."""

    SUCCEED = "succeed"
    RETRY = "retry"
    """Fail this try; Airflow tries again while the task has retries left."""
    FAIL = "fail"
    """Fail the task now, whatever retries are left."""


def on_exit(code: int) -> OnExit:
    """The one place that decides what a job's exit status means to Airflow.

    1 (a date failed, a retry may fix it) is worth retrying by the jobs' contract.
    2 means the flags or the settings are wrong and 3 that something must change
    first (a token, a partition, the data): another try cannot fix either. Any
    other status (137 killed, 130/143 interrupted, a crash) is retried like 1.
    """
    if code == EXIT_OK:
        return OnExit.SUCCEED
    if code in (EXIT_USAGE, EXIT_PERMANENT):
        return OnExit.FAIL
    return OnExit.RETRY


FAIL_AT_ONCE_CODES: tuple[int, ...] = tuple(code for code in range(1, 256) if on_exit(code) is OnExit.FAIL)
"""The exit statuses ``on_exit`` maps to FAIL, handed to the provider as ``skip_on_exit_code``."""


def lineage_macro(name: str) -> str:
    """Jinja calling the OpenLineage provider's macro ``name`` when the provider is enabled, else ``""``.

    The provider registers its macros only while OpenLineage is configured in Airflow; a DAG that
    called them unguarded would fail every task of a deployment without it.
    """
    plugin = "macros.OpenLineageProviderPlugin"
    return (
        f"{{% if {plugin} is defined and {plugin}.{name} is defined %}}"
        f"{{{{ {plugin}.{name}(task_instance) }}}}{{% endif %}}"
    )


LINEAGE_PARENT = {
    "OPENLINEAGE_PARENT_ID": lineage_macro("lineage_parent_id"),
    "OPENLINEAGE_ROOT_PARENT_ID": lineage_macro("lineage_root_parent_id"),
}
"""What links the jobs' lineage events to the Airflow task run (``<namespace>/<job>/<run id>``)."""


def runtime_setting(name: str) -> str:
    """A Jinja expression reading Variable ``name`` (or its default) when the task runs."""
    return f"{{{{ var.value.get({name!r}, {RUNTIME_DEFAULTS[name]!r}) }}}}"


def parse_start_date(text: str) -> datetime:
    """``YYYY-MM-DD`` as midnight UTC; raises ``ValueError`` with the variable's name."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"Variable sales_start_date must be YYYY-MM-DD, got {text!r}") from None
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def parse_count(name: str, text: str) -> int:
    """A whole number >= 0 from Variable ``name``; raises ``ValueError`` naming it."""
    try:
        value = int(str(text).strip())
    except ValueError:
        raise ValueError(f"Variable {name} must be a whole number, got {text!r}") from None
    if value < 0:
        raise ValueError(f"Variable {name} must be 0 or more, got {value}")
    return value


def parse_time_settings() -> dict[str, Any]:
    """Settings the scheduler needs while parsing: the start date and the retry policy.

    Three Variable look-ups per parse; every other setting is read when a task runs.
    """
    return {
        "start_date": parse_start_date(Variable.get("sales_start_date", default=DEFAULT_START_DATE)),
        "retries": parse_count("sales_retries", Variable.get("sales_retries", default=DEFAULT_RETRIES)),
        "retry_delay_seconds": parse_count(
            "sales_retry_delay_seconds",
            Variable.get("sales_retry_delay_seconds", default=DEFAULT_RETRY_DELAY_SECONDS),
        ),
    }


def api_token(conn_id: str = TOKEN_CONNECTION) -> str:
    """The API token: the password of connection ``conn_id``.

    A missing connection or an empty password is a configuration error, so it
    raises ``AirflowFailException`` (no retries), as the job's exit status 2 would.
    """
    try:
        token = BaseHook.get_connection(conn_id).password
    except AirflowNotFoundException:
        raise AirflowFailException(
            f"Airflow connection {conn_id!r} is not defined; its password must be the sales API token"
        ) from None
    if not token:
        raise AirflowFailException(f"Airflow connection {conn_id!r} has no password (the sales API token)")
    return token


def store_environment(conn_id: str = STORE_CONNECTION) -> dict[str, str]:
    """The ``AWS_*`` variables of the object store, from the ``aws`` connection ``conn_id``.

    Login and password are the access key id and secret; the extra fields ``endpoint_url``,
    ``region_name`` and ``aws_session_token`` are those of Airflow's Amazon provider. A missing
    connection, or a key id without its secret, is a configuration error (no retries).
    """
    try:
        connection = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise AirflowFailException(
            f"Airflow connection {conn_id!r} is not defined; an s3:// sales_base_dir takes the store's "
            "credentials from it (type aws: login = access key id, password = secret, extra endpoint_url)"
        ) from None
    if bool(connection.login) != bool(connection.password):
        raise AirflowFailException(
            f"Airflow connection {conn_id!r} must have both a login (access key id) and a password (secret)"
        )
    extra = connection.extra_dejson
    values = {
        "AWS_ACCESS_KEY_ID": connection.login,
        "AWS_SECRET_ACCESS_KEY": connection.password,
        "AWS_SESSION_TOKEN": extra.get("aws_session_token"),
        "AWS_ENDPOINT_URL": extra.get("endpoint_url"),
        "AWS_REGION": extra.get("region_name"),
    }
    for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        if values[name]:
            mask_secret(values[name], name)
    return {name: str(value) for name, value in values.items() if value}


def lineage_environment(conn_id: str = LINEAGE_CONNECTION) -> dict[str, str]:
    """``OPENLINEAGE_API_KEY`` from the password of connection ``conn_id``; nothing when there is none.

    Optional: an endpoint that needs no key (or no lineage at all) needs no connection.
    """
    try:
        key = BaseHook.get_connection(conn_id).password
    except AirflowNotFoundException:
        return {}
    if not key:
        return {}
    mask_secret(key, "OPENLINEAGE_API_KEY")
    return {"OPENLINEAGE_API_KEY": key}


def job_settings(task_id: str, text: str) -> dict[str, str]:
    """The settings of Variable ``sales_job_settings`` (a JSON object) that the job of ``task_id`` declares.

    Raises ``AirflowFailException`` naming the problem: not a JSON object, a value that is
    not a string, number or boolean, a name that neither job declares, or one the DAG owns.
    """
    try:
        values = json.loads(text or "{}")
    except ValueError as error:
        raise AirflowFailException(f"Variable sales_job_settings is not JSON: {error}") from None
    if not isinstance(values, dict):
        raise AirflowFailException("Variable sales_job_settings must be a JSON object of NAME: value")
    declared = frozenset().union(*JOB_SETTINGS.values()) - DAG_OWNED
    unknown = sorted(name for name in values if name not in declared)
    if unknown:
        raise AirflowFailException(
            f"Variable sales_job_settings: {', '.join(unknown)} not settable here (not a job setting, a secret, "
            f"or set by the DAG itself); the settable names are {', '.join(sorted(declared))}"
        )
    wrong = sorted(name for name, value in values.items() if not isinstance(value, (str, int, float, bool)))
    if wrong:
        raise AirflowFailException(f"Variable sales_job_settings: {', '.join(wrong)} must be a string or a number")
    return {
        name: str(value).lower() if isinstance(value, bool) else str(value)
        for name, value in values.items()
        if name in JOB_SETTINGS.get(task_id, frozenset())
    }


def on_object_store(base_dir: str) -> bool:
    """A data root given as a URL is on an object store (the jobs say which schemes they support)."""
    return "://" in base_dir


class SalesJobOperator(DockerOperator):
    """``DockerOperator`` running one of the pipeline's job images, with the jobs' exit-code contract.

    The provider (apache-airflow-providers-docker, ``DockerOperator._run_image_with_mounts``)
    raises ``DockerContainerFailedSkipException`` when the container's status is in
    ``skip_on_exit_code`` and ``DockerContainerFailedException`` for any other non-zero
    status. This operator hands it the statuses ``on_exit`` maps to FAIL and turns that
    first exception into ``AirflowFailException``; the second one stays an ordinary
    failure, which Airflow retries.

    ``token_connection``: when set, the password of that connection is passed to the
    container as ``AUTH_TOKEN`` through ``private_environment``, read only when the
    task runs. ``network_mode`` is templated, so the Docker network can be a Variable.

    The data root, decided when the task runs (all three are templated): ``base_dir``
    becomes ``BASE_DIR``; a path mounts ``data_volume`` at /data, a URL mounts nothing
    and passes the credentials of ``store_connection`` privately. ``job_settings`` is the
    JSON text of Variable ``sales_job_settings``; the names the job declares go into its
    environment. ``outbound_network_mode``, when given, replaces ``network_mode`` for a job
    that must reach something beyond its data volume: an object store, or a lineage or
    metrics endpoint (``REPORTING_SETTINGS``). The OpenLineage API key, when the
    connection ``lineage_connection`` holds one, goes in privately.
    """

    template_fields: Sequence[str] = (
        *DockerOperator.template_fields,
        "network_mode",
        "base_dir",
        "data_volume",
        "outbound_network_mode",
        "job_settings",
    )

    def __init__(
        self,
        *,
        token_connection: str | None = None,
        base_dir: str = DATA_MOUNT,
        data_volume: str | None = None,
        store_connection: str = STORE_CONNECTION,
        outbound_network_mode: str | None = None,
        lineage_connection: str = LINEAGE_CONNECTION,
        job_settings: str = "{}",
        **kwargs: Any,
    ) -> None:
        if "skip_on_exit_code" in kwargs:
            raise ValueError("SalesJobOperator sets skip_on_exit_code itself (see on_exit)")
        super().__init__(skip_on_exit_code=FAIL_AT_ONCE_CODES, **kwargs)
        self.token_connection = token_connection
        self.base_dir = base_dir
        self.data_volume = data_volume
        self.store_connection = store_connection
        self.outbound_network_mode = outbound_network_mode
        self.lineage_connection = lineage_connection
        self.job_settings = job_settings

    def prepare_data_root(self) -> None:
        """Mounts, network and ``BASE_DIR`` for the rendered ``base_dir``."""
        private: Mapping[str, str] = {}
        settings = job_settings(self.task_id, self.job_settings)
        if on_object_store(self.base_dir):
            self.mounts = []
            private = store_environment(self.store_connection)
        elif self.base_dir != DATA_MOUNT and not self.base_dir.startswith(f"{DATA_MOUNT}/"):
            raise AirflowFailException(
                f"Variable sales_base_dir must be {DATA_MOUNT} or a folder in it (the data volume), "
                f"or an s3:// URL; got {self.base_dir!r}"
            )
        elif self.data_volume:
            self.mounts = [*self.mounts, Mount(target=DATA_MOUNT, source=self.data_volume, type="volume")]
        if self.outbound_network_mode and (on_object_store(self.base_dir) or REPORTING_SETTINGS & settings.keys()):
            self.network_mode = self.outbound_network_mode
        self.environment = {
            **settings,
            **self.environment,
            "BASE_DIR": self.base_dir,
        }
        self._private_environment = {
            **self._private_environment,
            **private,
            **lineage_environment(self.lineage_connection),
        }

    def execute(self, context: Any) -> Any:
        if self.token_connection:
            self._private_environment = {**self._private_environment, "AUTH_TOKEN": api_token(self.token_connection)}
        self.prepare_data_root()
        try:
            return super().execute(context)
        except DockerContainerFailedSkipException as exc:
            statuses = "/".join(str(code) for code in FAIL_AT_ONCE_CODES)
            raise AirflowFailException(
                f"{self.task_id}: the job exited with status {statuses}: a usage or configuration error (2) or "
                "a permanent failure (3) that another try cannot fix; not retrying. Fix the cause named in "
                "the task's log, then clear the task."
            ) from exc
