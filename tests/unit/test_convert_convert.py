"""``convert_job.convert.convert_date`` on hand-made raw partitions in ``tmp_path``."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import fastavro
import pytest

from convert_job.convert import Targets, convert_date
from convert_job.schema import schema_fingerprint
from shared.errors import DataError, PartitionError
from shared.filenames import SUCCESS_FILE, avro_file_name
from shared.manifest import manifest_bytes, sha256_file, sha256_hex, verify_partition
from shared.outcomes import Status
from shared.quarantine import FAILED, REJECTED_FILE, rejected_records, run_folder, run_ids, run_status
from shared.zones import QUARANTINE, RAW, STAGING, partition_dir

from ..support.files import snapshot
from ..support.partitions import write_raw_pages

DAY = date(2022, 8, 9)
EPOCH = date(1970, 1, 1)


def sale(client: Any = "Michael Wilson", product: Any = "TV", price: Any = 100, **extra: Any) -> dict[str, Any]:
    return {"client": client, "purchase_date": DAY.isoformat(), "product": product, "price": price, **extra}


def write_raw(partition: Path, pages: Sequence[list[Any] | bytes], day: date = DAY) -> dict[str, Any]:
    """A complete raw partition of ``day`` as the extract job leaves it: one file per page, then ``_SUCCESS``."""
    return write_raw_pages(partition, pages, day)


def replace_raw(partition: Path, pages: Sequence[list[Any] | bytes]) -> dict[str, Any]:
    """A new extract run of the same date."""
    for path in partition.iterdir():
        path.unlink()
    partition.rmdir()
    return write_raw(partition, pages)


def read_avro(staging: Path) -> tuple[list[dict[str, Any]], Any]:
    """The records of the staging Avro file, and its reader (codec, metadata, schema): fastavro's compiled
    reader has no type information."""
    with (staging / avro_file_name(DAY)).open("rb") as handle:
        reader: Any = fastavro.reader(handle)
        return list(reader), reader


def in_avro(record: dict[str, Any]) -> dict[str, Any]:
    """What a valid raw record reads back as from Avro."""
    return {
        "client": record["client"],
        "purchase_date": date.fromisoformat(record["purchase_date"]),
        "product": record["product"],
        "price": int(record["price"]),
    }


def quarantined(targets: LocalTargets) -> list[dict[str, Any]]:
    """The rejects paired with staging, found from staging's manifest as any reader would."""
    return rejected_records(targets.quarantine, verify_partition(targets.staging))


def failed_run(targets: LocalTargets) -> str:
    """The one quarantine run marked failed."""
    [run] = [run for run in run_ids(targets.quarantine) if run_status(targets.quarantine, run) == FAILED]
    return run


def failed_rejects(targets: LocalTargets) -> list[dict[str, Any]]:
    text = (run_folder(targets.quarantine, failed_run(targets)) / REJECTED_FILE).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def hidden_leftovers(base: Path) -> list[Path]:
    return [p for zone in (STAGING, QUARANTINE) for p in (base / zone / "sales").glob(".*")]


@dataclass(frozen=True)
class LocalTargets(Targets):
    """Targets on local folders: the tests read and alter the files themselves."""

    raw: Path
    staging: Path
    quarantine: Path


@pytest.fixture
def targets(tmp_path: Path) -> LocalTargets:
    return LocalTargets(
        partition_dir(tmp_path, RAW, DAY),
        partition_dir(tmp_path, STAGING, DAY),
        partition_dir(tmp_path, QUARANTINE, DAY),
    )


def convert(
    targets: LocalTargets,
    codec: str = "deflate",
    max_invalid_ratio: float = 0.01,
    force: bool = False,
    keep_failed: int = 5,
) -> Status:
    return convert_date(DAY, targets, codec, max_invalid_ratio, force, keep_failed)


PAGES = [
    [sale("王伟", "ヘッドホン", 1), sale("Zoë Müller", "Phone", 2), sale("𠮷田 花子", "📱", 3)],
    [sale("a", price=4)],
    [],
    [sale("b", price=5.0), sale("", "", 0), sale('Dwayne "The Rock"\\', price=-7)],
]
VALID_RECORDS = [record for page in PAGES for record in page]


