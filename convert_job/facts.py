"""What one converted date tells lineage and metrics, from the manifests it committed (``shared.observe``)."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from convert_job.schema import SCHEMA_FILE
from shared.manifest import canonical_run_id
from shared.observe import Dataset, DateReport, Quality, SchemaField, Zones, manifest_of
from shared.outcomes import Outcome
from shared.zones import QUARANTINE, RAW, STAGING


@lru_cache(maxsize=1)
def staging_fields() -> tuple[SchemaField, ...]:
    """The staging schema's fields as OpenLineage's schema facet lists them: Avro type (logical type if any)."""
    text = resources.files("convert_job.schemas").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    return tuple(
        SchemaField(entry["name"], _type_name(entry["type"]), entry.get("doc")) for entry in json.loads(text)["fields"]
    )


def _type_name(avro_type: Any) -> str:
    if isinstance(avro_type, dict):
        return str(avro_type.get("logicalType") or avro_type["type"])
    return str(avro_type)


def describe(outcome: Outcome, run_id: str, zones: Zones) -> DateReport:
    """``raw/sales`` read; ``stg/sales`` and ``quarantine/sales`` written (a failed date: only its rejects)."""
    day = outcome.day.isoformat()
    staging = manifest_of(outcome, STAGING)
    rejects = manifest_of(outcome, QUARANTINE)
    source = staging or rejects or {}
    raw_run = source.get("raw_run_id")
    version = f"{day}/{run_id}"
    quality = (
        Quality(
            read=int(source["records_read"]),
            rejected=int(source["records_rejected"]),
            unknown_fields=dict(staging.get("unknown_fields") or {}) if staging else {},
        )
        if source
        else None
    )
    read = Dataset(
        *zones.dataset(RAW),
        version=f"{day}/{canonical_run_id(str(raw_run))}" if raw_run else None,
        rows=quality.read if quality else None,
    )
    stg = Dataset(*zones.dataset(STAGING), schema=staging_fields())
    if staging:
        (avro,) = staging["files"]
        stg = Dataset(
            *zones.dataset(STAGING),
            version=version,
            rows=int(staging["records_written"]),
            bytes=int(avro["bytes"]),
            files=len(staging["files"]),
            schema=staging_fields(),
        )
    quarantined = Dataset(*zones.dataset(QUARANTINE))
    if rejects:
        quarantined = Dataset(
            *zones.dataset(QUARANTINE),
            version=version,
            rows=int(rejects["records_rejected"]),
            bytes=sum(int(f["bytes"]) for f in rejects["files"]),
            files=len(rejects["files"]),
            quality=quality,
        )
    counts = {"records": stg.rows or 0, "bytes": stg.bytes or 0, "rejected": quarantined.rows or 0} if staging else {}
    return DateReport(
        day=outcome.day,
        run_id=run_id,
        started_at=outcome.started_at,
        finished_at=outcome.finished_at,
        inputs=(read,),
        outputs=(stg, quarantined),
        counts=counts,
    )
