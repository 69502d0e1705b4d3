"""docs/airflow.md names every file the DAG needs: the files it says to copy are exactly the DAG folder's.

The DAG fails to import when one is left behind (``sales_job_settings.json`` is read
when the DAG is parsed), so a file added to or removed from the folder must show in
the instructions. Runs in the jobs' environment, without Airflow.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "orchestration" / "airflow" / "dags"
SECTION = "## Where the DAG goes"


def files_the_doc_says_to_copy() -> list[str]:
    """The ``* `name`:`` items of the section that tells where the DAG goes."""
    text = (ROOT / "docs" / "airflow.md").read_text(encoding="utf-8")
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\* `([^`]+)`:", section, re.M)


def dag_folder_files() -> list[str]:
    """What the folder holds for Airflow, bytecode caches left out."""
    return [path.name for path in DAGS.iterdir() if path.is_file()]


def test_the_doc_lists_every_file_of_the_dag_folder() -> None:
    listed = files_the_doc_says_to_copy()
    assert len(listed) == len(set(listed)), listed
    assert sorted(listed) == sorted(dag_folder_files())
