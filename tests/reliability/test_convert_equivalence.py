"""The fast path changes nothing: ``screen`` against the rules it replaced, on the same pages.

The reference is the previous revision's algorithm, kept as an oracle: every
page read with ``json`` and every record judged by ``validate`` (without even
the surrogate shortcut). Both must give the same Avro bytes (written with one
sync marker), the same quarantine lines, the same counts and the same
unknown-field counts, or the same ``PartitionError``, on:

* the bad-input corpus of ``test_bad_input`` (its content cases);
* the benchmark's inputs, pages of 100 and of 1000 records;
* the simulator's pages with invalid records, pages with schema drift, and
  pages mutated token by token from a table of hazards.
"""

from __future__ import annotations

import io
import json
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bench.inputs import realistic_page
from convert_job.avro_output import write_avro
from convert_job.convert import Tally, reject_line, screen
from convert_job.raw_reader import RawPage, iter_pages, parse_page
from convert_job.validation import Rejection, unknown_fields, validate
from sales_api_sim.config import SimulatorConfig
from sales_api_sim.data import render_page
from shared.errors import PartitionError
from shared.manifest import read_manifest

from .test_bad_input import CONTENT_CASES

MARKER = b"equivalence-test"  # 16 bytes: one sync marker for both sides, so their Avro bytes compare


@dataclass(frozen=True)
class Outcome:
    """Everything a conversion leaves: Avro bytes, quarantine bytes, counts; or the error that refused it."""

    avro: bytes = b""
    rejects: bytes = b""
    counts: tuple[int, int, int] = (0, 0, 0)
    unknown: tuple[tuple[str, int], ...] = ()
    error: str | None = None


def _avro(records: Sequence[dict[str, Any]]) -> bytes:
    buffer = io.BytesIO()
    write_avro(buffer, records, "null", MARKER)
    return buffer.getvalue()


def reference(pages: Sequence[RawPage]) -> Outcome:
    """The rules alone, record by record, as convert worked before the fast path."""
    written: list[dict[str, Any]] = []
    rejects = io.BytesIO()
    unknown: Counter[str] = Counter()
    read = 0
    try:
        for page in pages:
            records = parse_page(page.path, page.data)[0]
            for index, record in enumerate(records):
                result = validate(record)
                if isinstance(result, Rejection):
                    rejects.write(reject_line(page.name, index, result.reason, record))
                    continue
                unknown.update(unknown_fields(record))
                written.append(result)
            read += len(records)
    except PartitionError as exc:
        return Outcome(error=str(exc))
    counts = (read, len(written), read - len(written))
    return Outcome(_avro(written), rejects.getvalue(), counts, tuple(sorted(unknown.items())))


def current(pages: Sequence[RawPage]) -> Outcome:
    """What convert's ``screen`` does now."""
    tally = Tally()
    rejects = io.BytesIO()
    try:
        written = list(screen(pages, tally, rejects))
    except PartitionError as exc:
        return Outcome(error=str(exc))
    counts = (tally.read, tally.written, tally.rejected)
    return Outcome(_avro(written), rejects.getvalue(), counts, tuple(sorted(tally.unknown_fields.items())))


def raw_pages(bodies: Sequence[bytes]) -> list[RawPage]:
    return [RawPage(f"page_{n}.json", Path(f"/raw/page_{n}.json"), body) for n, body in enumerate(bodies, start=1)]


def assert_same(pages: Sequence[RawPage]) -> Outcome:
    expected = reference(pages)
    assert current(pages) == expected
    return expected


@pytest.mark.parametrize(("build", "expected"), CONTENT_CASES)
def test_the_bad_input_corpus_converts_as_before(tmp_path: Path, build: Callable[[Path], None], expected: Any) -> None:
    raw = tmp_path / "raw"
    build(raw)
    pages = list(iter_pages(raw, read_manifest(raw)))

    outcome = assert_same(pages)

    assert (outcome.error is not None) == (type(expected).__name__ == "Refused")


