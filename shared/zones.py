"""Where each zone keeps a dataset's date partitions under ``BASE_DIR``."""

from __future__ import annotations

from datetime import date
from pathlib import Path

RAW = "raw"
STAGING = "stg"
QUARANTINE = "quarantine"
DATASET = "sales"


def partition_dir(base: Path, zone: str, day: date, dataset: str = DATASET) -> Path:
    """``BASE_DIR/<zone>/<dataset>/<YYYY-MM-DD>``."""
    return base / zone / dataset / day.isoformat()
