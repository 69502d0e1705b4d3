"""The DAG's list of job settings is the one ``python -m shared.settings_doc --write`` derives from the declarations.

The DAG runs in Airflow's environment and cannot import the project, so it reads the
names from ``orchestration/airflow/dags/sales_job_settings.json``; this test (in the
jobs' environment) fails when a setting is declared, renamed or removed without
regenerating it.
"""

from __future__ import annotations

from shared import settings_doc


def test_the_dag_settings_list_matches_the_declarations() -> None:
    assert settings_doc.AIRFLOW_SETTINGS.read_text(encoding="utf-8") == settings_doc.render_airflow_settings(), (
        "run `python -m shared.settings_doc --write`"
    )
