"""The project's file-name conventions, in one place: what each zone's partition folder holds.

Besides naming files, these patterns decide what the jobs may touch: an output
folder holding anything else was not written by the pipeline, so it is refused
(``shared.targets``), and removal (``shared.partition``) deletes only names that
match here. A name the pipeline did not make is never deleted.

    raw/sales/<date>/          sales_<date>_<page>.json ... _SUCCESS
    stg/sales/<date>/          sales_<date>.avro _SUCCESS
    quarantine/sales/<date>/   run=<run id>/ (rejected.jsonl _SUCCESS ._SUCCESS.new), rejected.jsonl (older layout)
    beside any partition       .<name>.tmp-<run id>/ .<name>.old-<run id>/  (a run's hidden temporaries)
"""

from __future__ import annotations

import re
from datetime import date

from shared.zones import QUARANTINE, RAW, STAGING

SUCCESS_FILE = "_SUCCESS"
REJECTED_FILE = "rejected.jsonl"
QUARANTINE_RUN_PREFIX = "run="
MANIFEST_REWRITE = f".{SUCCESS_FILE}.new"  # a quarantine run's manifest being rewritten
TMP_INFIX = ".tmp-"
OLD_INFIX = ".old-"

_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_RUN_ID = r"[0-9a-f-]{8,64}"
_TEMPORARY = re.compile(rf"\..+(?:{re.escape(TMP_INFIX)}|{re.escape(OLD_INFIX)}){_RUN_ID}")

_OWN_FILES: dict[str, re.Pattern[str]] = {
    RAW: re.compile(rf"sales_{_DATE}_[1-9][0-9]*\.json|{SUCCESS_FILE}"),
    STAGING: re.compile(rf"sales_{_DATE}\.avro|{SUCCESS_FILE}"),
    QUARANTINE: re.compile(
        rf"{re.escape(REJECTED_FILE)}|{SUCCESS_FILE}|{re.escape(MANIFEST_REWRITE)}|"
        rf"{re.escape(QUARANTINE_RUN_PREFIX)}{_RUN_ID}"
    ),
}


def page_file_name(day: date, page: int) -> str:
    return f"sales_{day.isoformat()}_{page}.json"


def avro_file_name(day: date) -> str:
    return f"sales_{day.isoformat()}.avro"


def tmp_prefix(partition_name: str) -> str:
    """The start of the name of a run's temporary folder beside partition ``partition_name``."""
    return f".{partition_name}{TMP_INFIX}"


def old_prefix(partition_name: str) -> str:
    """The start of the name a replaced partition takes while it is set aside."""
    return f".{partition_name}{OLD_INFIX}"


def is_temporary(name: str) -> bool:
    """Whether ``name`` is one of a run's hidden temporaries (``.<partition>.tmp-<run id>``, ``.old-``)."""
    return _TEMPORARY.fullmatch(name) is not None


def is_own(zone: str, name: str) -> bool:
    """Whether a partition folder of ``zone`` holding ``name`` could have been written by the pipeline."""
    return _OWN_FILES[zone].fullmatch(name) is not None or is_temporary(name)


def is_project_file(name: str) -> bool:
    """Whether ``name`` is one the pipeline writes in any zone: the only names it ever deletes."""
    return any(is_own(zone, name) for zone in _OWN_FILES)