def test_valid_records_round_trip_in_page_then_in_page_order(targets: LocalTargets) -> None:
    write_raw(targets.raw, PAGES)

    assert convert(targets) is Status.DONE

    records, _ = read_avro(targets.staging)
    assert records == [in_avro(r) for r in VALID_RECORDS]
    assert sorted(p.name for p in targets.staging.iterdir()) == [SUCCESS_FILE, "sales_2022-08-09.avro"]


def test_pages_are_read_in_manifest_order_not_name_order(targets: LocalTargets) -> None:
    pages = [[sale(price=n)] for n in range(1, 12)]  # sales_..._10.json sorts before _2 by name
    write_raw(targets.raw, pages)

    convert(targets)

    records, _ = read_avro(targets.staging)
    assert [r["price"] for r in records] == list(range(1, 12))


def test_staging_manifest_describes_the_run(targets: LocalTargets) -> None:
    pages = [[sale(), sale(price="1"), sale(discount=3)], [sale(discount=1, coupon="X")]]
    raw_manifest = write_raw(targets.raw, pages)

    convert(targets, codec="null", max_invalid_ratio=0.5)

    manifest = verify_partition(targets.staging)
    avro_path = targets.staging / avro_file_name(DAY)
    assert manifest["dataset"] == "sales"
    assert manifest["zone"] == "stg"
    assert manifest["date"] == "2022-08-09"
    assert manifest["raw_run_id"] == raw_manifest["run_id"]
    assert (manifest["records_read"], manifest["records_written"], manifest["records_rejected"]) == (4, 3, 1)
    assert manifest["unknown_fields"] == {"coupon": 1, "discount": 2}
    assert manifest["schema"] == "sale.v1"
    assert manifest["schema_fingerprint"] == schema_fingerprint()
    assert manifest["codec"] == "null"
    assert manifest["files"] == [
        {
            "name": avro_path.name,
            "records": 3,
            "bytes": avro_path.stat().st_size,
            "sha256": sha256_hex(avro_path.read_bytes()),
        }
    ]
    assert manifest["tool"] == "convert_job"
    assert manifest["run_id"] != raw_manifest["run_id"]
    assert manifest["started_at"] <= manifest["finished_at"]


def test_invalid_records_go_to_quarantine_with_where_and_why(targets: LocalTargets) -> None:
    bad_date = sale(purchase_date="2022-02-30")
    no_price = {"client": "x", "purchase_date": "2022-08-09", "product": "TV"}
    pages: list[list[Any]] = [
        [sale(price=1), sale(price=True), sale(price=2)],
        [None, sale(price=3), bad_date, no_price],
    ]
    write_raw(targets.raw, pages)

    convert(targets, max_invalid_ratio=0.6)

    lines = quarantined(targets)
    assert [(line["source_file"], line["index"], line["record"]) for line in lines] == [
        ("sales_2022-08-09_1.json", 1, sale(price=True)),
        ("sales_2022-08-09_2.json", 0, None),
        ("sales_2022-08-09_2.json", 2, bad_date),
        ("sales_2022-08-09_2.json", 3, no_price),
    ]
    reasons = [line["reason"] for line in lines]
    assert "price must be an integer, got boolean" in reasons[0]
    assert "record must be a JSON object, got null" in reasons[1]
    assert "not a real YYYY-MM-DD date" in reasons[2]
    assert "missing field(s): price" in reasons[3]
    staging_run = verify_partition(targets.staging)["run_id"]
    assert sorted(p.name for p in targets.quarantine.iterdir()) == [f"run={staging_run}"]
    records, _ = read_avro(targets.staging)
    assert [r["price"] for r in records] == [1, 2, 3]


def test_a_lone_surrogate_is_quarantined_and_reads_back(targets: LocalTargets) -> None:
    # json.dumps escapes the surrogate, as any JSON encoder may; the parser turns it back into one.
    page = json.dumps([sale(), sale(client="Mich\ud800ael")]).encode("ascii")
    write_raw(targets.raw, [page])

    assert convert(targets, max_invalid_ratio=0.5) is Status.DONE

    [line] = quarantined(targets)
    assert line["index"] == 1
    assert line["record"]["client"] == "Mich\ud800ael"
    assert "not valid Unicode" in line["reason"]


