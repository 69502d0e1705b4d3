"""Convert against a corpus of bad raw partitions: a clear refusal or a quarantined record, never a crash.

Each raw partition is built with a manifest consistent with its files (so the
integrity gate passes and the content is what is tested), unless the case is
about the manifest itself. Before each run the staging and quarantine zones
hold a previous complete conversion: a refused partition must leave them
byte-for-byte as they were (no partial staging partition, ever).

Decisions recorded here (and in docs/reliability.md):
* a page that cannot be read as a whole (not UTF-8, a BOM, not JSON, not an
  array, nested too deeply) refuses the date: the file is what is wrong, not
  one record;
* an integer beyond Python's 4300-digit limit is valid JSON: its record is
  quarantined and the rest of the page converts;
* NaN / Infinity / -Infinity are read (Python's json does) and quarantine the
  record if they sit in ``price``; in an unknown field they are dropped with it;
* duplicate keys: the last one wins, as in JSON.parse and Python's json;
* a quarantine line is strict JSON (RFC 8259); a record JSON cannot hold is kept
  as its ``repr`` text instead, so writing the reject never crashes.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from shared.filenames import SUCCESS_FILE
from shared.manifest import manifest_bytes, verify_partition
from shared.quarantine import REJECTED_FILE, run_folder

from ..support.avro import avro_records as read_avro
from .support import (
    CONVERT,
    DAY,
    assert_clean_failure,
    assert_success,
    hidden_entries,
    page_name,
    run_job,
    snapshot,
    write_raw_partition,
)

GOOD = '{"client": "Ann", "purchase_date": "2022-08-09", "product": "TV", "price": 10}'
FILLER = 99  # valid records beside the bad one: 1 reject in 100 stays within the default 1% ratio


def page_with(bad_record: str, filler: int = FILLER) -> bytes:
    """A page of ``filler`` valid records and one more, given as raw JSON text."""
    return ("[" + ", ".join([GOOD] * filler + [bad_record]) + "]").encode("utf-8")


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


Builder = Callable[[Path], object]
"""Makes or alters a raw partition in a folder; what it returns is ignored."""


def pages(*contents: bytes) -> Builder:
    """A raw partition of these page files, with a consistent manifest."""
    return lambda partition: write_raw_partition(
        partition, {page_name(n): body for n, body in enumerate(contents, start=1)}
    )


def then(build: Builder, change: Builder) -> Builder:
    def both(partition: Path) -> None:
        build(partition)
        change(partition)

    return both


def page_2_replaced_by(make: Builder) -> Builder:
    """Page 2's file removed and ``make(path)`` called at its place (a folder, a symlink, a pipe)."""

    def replace(partition: Path) -> None:
        page = partition / page_name(2)
        page.unlink()
        make(page)

    return replace


def edit_manifest(edit: Callable[[dict[str, Any]], Any]) -> Callable[[Path], None]:
    """Rewrite the manifest through ``edit`` (which returns the new JSON value)."""

    def change(partition: Path) -> None:
        path = partition / SUCCESS_FILE
        path.write_bytes(manifest_bytes(edit(json.loads(path.read_bytes()))))

    return change


def write_manifest(raw: bytes) -> Builder:
    return lambda partition: (partition / SUCCESS_FILE).write_bytes(raw)


def set_file_key(key: str, value: Any) -> Callable[[dict[str, Any]], Any]:
    def edit(manifest: dict[str, Any]) -> Any:
        manifest["files"][0][key] = value
        return manifest

    return edit


def drop_file_key(key: str) -> Callable[[dict[str, Any]], Any]:
    def edit(manifest: dict[str, Any]) -> Any:
        del manifest["files"][0][key]
        return manifest

    return edit


def flip_a_byte(partition: Path) -> None:
    path = partition / page_name(1)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def duplicate_entry(manifest: dict[str, Any]) -> Any:
    manifest["files"].append(dict(manifest["files"][0]))
    return manifest


def rename_entry(name: str) -> Callable[[dict[str, Any]], Any]:
    return set_file_key("name", name)


@dataclass(frozen=True)
class Refused:
    """Exit 3 (no retry helps), one stderr line naming the raw partition (and ``message``), zones untouched."""

    message: str


@dataclass(frozen=True)
class Quarantined:
    """Exit 0: the valid records in staging, the bad one in the rejects staging names, with ``reason``."""

    reason: str | None  # None: nothing rejected
    records_out: int = FILLER
    check: Callable[[list[dict[str, Any]]], Any] | None = field(default=None)


def price_is(expected: int) -> Callable[[list[dict[str, Any]]], Any]:
    def check(records: list[dict[str, Any]]) -> None:
        assert records[-1]["price"] == expected

    return check


def client_length_is(expected: int) -> Callable[[list[dict[str, Any]]], Any]:
    def check(records: list[dict[str, Any]]) -> None:
        assert len(records[-1]["client"]) == expected

    return check


