"""Extract one date: every page into a fresh partition, the manifest last, then an atomic swap."""

from __future__ import annotations

import logging
import time
from datetime import date
from pathlib import Path
from typing import Any

from extract_job import TOOL
from extract_job.classify import Page
from extract_job.client import SalesApiClient
from extract_job.pagination import fetch_all
from shared import observe
from shared.errors import DataError, PartitionError
from shared.filenames import page_file_name
from shared.manifest import (
    FileEntry,
    new_manifest,
    new_run_id,
    utc_now,
)
from shared.storage import Partition, as_partition
from shared.testhook import reached
from shared.zones import RAW

log = logging.getLogger(__name__)


def _refuse_emptying(day: date, partition: Partition) -> None:
    """Raise when ``partition`` is complete and holds records: an empty answer must not erase them silently."""
    try:
        previous = partition.verify()
    except PartitionError:
        return
    records = int(previous.get("records") or 0)
    if records:
        raise DataError(
            f"the API now has no sales for {day}, but {partition} holds {records} records "
            f"(run {previous.get('run_id')}); kept as it was. Pass --allow-empty (EXTRACT_ALLOW_EMPTY=1) "
            "if the date really is empty now"
        )


def is_complete(partition: Path | Partition) -> bool:
    """Whether ``partition`` holds a complete raw partition (manifest and every file intact)."""
    try:
        as_partition(partition).verify()
    except PartitionError:
        return False
    return True


def extract_date(
    day: date,
    partition: Path | Partition,
    client: SalesApiClient,
    source: str,
    concurrency: int,
    max_pages: int,
    allow_empty: bool = False,
) -> dict[str, Any]:
    """Fetch every page of ``day`` and replace ``partition`` with them; on failure it stays as it was.

    A date the API answers with no sales does not replace a complete partition
    holding records (``DataError``) unless ``allow_empty``. Returns the committed manifest.
    """
    started, clock = utc_now(), time.monotonic()
    run_id = new_run_id()
    entries: dict[int, FileEntry] = {}
    target = as_partition(partition)
    with target.writer(run_id) as writer:

        def fetch_and_store(number: int) -> Page | None:
            # Runs in the fetching threads: a page goes to disk as soon as it arrives, off the main thread.
            page = client.fetch_page(day, number)
            if page is not None:
                writer.write_bytes(page_file_name(day, number), page.body)
                reached("extract.page-stored")
            return page

        def keep(page: Page) -> None:
            entries[page.number] = FileEntry(
                writer.listed_name(page_file_name(day, page.number)), page.records, len(page.body), page.sha256
            )

        pages = fetch_all(fetch_and_store, keep, concurrency, max_pages, abort=client.stop)
        files = [entries[n] for n in sorted(entries) if n <= pages]
        writer.keep_only({page_file_name(day, n) for n in sorted(entries) if n <= pages})  # drop pages past the end
        if not files and not allow_empty:
            _refuse_emptying(day, target)
        manifest = new_manifest(
            zone=RAW,
            day=day,
            tool=TOOL,
            run_id=run_id,
            started_at=started,
            files=files,
            pages=pages,
            records=sum(f.records for f in files),
            bytes=sum(f.bytes for f in files),
            source=source,
        )
        reached("extract.before-commit")
        writer.commit(manifest)
        observe.committed(manifest)
    seconds = round(time.monotonic() - clock, 3)
    log.info(
        "%s: %d pages, %d records, %d bytes in %.2fs -> %s",
        day,
        pages,
        manifest["records"],
        manifest["bytes"],
        seconds,
        target,
        extra={
            "date": day.isoformat(),
            "pages": pages,
            "records": manifest["records"],
            "bytes": manifest["bytes"],
            "seconds": seconds,
            "run_id": run_id,
        },
    )
    return manifest