def test_a_nan_price_is_quarantined_as_strict_json(targets: LocalTargets) -> None:
    # Python's parser takes NaN and Infinity, which are not JSON; the quarantine must stay readable by strict readers.
    write_raw(
        targets.raw,
        [
            b'[{"client": "a", "purchase_date": "2022-08-09", "product": "TV", "price": NaN}, '
            b'{"client": "b", "purchase_date": "2022-08-09", "product": "TV", "price": 1}]'
        ],
    )

    assert convert(targets, max_invalid_ratio=0.5) is Status.DONE

    text = (run_folder(targets.quarantine, verify_partition(targets.staging)["run_id"]) / REJECTED_FILE).read_text(
        encoding="utf-8"
    )

    def refuse(constant: str) -> None:
        raise AssertionError(f"quarantine holds {constant}, which is not JSON")

    [line] = [json.loads(row, parse_constant=refuse) for row in text.splitlines()]
    assert (line["source_file"], line["index"]) == ("sales_2022-08-09_1.json", 0)
    assert "whole number" in line["reason"]


def test_an_unknown_field_named_with_a_lone_surrogate_is_counted(targets: LocalTargets) -> None:
    page = json.dumps([{**sale(), "note\udc80": 1}, sale()]).encode("ascii")
    write_raw(targets.raw, [page])

    assert convert(targets) is Status.DONE

    assert verify_partition(targets.staging)["unknown_fields"] == {"note\udc80": 1}
    assert len(read_avro(targets.staging)[0]) == 2


def test_nothing_rejected_still_gives_staging_its_empty_quarantine_run(targets: LocalTargets) -> None:
    write_raw(targets.raw, PAGES)

    convert(targets)

    staging = verify_partition(targets.staging)
    assert run_ids(targets.quarantine) == [staging["run_id"]]
    assert quarantined(targets) == []
    assert staging["quarantine"]["records"] == 0


def test_a_clean_rerun_removes_the_stale_quarantine(targets: LocalTargets) -> None:
    write_raw(targets.raw, [[sale(), sale(price="x")]])
    convert(targets, max_invalid_ratio=0.5)
    assert targets.quarantine.is_dir()

    replace_raw(targets.raw, [[sale(), sale(price=2)]])
    assert convert(targets) is Status.DONE

    assert run_ids(targets.quarantine) == [verify_partition(targets.staging)["run_id"]]
    assert quarantined(targets) == []
    assert hidden_leftovers(targets.raw.parents[2]) == []


def test_too_many_invalid_leaves_staging_alone_but_writes_quarantine(targets: LocalTargets) -> None:
    write_raw(targets.raw, PAGES)
    convert(targets)
    previous = snapshot(targets.staging)

    replace_raw(targets.raw, [[sale(price=1), sale(price="2"), sale(price=3), sale(price=None)]])
    with pytest.raises(DataError) as caught:
        convert(targets, max_invalid_ratio=0.2)

    assert "2 of 4 records are invalid" in str(caught.value)
    assert "--max-invalid-ratio 0.2" in str(caught.value)
    assert str(run_folder(targets.quarantine, failed_run(targets)) / REJECTED_FILE) in str(caught.value)
    assert snapshot(targets.staging) == previous
    assert quarantined(targets) == [], "the pair staging names is untouched"
    assert [line["index"] for line in failed_rejects(targets)] == [1, 3]
    assert hidden_leftovers(targets.raw.parents[2]) == []


@pytest.mark.parametrize(
    ("invalid", "total", "max_ratio", "passes"),
    [
        pytest.param(1, 4, 0.25, True, id="at-the-limit"),
        pytest.param(2, 4, 0.25, False, id="above-the-limit"),
        pytest.param(1, 100, 0.01, True, id="default-limit"),
        pytest.param(1, 1, 0.99, False, id="all-invalid-single"),
        pytest.param(0, 3, 0.0, True, id="zero-tolerance-clean"),
        pytest.param(1, 1000, 0.0, False, id="zero-tolerance-one-bad"),
    ],
)
def test_invalid_ratio_limit(targets: LocalTargets, invalid: int, total: int, max_ratio: float, passes: bool) -> None:
    write_raw(targets.raw, [[sale(price="bad")] * invalid + [sale()] * (total - invalid)])

    if passes:
        assert convert(targets, max_invalid_ratio=max_ratio) is Status.DONE
        assert verify_partition(targets.staging)["records_written"] == total - invalid
    else:
        with pytest.raises(DataError):
            convert(targets, max_invalid_ratio=max_ratio)
        assert not targets.staging.exists()


