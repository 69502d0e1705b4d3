"""The dates of extract's last run, recorded in the raw zone so convert, given no date, converts exactly those.

Without it each container worked out "yesterday" on its own, and a ``docker compose
up`` crossing midnight UTC extracted one day and converted another. The record is
``BASE_DIR/raw/sales/_LAST_RUN``, a JSON object replaced atomically through the
storage seam (on disk a new file renamed over the old one; on a store one put)::

    {"format": 1, "dates": ["2022-08-09"], "run_id": "…", "finished_at": "…"}

``dates`` lists the dates whose raw partition is complete after that run (written
or already complete); a date that failed, or that the run did not reach, is not
in it. Extract replaces the record at the end of every run that began its work,
failed, stopped or interrupted ones included, so the list may be empty: convert,
given no date, then converts nothing rather than an earlier run's dates.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from shared.dates import parse_date
from shared.errors import ConfigError
from shared.manifest import utc_now
from shared.storage import Root, as_root
from shared.zones import DATASET, RAW

LAST_RUN_FILE = "_LAST_RUN"
_FORMAT = 1


def last_run_path(base: Path) -> Path:
    """Where the record is under a local ``BASE_DIR``."""
    return base / RAW / DATASET / LAST_RUN_FILE


def record_last_run(base: Path | Root, days: list[date], run_id: str) -> None:
    """Replace the record with ``days``, atomically: a reader sees the old record or the new one."""
    record = {"format": _FORMAT, "dates": [d.isoformat() for d in days], "run_id": run_id, "finished_at": utc_now()}
    as_root(base).write_record(RAW, LAST_RUN_FILE, (json.dumps(record, indent=2) + "\n").encode("utf-8"), run_id)


def last_run_dates(base: Path | Root) -> list[date] | None:
    """The dates extract's last run left complete, or None when there is no record.

    A record that cannot be read is a configuration problem (exit 2), not a
    reason to convert some other day.
    """
    root = as_root(base)
    where = root.record_location(RAW, LAST_RUN_FILE)
    try:
        data = root.read_record(RAW, LAST_RUN_FILE)
        if data is None:
            return None
        record = json.loads(data.decode("utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read extract's record of its last run, {where}: {exc}; pass a date") from None
    if not isinstance(record, dict) or not isinstance(record.get("dates"), list):
        raise ConfigError(f"{where} is malformed: expected an object with a 'dates' list; pass a date")
    return [parse_date(str(day)) for day in record["dates"]]
