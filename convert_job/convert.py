"""Convert one raw partition into a staging partition, quarantining what does not validate."""

from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from itertools import chain
from pathlib import Path
from typing import Any, BinaryIO

from convert_job import TOOL
from convert_job.avro_output import sync_marker, write_avro
from convert_job.decoding import decode_valid_page
from convert_job.raw_reader import RawPage, iter_pages, parse_page
from convert_job.schema import FIELDS, schema_fingerprint
from convert_job.validation import Rejection, unknown_fields, validate
from shared import observe
from shared.errors import DataError, PartitionError
from shared.filenames import avro_file_name
from shared.manifest import (
    MANIFEST_FORMAT,
    FileEntry,
    file_entries,
    manifest_format,
    new_manifest,
    new_run_id,
    utc_now,
)
from shared.outcomes import Status
from shared.quarantine import (
    DEFAULT_KEEP_FAILED_RUNS,
    FAILED,
    PENDING,
    REJECTED_FILE,
    paired_run,
    pairing,
    prune_failed,
    run_partition,
    settle,
)
from shared.storage import Partition, as_partition
from shared.testhook import reached
from shared.zones import QUARANTINE, STAGING

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Targets:
    """Where one date's partitions live, on any store (``shared.storage``; a path is a local folder)."""

    raw: Path | Partition
    staging: Path | Partition
    quarantine: Path | Partition
    """The date's quarantine folder, which holds one folder per run (``shared.quarantine``)."""


@dataclass
class Tally:
    """Counts kept while records stream through."""

    read: int = 0
    written: int = 0
    rejected: int = 0
    unknown_fields: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    """Rejections by kind of reason (``reason_kind``)."""


def screen(pages: Iterable[RawPage], tally: Tally, rejects: BinaryIO) -> Iterator[dict[str, Any]]:
    """Yield the valid records ready for Avro; write each invalid one, with why, as a JSON line to ``rejects``.

    Records flow page by page (``screen_pages``) and are handed on by
    ``itertools.chain``, so no Python code runs between two records of a page.
    """
    return chain.from_iterable(screen_pages(pages, tally, rejects))


def screen_pages(pages: Iterable[RawPage], tally: Tally, rejects: BinaryIO) -> Iterator[list[dict[str, Any]]]:
    """Each page's valid records, Avro-ready; its invalid ones go to ``rejects``.

    A page is first decoded by the fast path, which takes it only when every
    record is valid as it stands; any other page is read again with ``json`` and
    each record judged by ``validate``, exactly as before the fast path existed,
    so both paths give the same records, rejects and counts. Counts are kept in
    locals and handed to ``tally`` when the loop ends, however it ends.
    """
    read = written = rejected = 0
    schema_width = len(FIELDS)
    try:
        for page in pages:
            records = decode_valid_page(page.data)
            if records is not None:
                read += len(records)
                written += len(records)
                _log_page(page, len(records), 0)
                yield records
                continue
            parsed, surrogate_free = parse_page(page.path, page.data)
            valid: list[dict[str, Any]] = []
            for index, record in enumerate(parsed):
                result = validate(record, surrogate_free)
                if isinstance(result, Rejection):
                    rejected += 1
                    tally.reasons[reason_kind(result.reason)] += 1
                    rejects.write(reject_line(page.name, index, result.reason, record))
                    continue
                if len(record) != schema_width:
                    tally.unknown_fields.update(unknown_fields(record))
                valid.append(result)
            read += len(parsed)
            written += len(valid)
            _log_page(page, len(parsed), len(parsed) - len(valid))
            yield valid
    finally:
        tally.read, tally.written, tally.rejected = read, written, rejected


def _log_page(page: RawPage, records: int, rejected: int) -> None:
    log.debug("read %s: %d bytes, %d records, %d rejected", page.path, len(page.data), records, rejected)


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_GOT = re.compile(r", got .*$")
_DIGITS = re.compile(r"\d+ digits")


