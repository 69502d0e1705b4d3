"""What one extracted date tells lineage and metrics, from the raw manifest it committed (``shared.observe``)."""

from __future__ import annotations

from shared.observe import Dataset, DateReport, ObservabilitySettings, manifest_of, url_dataset, zone_dataset
from shared.outcomes import Outcome
from shared.zones import RAW


def describe(outcome: Outcome, run_id: str, settings: ObservabilitySettings, source: str) -> DateReport:
    """The API endpoint ``source`` (without credentials) read, ``raw/sales`` written."""
    raw = manifest_of(outcome, RAW)
    written = (
        Dataset(
            *zone_dataset(settings, RAW),
            version=f"{outcome.day.isoformat()}/{run_id}",
            rows=int(raw["records"]),
            bytes=int(raw["bytes"]),
            files=len(raw["files"]),
        )
        if raw
        else Dataset(*zone_dataset(settings, RAW))
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
