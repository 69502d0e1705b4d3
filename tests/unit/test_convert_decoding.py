"""``convert_job.decoding``: the fast path takes a page only when the rules would keep every record as it is.

Each row of the rules' own tables (``test_convert_validation``) is put on a
page of its own: a record the rules refuse must send its page to the fallback
(None); a valid one must come out exactly as ``validate`` makes it, or send its
page to the fallback when it is one of the few shapes the fast path leaves to
the rules (integral floats, unknown fields). The fast path hands out dates as
``datetime.date``, which fastavro writes as the epoch days ``validate`` gives.
"""

from __future__ import annotations

import itertools
import json
from datetime import date
from typing import Any

import pytest

from convert_job.decoding import decode_valid_page
from convert_job.validation import epoch_days, validate

from .test_convert_validation import INVALID, VALID, sale


def page(*records: Any) -> bytes:
    """A page of ``records``, non-ASCII as ``\\u`` escapes (the only way to write a lone surrogate)."""
    return json.dumps(list(records)).encode("ascii")


EPOCH = date(1970, 1, 1)


def as_validated(record: dict[str, Any]) -> dict[str, Any]:
    """A fast-path record with its date as epoch days, as ``validate`` makes it (fastavro writes both alike)."""
    day = record["purchase_date"]
    assert type(day) is date
    return {**record, "purchase_date": (day - EPOCH).days}


FALLS_BACK = {"price-integral-float", "price-negative-zero-float", "extra-fields"}


@pytest.mark.parametrize(("record", "expected"), VALID)
def test_a_valid_record_comes_out_as_the_rules_make_it(
    request: pytest.FixtureRequest, record: dict[str, Any], expected: dict[str, Any]
) -> None:
    result = decode_valid_page(page(sale(), record))

    if request.node.callspec.id in FALLS_BACK:
        assert result is None
    else:
        assert result is not None
        assert [as_validated(r) for r in result] == [validate(sale()), expected]
        assert [list(r) for r in result] == [list(expected)] * 2


@pytest.mark.parametrize(("record", "reason"), INVALID)
def test_a_record_the_rules_refuse_sends_its_page_to_the_fallback(record: Any, reason: str) -> None:
    assert decode_valid_page(page(sale(), record)) is None


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(b"[]", [], id="empty-page"),
        pytest.param(
            b' [ {"client": "a", "purchase_date": "2022-08-09", "product": "b", "price": 1} ]\n', [1], id="spaces"
        ),
        pytest.param(
            b'[{"client": "a", "purchase_date": "2022-08-09", "product": "b", "price": -0}]', [0], id="minus-0"
        ),
        pytest.param(
            b'[{"price": 1, "product": "b", "purchase_date": "2022-08-09", "client": "a"}]', [1], id="other-order"
        ),
        pytest.param(
            b'[{"client": "a", "purchase_date": "2022-08-09", "product": "b", "price": "x", "price": 2}]',
            None,
            id="duplicate-key-first-invalid",
        ),
        pytest.param(
            b'[{"client": "a", "purchase_date": "2022-08-09", "product": "b", "price": 1, "price": 2}]',
            [2],
            id="duplicate-key-last-wins",
        ),
        pytest.param(b'[{"client": "a", "purchase_date": "2022-08-09", "product": "b", "price": NaN}]', None, id="nan"),
        pytest.param(
            b'[{"client": "\\ud800", "purchase_date": "2022-08-09", "product": "b", "price": 1}]',
            None,
            id="lone-surrogate",
        ),
        pytest.param(
            b'[{"client": "a\tb", "purchase_date": "2022-08-09", "product": "b", "price": 1}]', None, id="raw-tab"
        ),
        pytest.param(
            b'[{"client": "Jos\xe9", "purchase_date": "2022-08-09", "product": "b", "price": 1}]', None, id="latin1"
        ),
        pytest.param(b"\xef\xbb\xbf[]", None, id="bom"),
        pytest.param(b'{"data": []}', None, id="not-an-array"),
        pytest.param(b"[] []", None, id="two-documents"),
    ],
)
def test_page_level_hazards(data: bytes, expected: list[int] | None) -> None:
    result = decode_valid_page(data)

    assert (None if result is None else [r["price"] for r in result]) == expected


def _date_strings() -> list[str]:
    """Every one-character change of a leap day, and the last days of every month in leap and common years."""
    leap_day = "2024-02-29"
    mutated = [leap_day[:i] + chr(c) + leap_day[i + 1 :] for i in range(len(leap_day)) for c in range(128)]
    ends = [
        f"{year}-{month:02d}-{day:02d}"
        for year, month, day in itertools.product(
            ("0000", "0001", "1900", "2000", "2023", "2024", "9999"), range(14), range(27, 33)
        )
    ]
    return [*mutated, *ends, leap_day[:-1], leap_day + "0", f"+{leap_day}", f"{leap_day}Z"]


def test_the_fast_path_takes_exactly_the_dates_the_rules_take() -> None:
    for text in _date_strings():
        result = decode_valid_page(page(sale(purchase_date=text)))
        days = epoch_days(text)

        assert (None if result is None else as_validated(result[0])["purchase_date"]) == days, text
