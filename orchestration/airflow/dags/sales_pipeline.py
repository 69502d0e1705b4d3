"""sales_pipeline: one run per day: the extract job, then the convert job, each in its own image.

Both containers process the run's logical date (``--date {{ ds }}``) under one data
root: the named Docker volume at /data, or an object store (Variable sales_base_dir =
s3://bucket/prefix) with no volume at all. Settings, the connections and the pool are
described in sales_pipeline_support.py and in docs/airflow.md.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG, CronDataIntervalTimetable
from sales_pipeline_support import (
    API_POOL,
    LINEAGE_PARENT,
    TOKEN_CONNECTION,
    SalesJobOperator,
    parse_time_settings,
    runtime_setting,
)

settings = parse_time_settings()

# Shared by both tasks: the data root, the job settings, the day of the run, retries with backoff.
job_defaults = {
    "command": ["--date", "{{ ds }}"],
    "base_dir": runtime_setting("sales_base_dir"),
    "data_volume": runtime_setting("sales_data_volume"),
    "job_settings": runtime_setting("sales_job_settings"),
    "mount_tmp_dir": False,  # the jobs write only to their data root; no host directory is needed
    "auto_remove": "force",  # the container's output is already in the task log
    "do_xcom_push": False,
    "retries": settings["retries"],
    "retry_delay": timedelta(seconds=settings["retry_delay_seconds"]),
    "retry_exponential_backoff": 2.0,  # the delay doubles at each try (Airflow 3: a multiplier)
    "max_retry_delay": timedelta(hours=1),
    "execution_timeout": timedelta(hours=1),  # a hung container gives its pool slot back
}

with DAG(
    dag_id="sales_pipeline",
    description="Sales API -> raw JSON partitions -> validated Avro staging partitions, one day per run",
    # A run covers one day and starts once that day is over; its logical date ({{ ds }}) is
    # that day. (Airflow 3's "@daily" would be a CronTriggerTimetable, whose ds is the run's own day.)
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=settings["start_date"],
    catchup=True,
    max_active_runs=4,
    tags=["sales"],
    doc_md=__doc__,
) as dag:
    extract = SalesJobOperator(
        task_id="extract",
        image=runtime_setting("sales_extract_image"),
        network_mode=runtime_setting("sales_docker_network"),
        token_connection=TOKEN_CONNECTION,
        pool=API_POOL,
        environment={"SALES_API_URL": runtime_setting("sales_api_url"), **LINEAGE_PARENT},
        **job_defaults,
    )
    convert = SalesJobOperator(
        task_id="convert",
        image=runtime_setting("sales_convert_image"),
        network_mode="none",  # on the data volume, convert needs no network
        # To reach an object store, or a lineage or metrics endpoint: the Docker network.
        outbound_network_mode=runtime_setting("sales_docker_network"),
        environment=dict(LINEAGE_PARENT),
        **job_defaults,
    )
    extract >> convert