@pytest.mark.parametrize("records_per_page", [100, 1000])
def test_the_benchmark_inputs_convert_as_before(records_per_page: int) -> None:
    bodies = [realistic_page("2024-01-01", page, records_per_page) for page in range(1, 4)]

    outcome = assert_same(raw_pages(bodies))

    assert outcome.counts == (3 * records_per_page, 3 * records_per_page, 0)


@pytest.mark.parametrize("invalid_rate", [0.01, 0.2, 1.0])
def test_the_simulators_invalid_records_convert_as_before(invalid_rate: float) -> None:
    config = SimulatorConfig(seed=7, records_per_page=200, invalid_rate=invalid_rate)
    bodies = [render_page(config, "2022-08-09", page) for page in range(1, 6)]

    outcome = assert_same(raw_pages(bodies))

    assert outcome.counts[2] > 0


def test_schema_drift_is_counted_as_before() -> None:
    records = json.loads(realistic_page("2024-01-01", 1, 100))
    for index, record in enumerate(records):
        if index % 7 == 0:
            record["discount"] = index
        if index % 11 == 0:
            record["currency"] = "EUR"
    drifted = json.dumps(records, ensure_ascii=False).encode()

    outcome = assert_same(raw_pages([drifted, realistic_page("2024-01-01", 2, 100)]))

    assert dict(outcome.unknown) == {"discount": 15, "currency": 10}


# (what to find in a valid page's text, what to put instead): hazards for a typed decoder.
MUTATIONS = [
    ('"price": 1', '"price": 1.0'),
    ('"price": 1', '"price": 1e0'),
    ('"price": 1', '"price": -0.0'),
    ('"price": 1', '"price": "1'),
    ('"price": 1', '"price": true, "x": 1'),
    ('"price": 1', '"price": 9223372036854775807'),
    ('"price": 1', '"price": 9223372036854775808'),
    ('"price": 1', '"price": -9223372036854775809'),
    ('"price": 1', '"price": 18446744073709551616'),
    ('"price": 1', '"price": 9223372036854775807.0'),
    ('"price": 1', '"price": NaN, "p": 1'),
    ('"price": 1', '"price": 1, "price": 2'),
    ('"price": 1', '"price": null, "price": 2'),
    ('"price": 1', '"pr\\u0069ce": 1'),
    ('"client": "', '"client": "\\ud800'),
    ('"client": "', '"client": "\\ud83d\\ude00'),
    ('"client": "', '"client": "\\u0000'),
    ('"client": "', '"client": null, "c": "'),
    ('"client": "', '"client ": "'),
    ('"product": "', '"product": ["'),
    ('"purchase_date": "2', '"purchase_date": "\\u0032'),
    ('"purchase_date": "2024-01-01"', '"purchase_date": "2024-02-30"'),
    ('"purchase_date": "2024-01-01"', '"purchase_date": "2024-01-01 "'),
    ('"purchase_date": "2024-01-01"', '"purchase_date": "0000-01-01"'),
    ('"purchase_date": "2024-01-01"', '"purchase_date": "2024-01-01T00:00:00Z"'),
    ('"purchase_date": "2024-01-01"', '"purchase_date": 19723'),
    ('"purchase_date": "2024-01-01", ', ""),
    ("{", '{"extra": {"deep": [1, 2, {"x": NaN}]}, '),
    ("{", "["),
]


@pytest.mark.parametrize(("find", "replace"), MUTATIONS, ids=[f"{r[:30]!r}" for _, r in MUTATIONS])
def test_mutated_pages_convert_as_before(find: str, replace: str) -> None:
    rng = random.Random(f"{find}->{replace}")
    text = realistic_page("2024-01-01", 1, 100).decode()
    spots = [i for i in range(len(text)) if text.startswith(find, i)]
    bodies = []
    for chosen in (rng.sample(spots, k) for k in (1, 1, 3)):
        mutated = text
        for spot in sorted(chosen, reverse=True):
            mutated = mutated[:spot] + replace + mutated[spot + len(find) :]
        bodies.append(mutated.encode())

    assert_same(raw_pages([realistic_page("2024-01-01", 2, 100), *bodies]))