def reason_kind(reason: str) -> str:
    """A rejection's reason without the record's own values, to count rejections by kind.

    "purchase_date '2022-13-01' is not a real YYYY-MM-DD date" and the same for
    another date are one kind: quoted values become ``…``, a trailing "got …" goes.
    """
    return _DIGITS.sub("too many digits", _GOT.sub("", _QUOTED.sub("…", reason)))


def reject_line(source: str, index: int, reason: str, record: Any) -> bytes:
    """One quarantine line of strict JSON (RFC 8259), whatever the record holds.

    A record JSON cannot carry (NaN, Infinity, a ``BigNumber``) is kept as its ``repr`` text under
    ``record_repr`` instead, so writing a reject never fails.
    """
    line = {"source_file": source, "index": index, "reason": reason, "record": record}
    try:
        text = json.dumps(line, ensure_ascii=False, allow_nan=False)
    except (ValueError, TypeError, RecursionError):  # TypeError: a BigNumber
        line["record"] = None
        line["record_repr"] = _safe_repr(record)
        text = json.dumps(line, ensure_ascii=False)
    # A lone surrogate (valid JSON, not UTF-8) is written as its \uXXXX escape, which reads back the same.
    return text.encode("utf-8", "backslashreplace") + b"\n"


def _safe_repr(record: Any) -> str:
    try:
        return repr(record)
    except RecursionError:
        return "<nested too deeply to show>"


def is_up_to_date(staging: Path | Partition, quarantine: Path | Partition, raw_run_id: str, codec: str) -> bool:
    """Whether staging already holds this raw run converted with this schema, codec and manifest format, paired.

    Cheap by design (no re-hashing of the Avro file): the listing and each file's
    size must match the manifest, which catches a truncated or replaced file. The
    quarantine run staging names must be there the same way, with the rejects file
    staging records: a reader starting from staging always finds its rejects. A
    staging partition of an older manifest format is converted again, which pairs
    it with its quarantine.
    """
    manifest = _intact(as_partition(staging))
    return (
        manifest is not None
        and manifest_format(manifest) == MANIFEST_FORMAT
        and manifest.get("raw_run_id") == raw_run_id
        and manifest.get("schema_fingerprint") == schema_fingerprint()
        and manifest.get("codec") == codec
        and _holds_paired_rejects(quarantine, manifest)
    )


def _intact(partition: Partition) -> dict[str, Any] | None:
    """The manifest of ``partition`` if every file it lists is there at the size it lists, else None."""
    try:
        manifest = partition.read_manifest()
        partition.check_files(manifest)
    except PartitionError:
        return None
    if any(partition.size(entry.name) != entry.bytes for entry in file_entries(manifest)):
        return None
    return manifest


def _holds_paired_rejects(quarantine: Path | Partition, staging_manifest: dict[str, Any]) -> bool:
    """Whether the quarantine run staging's manifest names is intact and lists the rejects file staging records."""
    run_id = paired_run(staging_manifest)
    run = None if run_id is None else _intact(run_partition(quarantine, run_id))
    return run is not None and any(
        entry.sha256 == staging_manifest["quarantine"]["sha256"] for entry in file_entries(run)
    )


def _announced(pages: Iterable[RawPage]) -> Iterator[RawPage]:
    for page in pages:
        yield page
        reached("convert.page")