def test_an_all_invalid_partition_fails(targets: LocalTargets) -> None:
    write_raw(targets.raw, [[sale(price="1"), None], [[], sale(client=None)]])

    with pytest.raises(DataError, match="4 of 4 records are invalid"):
        convert(targets)

    assert not targets.staging.exists()
    assert len(failed_rejects(targets)) == 4


def test_an_empty_raw_partition_gives_an_empty_avro_file(targets: LocalTargets) -> None:
    write_raw(targets.raw, [])

    assert convert(targets) is Status.DONE

    records, reader = read_avro(targets.staging)
    manifest = verify_partition(targets.staging)
    assert records == []
    assert reader.writer_schema["name"] == "com.salespipeline.stg.v1.Sale"
    assert (manifest["records_read"], manifest["records_written"], manifest["records_rejected"]) == (0, 0, 0)
    assert manifest["files"][0]["records"] == 0
    assert quarantined(targets) == []


def _remove_manifest(raw: Path) -> None:
    (raw / SUCCESS_FILE).unlink()


def _add_extra_file(raw: Path) -> None:
    (raw / "sales_2022-08-09_99.json").write_bytes(b"[]")


def _remove_page(raw: Path) -> None:
    (raw / "sales_2022-08-09_2.json").unlink()


def _alter_one_byte(raw: Path) -> None:
    page = raw / "sales_2022-08-09_2.json"
    data = bytearray(page.read_bytes())
    data[data.index(b"4")] = ord("5")  # price 4 -> 5: still valid JSON, same size
    page.write_bytes(bytes(data))


def _truncate_page(raw: Path) -> None:
    page = raw / "sales_2022-08-09_1.json"
    page.write_bytes(page.read_bytes()[:-1])


def _garble_manifest(raw: Path) -> None:
    (raw / SUCCESS_FILE).write_bytes(b'{"files": [')


def _remove_partition(raw: Path) -> None:
    for path in raw.iterdir():
        path.unlink()
    raw.rmdir()


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        pytest.param(_remove_manifest, "incomplete: no _SUCCESS manifest", id="no-manifest"),
        pytest.param(_add_extra_file, "not in the manifest: sales_2022-08-09_99.json", id="extra-file"),
        pytest.param(_remove_page, "missing sales_2022-08-09_2.json", id="missing-file"),
        pytest.param(_alter_one_byte, "sales_2022-08-09_2.json was altered", id="altered-byte"),
        pytest.param(_truncate_page, "sales_2022-08-09_1.json was altered", id="truncated-page"),
        pytest.param(_garble_manifest, "is not valid JSON", id="garbled-manifest"),
        pytest.param(_remove_partition, "does not exist", id="no-partition"),
    ],
)
def test_a_damaged_raw_partition_is_refused_and_staging_kept(targets: LocalTargets, damage: Any, reason: str) -> None:
    write_raw(targets.raw, PAGES)
    convert(targets)
    previous = snapshot(targets.staging)
    damage(targets.raw)

    with pytest.raises(PartitionError) as caught:
        convert(targets, force=True)

    assert str(targets.raw) in str(caught.value)
    assert reason in str(caught.value)
    assert snapshot(targets.staging) == previous
    assert hidden_leftovers(targets.raw.parents[2]) == []


def test_a_page_that_is_not_json_is_refused_naming_the_file(targets: LocalTargets) -> None:
    write_raw(targets.raw, [[sale()], b"<html>oops</html>"])

    with pytest.raises(PartitionError, match=r"sales_2022-08-09_2\.json: not valid JSON"):
        convert(targets)

    assert not targets.staging.exists()
    assert run_ids(targets.quarantine) == []


