"""What the ``sales_pipeline`` DAG needs besides its shape: settings, exit-code policy, the job operator.

Settings are Airflow Variables (or ``AIRFLOW_VAR_<NAME>`` environment variables),
each with a default that suits the bundled simulator started by ``docker compose``:

    read when the DAG file is parsed        read when a task runs (Jinja, no parse-time lookups)
    sales_start_date            2022-08-01  sales_extract_image    sales-pipeline/extract:dev
    sales_retries               3           sales_convert_image    sales-pipeline/convert:dev
    sales_retry_delay_seconds   300         sales_api_url          http://sales-api:8081/sales
                                            sales_docker_network   sales-pipeline_default
                                            sales_data_volume      sales-pipeline_data

The API token is the password of the Airflow connection ``sales_api`` (so any
secrets backend can hold it); it is read when the extract task runs and reaches
the container through ``private_environment``, never a template or a log.

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
from collections.abc import Sequence
from datetime import date, datetime, timezone
from typing import Any

from airflow.providers.docker.exceptions import DockerContainerFailedSkipException
from airflow.providers.docker.operators.docker import DockerOperator
from airflow.sdk import BaseHook, Variable
from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException

# Exit codes of both jobs, as documented in shared/errors.py.
EXIT_OK = 0
EXIT_RETRY = 1
EXIT_USAGE = 2
EXIT_PERMANENT = 3

TOKEN_CONNECTION = "sales_api"
"""Airflow connection whose password is the sales API token."""

API_POOL = "sales_api"
"""Airflow pool bounding how many extract tasks call the API at once, across DAG runs."""

# Defaults of the run-time settings: the images `docker compose build` tags and the
# network and volume of the default compose project ("sales-pipeline").
RUNTIME_DEFAULTS = {
    "sales_extract_image": "sales-pipeline/extract:dev",
    "sales_convert_image": "sales-pipeline/convert:dev",
    "sales_api_url": "http://sales-api:8081/sales",
    "sales_docker_network": "sales-pipeline_default",
    "sales_data_volume": "sales-pipeline_data",
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
    """

    template_fields: Sequence[str] = (*DockerOperator.template_fields, "network_mode")

    def __init__(self, *, token_connection: str | None = None, **kwargs: Any) -> None:
        if "skip_on_exit_code" in kwargs:
            raise ValueError("SalesJobOperator sets skip_on_exit_code itself (see on_exit)")
        super().__init__(skip_on_exit_code=FAIL_AT_ONCE_CODES, **kwargs)
        self.token_connection = token_connection

    def execute(self, context: Any) -> Any:
        if self.token_connection:
            self._private_environment = {**self._private_environment, "AUTH_TOKEN": api_token(self.token_connection)}
        try:
            return super().execute(context)
        except DockerContainerFailedSkipException as exc:
            statuses = "/".join(str(code) for code in FAIL_AT_ONCE_CODES)
            raise AirflowFailException(
                f"{self.task_id}: the job exited with status {statuses}: a usage or configuration error (2) or "
                "a permanent failure (3) that another try cannot fix; not retrying. Fix the cause named in "
                "the task's log, then clear the task."
            ) from exc
