"""What one extracted date tells lineage and metrics, from the raw manifest it committed (``shared.observe``)."""

from __future__ import annotations

from shared.observe import Dataset, DateReport, Zones, manifest_of, url_dataset
from shared.outcomes import Outcome
from shared.zones import RAW


def describe(outcome: Outcome, run_id: str, zones: Zones, source: str) -> DateReport:
    """The API endpoint ``source`` (without credentials) read, ``raw/sales`` written."""
    raw = manifest_of(outcome, RAW)
    written = (
        Dataset(
            *zones.dataset(RAW),
            version=f"{outcome.day.isoformat()}/{run_id}",
            rows=int(raw["records"]),
            bytes=int(raw["bytes"]),
            files=len(raw["files"]),
        )
        if raw
        else Dataset(*zones.dataset(RAW))
    )
    return DateReport(
        day=outcome.day,
        run_id=run_id,
        started_at=outcome.started_at,
        finished_at=outcome.finished_at,
        inputs=(Dataset(*url_dataset(source)),),
        outputs=(written,),
        counts={"records": int(raw["records"]), "bytes": int(raw["bytes"]), "pages": int(raw["pages"])} if raw else {},
    )