def test_up_to_date_staging_is_skipped_untouched(targets: LocalTargets) -> None:
    write_raw(targets.raw, PAGES)
    convert(targets)
    avro_path = targets.staging / avro_file_name(DAY)
    before = {p.name: p.stat().st_mtime_ns for p in targets.staging.iterdir()}
    run_id = verify_partition(targets.staging)["run_id"]
    previous = snapshot(targets.staging)

    assert convert(targets) is Status.SKIPPED

    assert {p.name: p.stat().st_mtime_ns for p in targets.staging.iterdir()} == before
    assert snapshot(targets.staging) == previous
    assert verify_partition(targets.staging)["run_id"] == run_id
    assert avro_path.exists()


def test_force_reconverts_an_up_to_date_partition(targets: LocalTargets) -> None:
    write_raw(targets.raw, PAGES)
    convert(targets)
    run_id = verify_partition(targets.staging)["run_id"]

    assert convert(targets, force=True) is Status.DONE

    assert verify_partition(targets.staging)["run_id"] != run_id


@pytest.mark.parametrize("codec", ["null", "deflate"])
def test_a_rerun_of_the_same_raw_run_writes_the_same_avro_bytes(targets: LocalTargets, codec: str) -> None:
    write_raw(targets.raw, PAGES)
    convert(targets, codec)
    first = (targets.staging / avro_file_name(DAY)).read_bytes()

    convert(targets, codec, force=True)

    assert (targets.staging / avro_file_name(DAY)).read_bytes() == first
    assert verify_partition(targets.staging)["files"][0]["sha256"] == sha256_hex(first)


def test_the_sync_marker_comes_from_the_raw_run(targets: LocalTargets) -> None:
    write_raw(targets.raw, PAGES)
    convert(targets)
    first = (targets.staging / avro_file_name(DAY)).read_bytes()

    replace_raw(targets.raw, PAGES)
    convert(targets)
    second = (targets.staging / avro_file_name(DAY)).read_bytes()

    # An Avro file ends with its 16-byte sync marker, after the header and after every block.
    assert first[-16:] != second[-16:]
    assert read_avro(targets.staging)[0] == [in_avro(r) for r in VALID_RECORDS]


def test_a_new_raw_run_is_reconverted(targets: LocalTargets) -> None:
    write_raw(targets.raw, PAGES)
    convert(targets)

    raw_manifest = replace_raw(targets.raw, [[sale(price=42)]])

    assert convert(targets) is Status.DONE
    assert verify_partition(targets.staging)["raw_run_id"] == raw_manifest["run_id"]
    assert [r["price"] for r in read_avro(targets.staging)[0]] == [42]


def test_a_codec_change_reconverts(targets: LocalTargets) -> None:
    write_raw(targets.raw, PAGES)
    convert(targets, codec="null")

    assert convert(targets, codec="deflate") is Status.DONE

    records, reader = read_avro(targets.staging)
    assert verify_partition(targets.staging)["codec"] == "deflate"
    assert reader.codec == "deflate"
    assert records == [in_avro(r) for r in VALID_RECORDS]
    assert convert(targets, codec="deflate") is Status.SKIPPED


def test_staging_with_a_missing_file_is_not_up_to_date(targets: LocalTargets) -> None:
    write_raw(targets.raw, PAGES)
    convert(targets)
    (targets.staging / avro_file_name(DAY)).unlink()

    assert convert(targets) is Status.DONE
    verify_partition(targets.staging)


def _remove_run(folder: Path) -> None:
    shutil.rmtree(folder)


def _replace_rejects(folder: Path) -> None:
    (folder / REJECTED_FILE).write_bytes(b"{}\n")


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(_remove_run, id="run-folder-gone"),
        pytest.param(lambda folder: (folder / SUCCESS_FILE).unlink(), id="run-manifest-gone"),
        pytest.param(lambda folder: (folder / REJECTED_FILE).unlink(), id="rejects-file-gone"),
        pytest.param(_replace_rejects, id="rejects-file-replaced"),
    ],
)
def test_staging_whose_quarantine_run_is_missing_or_damaged_is_not_up_to_date(
    targets: LocalTargets, damage: Any
) -> None:
    """A reader starting from staging must find its rejects: a staging partition without them is converted again."""
    write_raw(targets.raw, [[sale(), sale(price="x")]])
    convert(targets, max_invalid_ratio=0.9)
    damage(run_folder(targets.quarantine, verify_partition(targets.staging)["run_id"]))

    assert convert(targets, max_invalid_ratio=0.9) is Status.DONE

    assert [line["record"] for line in quarantined(targets)] == [sale(price="x")]
    assert run_ids(targets.quarantine) == [verify_partition(targets.staging)["run_id"]]