TEN_MB = 10 * 1024 * 1024
RECORD = '{{"client": {client}, "purchase_date": {date}, "product": "TV", "price": {price}}}'


def record(client: str = '"Bob"', date: str = '"2022-08-09"', price: str = "5") -> str:
    return RECORD.format(client=client, date=date, price=price)


CONTENT_CASES = [
    pytest.param(pages(b"this is not JSON at all"), Refused("not valid JSON"), id="page-not-json"),
    pytest.param(pages(b""), Refused("not valid JSON"), id="page-empty-file"),
    pytest.param(pages(page_with(GOOD)[:-40]), Refused("not valid JSON"), id="page-truncated-json"),
    pytest.param(
        pages(GOOD.encode()), Refused("expected a JSON array of records, got object"), id="page-object-not-array"
    ),
    pytest.param(pages(b'"a string"'), Refused("expected a JSON array of records"), id="page-string-not-array"),
    pytest.param(pages(b"null"), Refused("expected a JSON array of records"), id="page-null-not-array"),
    pytest.param(
        pages(page_with(record(client='"Jos\xe9"')).replace(b"Jos\xc3\xa9", b"Jos\xe9")),
        Refused("not valid UTF-8 (byte"),
        id="page-latin1-not-utf8",
    ),
    pytest.param(
        pages(page_with(GOOD).decode().encode("utf-16")), Refused("not valid UTF-8"), id="page-utf16-not-utf8"
    ),
    pytest.param(pages(b"\xef\xbb\xbf" + page_with(GOOD)), Refused("Unexpected UTF-8 BOM"), id="page-utf8-bom"),
    pytest.param(
        pages(nested(100_000).encode()), Refused("JSON nested too deeply to read"), id="page-100000-nested-arrays"
    ),
    pytest.param(
        pages(page_with(record(client=nested(5_000, '"x"')))),
        Refused("JSON nested too deeply to read"),
        id="record-5000-nested-arrays",
    ),
    pytest.param(
        pages(page_with(record(price="9" * 5000))),
        Quarantined("price has 5000 digits, too many to read as a number"),
        id="price-5000-digit-integer-quarantined",
    ),
    pytest.param(
        pages(page_with(record(price="NaN"))),
        Quarantined("price must be a whole number, got nan"),
        id="price-NaN-quarantined",
    ),
    pytest.param(
        pages(page_with(record(price="Infinity"))),
        Quarantined("price must be a whole number, got inf"),
        id="price-Infinity-quarantined",
    ),
    pytest.param(
        pages(page_with(record(price="-Infinity"))),
        Quarantined("price must be a whole number, got -inf"),
        id="price-minus-Infinity-quarantined",
    ),
    pytest.param(
        pages(page_with(record(price="1e400"))),
        Quarantined("price must be a whole number, got inf"),
        id="price-1e400-overflows-to-inf-quarantined",
    ),
    pytest.param(
        pages(page_with(record(price="9" * 4000))),
        Quarantined("price is outside the 64-bit integer range"),
        id="price-4000-digit-integer-quarantined",
    ),
    pytest.param(
        pages(page_with(record(price="9223372036854775808"))),
        Quarantined("price is outside the 64-bit integer range"),
        id="price-2-pow-63-quarantined",
    ),
    pytest.param(
        pages(page_with(record()[:-1] + ', "extra": NaN}')),
        Quarantined(None, FILLER + 1),
        id="NaN-in-unknown-field-dropped-with-it",
    ),
    pytest.param(
        pages(
            page_with('{"client": "Bob", "purchase_date": "2022-08-09", "product": "TV", "price": "oops", "price": 7}')
        ),
        Quarantined(None, FILLER + 1, price_is(7)),
        id="duplicate-key-last-wins-valid",
    ),
    pytest.param(
        pages(
            page_with('{"client": "Bob", "purchase_date": "2022-08-09", "product": "TV", "price": 7, "price": "oops"}')
        ),
        Quarantined("price must be an integer, got string"),
        id="duplicate-key-last-wins-invalid",
    ),
    pytest.param(
        pages(page_with(record(client=nested(900, '"x"')))),
        Quarantined("client must be a string, got array"),
        id="record-900-nested-arrays-quarantined",
    ),
    pytest.param(
        pages(page_with(record(client='"' + "x" * TEN_MB + '"'))),
        Quarantined(None, FILLER + 1, client_length_is(TEN_MB)),
        id="client-10MB-string-kept",
    ),
    pytest.param(
        pages(page_with(record(date='"' + "9" * TEN_MB + '"'))),
        Quarantined("is not a real YYYY-MM-DD date"),
        id="date-10MB-string-quarantined",
    ),
    pytest.param(
        pages(page_with(record(client='"\\ud800"'))),
        Quarantined("client is not valid Unicode"),
        id="client-lone-surrogate-quarantined",
    ),
    pytest.param(
        pages(page_with("[1, 2]")),
        Quarantined("record must be a JSON object, got array"),
        id="record-not-an-object-quarantined",
    ),
    pytest.param(
        pages(
            page_with(
                '{"client": "Bob", "purchase_date": "2022-08-09", "product": "TV", "price": NaN, "note": "\\ud800"}'
            )
        ),
        Quarantined("price must be a whole number, got nan"),
        id="NaN-and-lone-surrogate-quarantined",
    ),
    pytest.param(pages(b"[]"), Quarantined(None, 0), id="page-empty-array-no-records"),
]