def convert_date(
    day: date,
    targets: Targets,
    codec: str,
    max_invalid_ratio: float,
    force: bool = False,
    keep_failed_runs: int = DEFAULT_KEEP_FAILED_RUNS,
) -> Status:
    """Convert ``day``; returns DONE, or SKIPPED when staging is already up to date.

    Raises ``PartitionError`` for a missing, partial or altered raw partition (or one of another date) and
    ``DataError`` when too many records are invalid; staging, and the quarantine run
    it names, are untouched in both cases. The run's rejects go to its own run folder
    (``shared.quarantine``), committed before staging, whose manifest then names it.
    """
    raw, staging_zone, quarantine_zone = (as_partition(t) for t in (targets.raw, targets.staging, targets.quarantine))
    raw_manifest = raw.read_manifest()
    raw.check_date(raw_manifest, day)
    raw.check_files(raw_manifest)
    raw_run_id = str(raw_manifest.get("run_id", ""))
    if not force and is_up_to_date(staging_zone, quarantine_zone, raw_run_id, codec):
        # A run killed after its swap left the old folder, or its quarantine unsettled; no writer will run to tidy.
        staging_zone.clean_leftovers()
        quarantine_zone.clean_leftovers()
        settle(quarantine_zone, paired_run(staging_zone.read_manifest()), keep_failed_runs)
        log.info("%s: up to date (raw run %s), nothing to do", day, raw_run_id)
        return Status.SKIPPED

    started, clock, run_id = utc_now(), time.monotonic(), new_run_id()
    tally = Tally()
    name = avro_file_name(day)
    rejects_folder = run_partition(quarantine_zone, run_id)
    with staging_zone.writer(run_id) as staging, rejects_folder.writer(run_id) as quarantine:
        with staging.open(name) as avro_file, quarantine.open(REJECTED_FILE) as rejects_file:
            pages = _announced(iter_pages(raw, raw_manifest))
            avro = write_avro(avro_file, screen(pages, tally, rejects_file), codec, sync_marker(raw_run_id, name))
        rejects = quarantine.entry(REJECTED_FILE, tally.rejected)
        reached("convert.rejects-written")
        problem = _ratio_problem(tally, max_invalid_ratio)
        rejected_manifest = new_manifest(
            zone=QUARANTINE,
            day=day,
            tool=TOOL,
            run_id=run_id,
            started_at=started,
            files=[rejects],
            status=FAILED if problem else PENDING,
            raw_run_id=raw_run_id,
            staging_run_id=None if problem else run_id,
            records_read=tally.read,
            records_rejected=tally.rejected,
            reasons=dict(tally.reasons.most_common()),
            **({"error": problem} if problem else {}),
        )
        quarantine.commit(rejected_manifest)
        observe.committed(rejected_manifest)
        if problem:
            prune_failed(quarantine_zone, keep_failed_runs)
            raise DataError(f"{problem}; staging left as it was, rejects in {rejects_folder}/{rejects.name}")
        reached("convert.quarantine-committed")
        _warn_drift(day, tally)
        manifest = new_manifest(
            zone=STAGING,
            day=day,
            tool=TOOL,
            run_id=run_id,
            started_at=started,
            files=[FileEntry(staging.listed_name(name), tally.written, avro.bytes, avro.hexdigest())],
            raw_run_id=raw_run_id,
            records_read=tally.read,
            records_written=tally.written,
            records_rejected=tally.rejected,
            unknown_fields=dict(sorted(tally.unknown_fields.items())),
            schema="sale.v1",
            schema_fingerprint=schema_fingerprint(),
            codec=codec,
            quarantine=pairing(run_id, tally.rejected, rejects.sha256),
        )
        staging.commit(manifest)
        observe.committed(manifest)
    reached("convert.staging-committed")
    settle(quarantine_zone, run_id, keep_failed_runs)
    seconds = round(time.monotonic() - clock, 3)
    log.info(
        "%s: %d records in, %d out, %d rejected in %.2fs -> %s",
        day,
        tally.read,
        tally.written,
        tally.rejected,
        seconds,
        staging_zone,
        extra={
            "date": day.isoformat(),
            "records_in": tally.read,
            "records_out": tally.written,
            "rejected": tally.rejected,
            "seconds": seconds,
            "run_id": run_id,
        },
    )
    return Status.DONE


def _ratio_problem(tally: Tally, max_ratio: float) -> str | None:
    """Why this run's share of invalid records fails the date, or None."""
    if tally.read and tally.rejected / tally.read > max_ratio:
        return (
            f"{tally.rejected} of {tally.read} records are invalid ({tally.rejected / tally.read:.2%}), "
            f"more than --max-invalid-ratio {max_ratio:g}"
        )
    return None


def _warn_drift(day: date, tally: Tally) -> None:
    if tally.unknown_fields:
        fields = ", ".join(f"{name} ({count})" for name, count in tally.unknown_fields.most_common())
        log.warning(
            "%s: fields not in the schema were left out of Avro: %s",
            day,
            fields,
            extra={"date": day.isoformat(), "unknown_fields": dict(tally.unknown_fields)},
        )