@pytest.mark.parametrize("codec", ["null", "deflate"])
def test_each_codec_is_readable(targets: LocalTargets, codec: str) -> None:
    write_raw(targets.raw, PAGES)

    convert(targets, codec=codec)

    records, reader = read_avro(targets.staging)
    assert reader.codec == codec
    assert reader.metadata["avro.codec"] == codec
    assert records == [in_avro(r) for r in VALID_RECORDS]


def test_deflate_is_smaller_than_null_on_repetitive_data(tmp_path: Path) -> None:
    sizes = {}
    for codec in ("null", "deflate"):
        targets = LocalTargets(tmp_path / codec / "raw", tmp_path / codec / "stg", tmp_path / codec / "q")
        write_raw(targets.raw, [[sale(price=n) for n in range(500)]])
        convert(targets, codec=codec)
        sizes[codec] = (targets.staging / avro_file_name(DAY)).stat().st_size
    assert sizes["deflate"] < sizes["null"] / 2


def test_unknown_fields_are_left_out_counted_and_warned_once(
    targets: LocalTargets, caplog: pytest.LogCaptureFixture
) -> None:
    pages = [
        [sale(discount=5), sale(), sale(discount=1, currency="EUR")],
        [sale(currency="USD"), sale(discount=0)],
    ]
    write_raw(targets.raw, pages)

    with caplog.at_level(logging.INFO):
        convert(targets)

    records, _ = read_avro(targets.staging)
    assert all(set(r) == {"client", "purchase_date", "product", "price"} for r in records)
    assert len(records) == 5
    assert verify_partition(targets.staging)["unknown_fields"] == {"currency": 2, "discount": 3}
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].name == "convert_job.convert"
    assert "2022-08-09" in warnings[0].getMessage()
    assert "discount (3)" in warnings[0].getMessage()
    assert "currency (2)" in warnings[0].getMessage()


def test_no_drift_warning_without_unknown_fields(targets: LocalTargets, caplog: pytest.LogCaptureFixture) -> None:
    write_raw(targets.raw, PAGES)

    with caplog.at_level(logging.INFO):
        convert(targets)

    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert verify_partition(targets.staging)["unknown_fields"] == {}


# --- quarantine paired with staging ---------------------------------------------------------------------------


def test_staging_names_its_quarantine_run_and_the_rejects_sha256(targets: LocalTargets) -> None:
    write_raw(targets.raw, [[sale(), sale(price="x"), sale(purchase_date="2022-02-30"), sale(price="y")]])

    convert(targets, max_invalid_ratio=0.9)

    staging = verify_partition(targets.staging)
    folder = run_folder(targets.quarantine, staging["run_id"])
    run = verify_partition(folder)
    assert staging["format"] == 2
    assert staging["quarantine"] == {
        "run_id": staging["run_id"],
        "path": f"run={staging['run_id']}/{REJECTED_FILE}",
        "records": 3,
        "sha256": sha256_file(folder / REJECTED_FILE),
    }
    assert run["status"] == "committed"
    assert (run["raw_run_id"], run["staging_run_id"]) == (staging["raw_run_id"], staging["run_id"])
    assert (run["records_read"], run["records_rejected"]) == (4, 3)
    assert run["reasons"] == {"price must be an integer": 2, "purchase_date … is not a real YYYY-MM-DD date": 1}


def test_a_new_pair_removes_the_older_runs_rejects(targets: LocalTargets) -> None:
    write_raw(targets.raw, [[sale(), sale(price="x")]])
    convert(targets, max_invalid_ratio=0.5)
    first = verify_partition(targets.staging)["run_id"]

    convert(targets, max_invalid_ratio=0.5, force=True)

    second = verify_partition(targets.staging)["run_id"]
    assert second != first
    assert run_ids(targets.quarantine) == [second]
    assert [line["index"] for line in quarantined(targets)] == [1]