# Altering the manifest after write_raw_partition; the page itself is fine.
GOOD_PAGES = pages(page_with(GOOD), page_with(GOOD))

MANIFEST_CASES = [
    pytest.param(
        then(GOOD_PAGES, lambda p: (p / SUCCESS_FILE).unlink()), Refused("no _SUCCESS manifest"), id="manifest-missing"
    ),
    pytest.param(lambda p: None, Refused("does not exist"), id="partition-missing"),
    pytest.param(then(GOOD_PAGES, write_manifest(b"{not json")), Refused("is not valid JSON"), id="manifest-not-json"),
    pytest.param(
        then(GOOD_PAGES, write_manifest(b"\xff\xfe\x00")), Refused("is not valid JSON"), id="manifest-not-utf8"
    ),
    pytest.param(then(GOOD_PAGES, write_manifest(b"")), Refused("is not valid JSON"), id="manifest-empty"),
    pytest.param(
        then(GOOD_PAGES, write_manifest(nested(100_000).encode())),
        Refused("is not valid JSON"),
        id="manifest-100000-nested-arrays",
    ),
    pytest.param(
        then(GOOD_PAGES, write_manifest(b'["files"]')),
        Refused("expected an object with a 'files' list"),
        id="manifest-not-an-object",
    ),
    pytest.param(
        then(GOOD_PAGES, edit_manifest(lambda m: {**m, "files": "all"})),
        Refused("expected an object with a 'files' list"),
        id="manifest-files-not-a-list",
    ),
    pytest.param(
        then(GOOD_PAGES, edit_manifest(lambda m: {k: v for k, v in m.items() if k != "files"})),
        Refused("expected an object with a 'files' list"),
        id="manifest-files-absent",
    ),
    pytest.param(
        then(GOOD_PAGES, edit_manifest(drop_file_key("sha256"))),
        Refused("malformed file entry"),
        id="manifest-file-entry-missing-sha256",
    ),
    pytest.param(
        then(GOOD_PAGES, edit_manifest(drop_file_key("name"))),
        Refused("malformed file entry"),
        id="manifest-file-entry-missing-name",
    ),
    pytest.param(
        then(GOOD_PAGES, edit_manifest(lambda m: {**m, "files": ["sales.json"]})),
        Refused("malformed file entry"),
        id="manifest-file-entry-not-an-object",
    ),
    pytest.param(
        then(GOOD_PAGES, edit_manifest(set_file_key("bytes", "12"))),
        Refused("malformed file entry"),
        id="manifest-file-entry-size-a-string",
    ),
    pytest.param(
        then(GOOD_PAGES, edit_manifest(set_file_key("extra", 1))),
        Refused("malformed file entry"),
        id="manifest-file-entry-unknown-key",
    ),
    pytest.param(
        then(GOOD_PAGES, lambda p: (p / page_name(3)).write_bytes(page_with(GOOD))),
        Refused("not in the manifest: " + page_name(3)),
        id="files-extra-file",
    ),
    pytest.param(
        then(GOOD_PAGES, lambda p: (p / page_name(2)).unlink()),
        Refused("missing " + page_name(2)),
        id="files-missing-file",
    ),
    pytest.param(
        then(GOOD_PAGES, flip_a_byte),
        Refused(page_name(1) + " was altered since it was written"),
        id="files-one-byte-altered",
    ),
    pytest.param(
        then(GOOD_PAGES, edit_manifest(set_file_key("bytes", len(page_with(GOOD)) + 1))),
        Refused(page_name(1) + " was altered since it was written"),
        id="manifest-wrong-size",
    ),
    pytest.param(
        then(GOOD_PAGES, edit_manifest(set_file_key("sha256", "0" * 64))),
        Refused(page_name(1) + " was altered since it was written"),
        id="manifest-wrong-sha256",
    ),
    pytest.param(
        then(GOOD_PAGES, edit_manifest(rename_entry("../../../../etc/passwd"))),
        Refused("does not match its manifest"),
        id="manifest-names-a-path-outside",
    ),
    pytest.param(
        then(GOOD_PAGES, edit_manifest(rename_entry("/etc/passwd"))),
        Refused("does not match its manifest"),
        id="manifest-names-an-absolute-path",
    ),
    pytest.param(
        then(GOOD_PAGES, edit_manifest(duplicate_entry)), Refused("more than once"), id="manifest-lists-a-file-twice"
    ),
    pytest.param(
        then(GOOD_PAGES, page_2_replaced_by(Path.mkdir)),
        Refused(page_name(2)),
        id="files-a-folder-instead-of-a-file",
    ),
    pytest.param(
        then(GOOD_PAGES, page_2_replaced_by(lambda page: page.symlink_to("/dev/zero"))),
        Refused(page_name(2)),
        id="files-a-symlink-to-dev-zero",
    ),
    pytest.param(
        then(GOOD_PAGES, page_2_replaced_by(os.mkfifo)),
        Refused(page_name(2)),
        id="files-a-named-pipe-instead-of-a-file",
    ),
]


