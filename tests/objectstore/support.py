"""What the object-store tests share: reading a zone back from the store as a reader would, and its garbage."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import avro.datafile
import avro.io

from shared.filenames import SUCCESS_FILE
from shared.manifest import file_entries
from shared.storage.location import ObjectLocation
from shared.storage.s3 import S3Options, S3Partition, S3Store

from .seaweed import SeaweedFS


def reader(store: SeaweedFS, bucket: str, *parts: str) -> S3Partition:
    """The partition at ``s3://bucket/<parts>`` through the pipeline's own reader (it follows ``_SUCCESS``)."""
    options = S3Options.from_env(store.env(f"s3://{bucket}"), part_size=8 << 20, grace_seconds=3600.0, max_attempts=3)
    return S3Partition(S3Store(options), ObjectLocation(bucket, "/".join(parts)))


def objects(store: SeaweedFS, bucket: str, prefix: str = "") -> dict[str, bytes]:
    """Every object under ``prefix`` with its bytes."""
    client = store.client()
    found: dict[str, bytes] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            found[item["Key"]] = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return found


def unfinished_uploads(store: SeaweedFS, bucket: str) -> list[str]:
    return [upload["Key"] for upload in store.client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def unreferenced(store: SeaweedFS, bucket: str, partition: str) -> list[str]:
    """Keys below a raw or staging partition that its ``_SUCCESS`` does not list (nor is)."""
    manifest = reader(store, bucket, partition).read_manifest()
    listed = {f"{partition}/{entry.name}" for entry in file_entries(manifest)} | {f"{partition}/{SUCCESS_FILE}"}
    return sorted(set(objects(store, bucket, f"{partition}/")) - listed)


def read_avro(data: bytes) -> list[dict[str, Any]]:
    """An Avro file's records, read with Apache's own ``avro`` library."""
    with avro.datafile.DataFileReader(io.BytesIO(data), avro.io.DatumReader()) as reader:
        records: list[Any] = list(reader)  # the avro package's reader yields untyped datums
    return records


def as_served(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record of the API as the Avro file holds it (``purchase_date`` is a date there)."""
    from datetime import date

    return {
        "client": record["client"],
        "purchase_date": date.fromisoformat(record["purchase_date"]),
        "product": record["product"],
        "price": record["price"],
    }
