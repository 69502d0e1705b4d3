"""``extract_date`` with a fake client: files, manifest, and what a failure leaves behind."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import date
from pathlib import Path
from typing import Any, cast

import pytest

from extract_job.classify import Page
from extract_job.client import SalesApiClient
from extract_job.extract import complete_manifest, extract_date
from extract_job.ratecontrol import RateController
from shared.errors import ApiError, DataError, FatalApiError
from shared.filenames import SUCCESS_FILE, page_file_name
from shared.manifest import sha256_hex, verify_partition

from ..support.files import snapshot

DAY = date(2026, 11, 24)
SOURCE = "http://127.0.0.1:9/sales"


def body(page: int, records: int = 2) -> bytes:
    return json.dumps([{"page": page, "n": i, "client": "Zoë"} for i in range(records)], ensure_ascii=False).encode()


def extract(partition: Path, client: FakeClient, concurrency: int, max_pages: int, **options: Any) -> Any:
    """``extract_date`` of ``DAY`` from ``SOURCE`` with the fake standing in for the HTTP client."""
    return extract_date(DAY, partition, cast(SalesApiClient, client), SOURCE, concurrency, max_pages, **options)


class FakeClient:
    """``fetch_page`` for a date with ``last`` pages; ``beyond`` makes pages past the end answer again."""

    def __init__(self, last: int, errors: dict[int, Exception] | None = None, beyond_from: int | None = None) -> None:
        self.last, self.errors, self.beyond_from = last, errors or {}, beyond_from
        self.calls: list[tuple[date, int]] = []
        self._lock = threading.Lock()
        self.control = RateController(concurrency=4)

    def stop(self) -> None:
        """Nothing to wake: every fake page answers at once."""

    def fetch_page(self, day: date, page: int, started: float | None = None) -> Page | None:
        with self._lock:
            self.calls.append((day, page))
        if page in self.errors:
            raise self.errors[page]
        if page <= self.last or (self.beyond_from is not None and page >= self.beyond_from):
            data = body(page)
            return Page(page, data, 2)
        return None


@pytest.mark.parametrize("concurrency", [1, 4], ids=lambda c: f"concurrency-{c}")
def test_every_page_and_the_manifest(tmp_path: Path, concurrency: int) -> None:
    target = tmp_path / "raw" / "sales" / DAY.isoformat()
    client = FakeClient(5)
    summary = extract(target, client, concurrency, max_pages=100)
    assert (summary["pages"], summary["records"]) == (5, 10)
    names = [page_file_name(DAY, n) for n in range(1, 6)]
    assert sorted(p.name for p in target.iterdir()) == sorted([*names, SUCCESS_FILE])
    for n, name in enumerate(names, start=1):
        assert (target / name).read_bytes() == body(n)
    manifest = verify_partition(target)
    assert manifest["pages"] == 5 and manifest["records"] == 10
    assert manifest["bytes"] == sum(len(body(n)) for n in range(1, 6)) == summary["bytes"]
    assert [f["name"] for f in manifest["files"]] == names, "files listed in page order"
    assert manifest["files"][0]["sha256"] == sha256_hex(body(1))
    assert (manifest["date"], manifest["dataset"], manifest["zone"], manifest["source"], manifest["tool"]) == (
        "2026-11-24",
        "sales",
        "raw",
        SOURCE,
        "extract_job",
    )
    assert str(uuid.UUID(manifest["run_id"])) == manifest["run_id"]
    assert manifest["started_at"] <= manifest["finished_at"]
    assert {d for d, _ in client.calls} == {DAY}
    assert [p.name for p in target.parent.iterdir()] == [DAY.isoformat()], "no hidden temporaries"


def test_page_file_names_sort_naturally_in_the_manifest(tmp_path: Path) -> None:
    extract(tmp_path / "d", FakeClient(11), 3, 100)
    files = verify_partition(tmp_path / "d")["files"]
    assert [f["name"] for f in files][-3:] == [page_file_name(DAY, n) for n in (9, 10, 11)]


def test_no_sales_gives_a_manifest_only_partition(tmp_path: Path) -> None:
    summary = extract(tmp_path / "d", FakeClient(0), 4, 100)
    assert summary["pages"] == 0
    assert [p.name for p in (tmp_path / "d").iterdir()] == [SUCCESS_FILE]
    manifest = verify_partition(tmp_path / "d")
    assert (manifest["pages"], manifest["records"], manifest["bytes"], manifest["files"]) == (0, 0, 0, [])


def test_records_fetched_past_the_end_fail_the_date(tmp_path: Path) -> None:
    # The API answers the end at page 4, but serves pages again from 5 on (fetched ahead).
    target = tmp_path / "d"
    with pytest.raises(FatalApiError, match="inconsistent API"):
        extract(target, FakeClient(3, beyond_from=5), 6, 100)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("allow_empty", [False, True], ids=["refused", "allowed"])
def test_an_empty_answer_replaces_records_only_when_allowed(tmp_path: Path, allow_empty: bool) -> None:
    target = tmp_path / "d"
    extract(target, FakeClient(2), 2, 100)
    before = snapshot(target)
    if allow_empty:
        extract(target, FakeClient(0), 2, 100, allow_empty=True)
        assert verify_partition(target)["records"] == 0
    else:
        with pytest.raises(DataError, match=r"holds 4 records .* kept as it was\. Pass --allow-empty"):
            extract(target, FakeClient(0), 2, 100)
        assert snapshot(target) == before
    assert [p.name for p in tmp_path.iterdir()] == ["d"]


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(ApiError("page 3: gave up after 5 attempts"), id="gave-up"),
        pytest.param(FatalApiError("the API rejected the token (401)"), id="fatal"),
    ],
)
def test_failure_keeps_the_previous_partition(tmp_path: Path, error: Exception) -> None:
    target = tmp_path / "d"
    extract(target, FakeClient(2), 2, 100)
    before = snapshot(target)
    with pytest.raises(type(error), match=str(error).split(" (")[0]):
        extract(target, FakeClient(6, errors={3: error}), 2, 100)
    assert snapshot(target) == before
    assert [p.name for p in tmp_path.iterdir()] == ["d"]


def test_max_pages_failure_keeps_the_previous_partition(tmp_path: Path) -> None:
    target = tmp_path / "d"
    extract(target, FakeClient(2), 2, 100)
    before = snapshot(target)
    with pytest.raises(ApiError, match="still had pages after 5"):
        extract(target, FakeClient(10**6), 2, 5)
    assert snapshot(target) == before


def test_rerun_replaces_with_a_new_run_id(tmp_path: Path) -> None:
    target = tmp_path / "d"
    extract(target, FakeClient(3), 2, 100)
    first = verify_partition(target)
    extract(target, FakeClient(3), 2, 100)
    second = verify_partition(target)
    assert first["run_id"] != second["run_id"]
    assert first["files"] == second["files"]


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        pytest.param(lambda d: None, False, id="missing"),
        pytest.param(lambda d: d.mkdir(), False, id="empty-folder"),
        pytest.param(lambda d: extract(d, FakeClient(2), 1, 100), True, id="complete"),
        pytest.param(
            lambda d: (
                extract(d, FakeClient(2), 1, 100),
                (d / page_file_name(DAY, 1)).write_bytes(b"[]"),
            ),
            False,
            id="altered-file",
        ),
        pytest.param(
            lambda d: (extract(d, FakeClient(2), 1, 100), (d / SUCCESS_FILE).unlink()),
            False,
            id="no-manifest",
        ),
        pytest.param(
            lambda d: (
                extract(d, FakeClient(2), 1, 100),
                (d / SUCCESS_FILE).write_bytes(b'{"files": [{"name": 1, "records": 1, "bytes": 1, "sha256": "x"}]}'),
            ),
            False,
            id="manifest-with-wrong-types",
        ),
        pytest.param(
            lambda d: extract_date(DAY.replace(day=1), d, cast(SalesApiClient, FakeClient(2)), SOURCE, 1, 100),
            False,
            id="another-dates-partition",
        ),
    ],
)
def test_complete_manifest(tmp_path: Path, setup, expected: bool) -> None:
    target = tmp_path / "d"
    setup(target)
    assert (complete_manifest(target, DAY) is not None) is expected
