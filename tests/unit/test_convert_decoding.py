"""``convert_job.decoding``: the fast path takes a page only when the rules would keep every record as it is.

Each row of the rules' own tables (``test_convert_validation``) is put on a
page of its own: a record the rules refuse must send its page to the fallback
(None); a valid one must come out exactly as ``validate`` makes it, or send its
page to the fallback when it is one of the few shapes the fast path leaves to
the rules (integral floats, unknown fields).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from convert_job.decoding import decode_valid_page
from convert_job.validation import validate

from .test_convert_validation import INVALID, VALID, sale


def page(*records: Any) -> bytes:
    """A page of ``records``, non-ASCII as ``\\u`` escapes (the only way to write a lone surrogate)."""
    return json.dumps(list(records)).encode("ascii")


FALLS_BACK = {"price-integral-float", "price-negative-zero-float", "extra-fields"}


@pytest.mark.parametrize(("record", "expected"), VALID)
def test_a_valid_record_comes_out_as_the_rules_make_it(
    request: pytest.FixtureRequest, record: dict[str, Any], expected: dict[str, Any]
) -> None:
    result = decode_valid_page(page(sale(), record))

    if request.node.callspec.id in FALLS_BACK:
        assert result is None
    else:
        assert result == [validate(sale()), expected]
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