@pytest.fixture(scope="module")
def previous_zones(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A BASE_DIR holding a previous complete conversion (staging and quarantine), copied into each test."""
    base = tmp_path_factory.mktemp("previous") / "data"
    pages(page_with(record(price='"previous"'), filler=FILLER))(base / "raw" / "sales" / DAY)
    assert_success(run_job(CONVERT, ["--date", DAY], {"BASE_DIR": str(base)}, base.parent))
    shutil.rmtree(base / "raw")
    return base


def strict_json(line: bytes) -> Any:
    """Parse as RFC 8259 JSON: NaN and Infinity refused."""

    def refuse(token: str) -> Any:
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(line, parse_constant=refuse)


@pytest.mark.parametrize(("build", "expected"), CONTENT_CASES + MANIFEST_CASES)
def test_convert_bad_input(
    previous_zones: Path, tmp_path: Path, build: Builder, expected: Refused | Quarantined
) -> None:
    base = tmp_path / "data"
    shutil.copytree(previous_zones, base)
    raw = base / "raw" / "sales" / DAY
    build(raw)
    zones_before = {zone: snapshot(base / zone) for zone in ("stg", "quarantine")}

    result = run_job(CONVERT, ["--date", DAY], {"BASE_DIR": str(base)}, tmp_path)

    staging = base / "stg" / "sales" / DAY
    if isinstance(expected, Refused):
        assert_clean_failure(result, CONVERT, DAY, str(raw), expected.message, code=3)
        assert {zone: snapshot(base / zone) for zone in ("stg", "quarantine")} == zones_before
    else:
        assert_success(result)
        manifest = verify_partition(staging)
        records = read_avro(staging / f"sales_{DAY}.avro")
        assert len(records) == manifest["records_written"] == expected.records_out
        rejects_file = run_folder(base / "quarantine" / "sales" / DAY, manifest["quarantine"]["run_id"]) / REJECTED_FILE
        if expected.reason is None:
            assert manifest["records_rejected"] == 0
            assert rejects_file.read_bytes() == b""
        else:
            lines = [strict_json(line) for line in rejects_file.read_bytes().splitlines()]
            assert len(lines) == manifest["records_rejected"] == 1
            assert expected.reason in lines[0]["reason"]
            assert lines[0]["source_file"] == page_name(1) and lines[0]["index"] == FILLER
        if expected.check:
            expected.check(records)
    for zone in ("raw", "stg", "quarantine"):
        assert hidden_entries(base / zone / "sales") == [], f"a temporary was left in {zone}"


def _deep_list(depth: int) -> list[Any]:
    outer: list[Any] = []
    current = outer
    for _ in range(depth):
        inner: list[Any] = []
        current.append(inner)
        current = inner
    return outer


@pytest.mark.parametrize(
    ("record", "kept_as"),
    [
        pytest.param({"price": float("nan")}, "{'price': nan}", id="NaN-kept-as-repr"),
        pytest.param(
            {"price": float("-inf"), "client": "\ud800"},
            "{'price': -inf, 'client': '\\ud800'}",
            id="minus-inf-and-lone-surrogate-kept-as-repr",
        ),
        pytest.param(_deep_list(100_000), "<nested too deeply to show>", id="unserializable-nesting-noted"),
    ],
)
def test_a_reject_line_is_always_strict_json(record: Any, kept_as: str) -> None:
    from convert_job.convert import reject_line

    line = strict_json(reject_line(page_name(1), 3, "why", record))

    assert line == {"source_file": page_name(1), "index": 3, "reason": "why", "record": None, "record_repr": kept_as}


def test_a_lone_surrogate_in_a_reject_reads_back_the_same() -> None:
    from convert_job.convert import reject_line

    data = reject_line(page_name(1), 0, "why", {"client": "\ud800"})

    data.decode("utf-8")  # the file stays valid UTF-8
    assert strict_json(data)["record"] == {"client": "\ud800"}