def test_a_failed_run_keeps_its_rejects_apart_and_only_the_newest_failures_are_kept(targets: LocalTargets) -> None:
    write_raw(targets.raw, [[sale(), sale(price="x")]])
    convert(targets, max_invalid_ratio=0.5)
    pair = (
        snapshot(targets.staging),
        snapshot(run_folder(targets.quarantine, verify_partition(targets.staging)["run_id"])),
    )

    failed = []
    for attempt in range(4):
        with pytest.raises(DataError) as caught:
            convert(targets, max_invalid_ratio=0.1, force=True, keep_failed=2)
        newest = max(
            (r for r in run_ids(targets.quarantine) if run_status(targets.quarantine, r) == FAILED),
            key=lambda r: verify_partition(run_folder(targets.quarantine, r))["finished_at"],
        )
        assert f"run={newest}" in str(caught.value), f"attempt {attempt}: the error names the failed run's folder"
        failed.append(newest)
        manifest = verify_partition(run_folder(targets.quarantine, newest))
        assert (manifest["status"], manifest["staging_run_id"]) == ("failed", None)
        assert "--max-invalid-ratio 0.1" in manifest["error"]

    assert (
        snapshot(targets.staging),
        snapshot(run_folder(targets.quarantine, verify_partition(targets.staging)["run_id"])),
    ) == pair
    staging_run = verify_partition(targets.staging)["run_id"]
    assert sorted(run_ids(targets.quarantine)) == sorted([staging_run, *failed[-2:]]), "the two newest failures kept"

    assert convert(targets, max_invalid_ratio=0.5, force=True) is Status.DONE
    assert sorted(run_ids(targets.quarantine)) == sorted([verify_partition(targets.staging)["run_id"], *failed[-2:]])


def test_a_dead_runs_pending_rejects_are_removed_by_the_next_run(targets: LocalTargets) -> None:
    write_raw(targets.raw, [[sale(), sale(price="x")]])
    convert(targets, max_invalid_ratio=0.5)
    staging_run = verify_partition(targets.staging)["run_id"]
    dead = run_folder(targets.quarantine, "0123456789abcdef0123456789abcdef")
    shutil.copytree(run_folder(targets.quarantine, staging_run), dead)  # as if killed before its staging commit
    half_written = targets.quarantine / ".run=fedcba9876543210fedcba9876543210.tmp-fedcba9876543210fedcba9876543210"
    half_written.mkdir()

    assert convert(targets, max_invalid_ratio=0.5) is Status.SKIPPED

    assert run_ids(targets.quarantine) == [staging_run]
    assert sorted(p.name for p in targets.quarantine.iterdir()) == [f"run={staging_run}"]


def test_partitions_of_the_older_layout_stay_readable_and_are_converted_again(targets: LocalTargets) -> None:
    write_raw(targets.raw, [[sale(), sale(price="x")]])
    convert(targets, max_invalid_ratio=0.5)
    # What the previous version left: a staging manifest without format or pairing, rejects straight in the folder.
    manifest = verify_partition(targets.staging)
    legacy = {k: v for k, v in manifest.items() if k not in ("format", "quarantine")}
    (targets.staging / SUCCESS_FILE).write_bytes(manifest_bytes(legacy))
    rejects = (run_folder(targets.quarantine, manifest["run_id"]) / REJECTED_FILE).read_bytes()
    shutil.rmtree(targets.quarantine)
    targets.quarantine.mkdir()
    (targets.quarantine / REJECTED_FILE).write_bytes(rejects)

    assert [line["index"] for line in quarantined(targets)] == [1], "the older layout reads"
    assert convert(targets, max_invalid_ratio=0.5) is Status.DONE, "an older format is converted again"

    assert verify_partition(targets.staging)["format"] == 2
    assert [line["index"] for line in quarantined(targets)] == [1]
    assert not (targets.quarantine / REJECTED_FILE).exists()


def test_a_raw_manifest_of_a_newer_format_is_refused(targets: LocalTargets) -> None:
    manifest = write_raw(targets.raw, [[sale()]])
    (targets.raw / SUCCESS_FILE).write_bytes(manifest_bytes({**manifest, "format": 3}))

    with pytest.raises(PartitionError, match="has format 3; this version of the pipeline reads formats 1 to 2"):
        convert(targets)
