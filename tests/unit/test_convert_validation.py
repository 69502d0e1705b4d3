"""``convert_job.validation``: which raw records become Avro records, and why the others are refused."""

from __future__ import annotations

import io
import math
from datetime import date
from typing import Any

import fastavro
import pytest

from convert_job.avro_output import write_avro
from convert_job.validation import LONG_MAX, LONG_MIN, Rejection, unknown_fields, validate

DAY = "2022-08-09"
DAY_EPOCH = (date(2022, 8, 9) - date(1970, 1, 1)).days  # 19213


def sale(**overrides: Any) -> dict[str, Any]:
    """A valid raw record with some fields replaced (``DROP`` removes one)."""
    record: dict[str, Any] = {"client": "Michael Wilson", "purchase_date": DAY, "product": "TV", "price": 1500}
    for name, value in overrides.items():
        if value is DROP:
            del record[name]
        else:
            record[name] = value
    return record


DROP = object()


def avro_ready(**overrides: Any) -> dict[str, Any]:
    expected: dict[str, Any] = {"client": "Michael Wilson", "purchase_date": DAY_EPOCH, "product": "TV", "price": 1500}
    expected.update(overrides)
    return expected


# (raw record, expected Avro-ready record)
VALID = [
    pytest.param(sale(), avro_ready(), id="plain"),
    pytest.param(sale(client="王伟", product="ヘッドホン"), avro_ready(client="王伟", product="ヘッドホン"), id="cjk"),
    pytest.param(sale(client="𠮷田 花子"), avro_ready(client="𠮷田 花子"), id="outside-bmp"),
    pytest.param(sale(client="Shop 😀🛒", product="📱"), avro_ready(client="Shop 😀🛒", product="📱"), id="emoji"),
    pytest.param(
        sale(client="Zoe\u0301 Mu\u0308ller"), avro_ready(client="Zoe\u0301 Mu\u0308ller"), id="combining-marks"
    ),
    pytest.param(sale(client='Dwayne "The Rock"\\ \n\t'), avro_ready(client='Dwayne "The Rock"\\ \n\t'), id="escapes"),
    pytest.param(sale(client="", product=""), avro_ready(client="", product=""), id="empty-strings"),
    pytest.param(sale(price=0), avro_ready(price=0), id="price-zero"),
    pytest.param(sale(price=-250), avro_ready(price=-250), id="price-negative"),
    pytest.param(sale(price=LONG_MAX), avro_ready(price=LONG_MAX), id="price-long-max"),
    pytest.param(sale(price=LONG_MIN), avro_ready(price=LONG_MIN), id="price-long-min"),
    pytest.param(sale(price=12.0), avro_ready(price=12), id="price-integral-float"),
    pytest.param(sale(price=-0.0), avro_ready(price=0), id="price-negative-zero-float"),
    pytest.param(sale(purchase_date="1970-01-01"), avro_ready(purchase_date=0), id="date-epoch"),
    pytest.param(sale(purchase_date="1969-12-31"), avro_ready(purchase_date=-1), id="date-before-epoch"),
    pytest.param(sale(purchase_date="2024-02-29"), avro_ready(purchase_date=19782), id="date-leap-day"),
    pytest.param(sale(purchase_date="0001-01-01"), avro_ready(purchase_date=-719162), id="date-min"),
    pytest.param(sale(purchase_date="9999-12-31"), avro_ready(purchase_date=2932896), id="date-max"),
    pytest.param(sale(discount=5, currency="EUR"), avro_ready(), id="extra-fields"),
    pytest.param(
        {"price": 1500, "product": "TV", "purchase_date": DAY, "client": "Michael Wilson"},
        avro_ready(),
        id="fields-in-another-order",
    ),
]


@pytest.mark.parametrize(("record", "expected"), VALID)
def test_valid_records_become_avro_ready(record: dict[str, Any], expected: dict[str, Any]) -> None:
    result = validate(record)

    assert result == expected
    assert list(result) == ["client", "purchase_date", "product", "price"]
    assert type(result["price"]) is int
    assert type(result["purchase_date"]) is int


# (raw record, substring of the rejection reason)
INVALID = [
    pytest.param(sale(price=True), "price must be an integer, got boolean", id="price-true"),
    pytest.param(sale(price=False), "price must be an integer, got boolean", id="price-false"),
    pytest.param(sale(price="12"), "price must be an integer, got string", id="price-string"),
    pytest.param(sale(price=None), "price must be an integer, got null", id="price-null"),
    pytest.param(sale(price=[12]), "price must be an integer, got array", id="price-array"),
    pytest.param(sale(price={"amount": 12}), "price must be an integer, got object", id="price-object"),
    pytest.param(sale(price=12.5), "price must be a whole number", id="price-fraction"),
    pytest.param(sale(price=math.nan), "price must be a whole number", id="price-nan"),
    pytest.param(sale(price=math.inf), "price must be a whole number", id="price-inf"),
    pytest.param(sale(price=-math.inf), "price must be a whole number", id="price-minus-inf"),
    pytest.param(sale(price=float(2**63)), "price", id="price-float-beyond-long"),
    pytest.param(sale(price=LONG_MAX + 1), "outside the 64-bit integer range", id="price-long-max-plus-1"),
    pytest.param(sale(price=LONG_MIN - 1), "outside the 64-bit integer range", id="price-long-min-minus-1"),
    pytest.param(sale(purchase_date="2022-02-30"), "not a real YYYY-MM-DD date", id="date-feb-30"),
    pytest.param(sale(purchase_date="2023-02-29"), "not a real YYYY-MM-DD date", id="date-feb-29-not-leap"),
    pytest.param(sale(purchase_date="2022-13-01"), "not a real YYYY-MM-DD date", id="date-month-13"),
    pytest.param(sale(purchase_date="2022-00-10"), "not a real YYYY-MM-DD date", id="date-month-0"),
    pytest.param(sale(purchase_date="20220809"), "not a real YYYY-MM-DD date", id="date-basic-format"),
    pytest.param(sale(purchase_date="2022-8-9"), "not a real YYYY-MM-DD date", id="date-unpadded"),
    pytest.param(sale(purchase_date="2022-08-09T00:00:00"), "not a real YYYY-MM-DD date", id="date-with-time"),
    pytest.param(sale(purchase_date="2022-W32-2"), "not a real YYYY-MM-DD date", id="date-week-format"),
    pytest.param(sale(purchase_date=" 2022-08-09"), "not a real YYYY-MM-DD date", id="date-leading-space"),
    pytest.param(sale(purchase_date="2022-08-09\n"), "not a real YYYY-MM-DD date", id="date-trailing-newline"),
    pytest.param(sale(purchase_date="٢٠٢٢-٠٨-٠٩"), "not a real YYYY-MM-DD date", id="date-arabic-indic-digits"),
    pytest.param(sale(purchase_date="２０２２-０８-０９"), "not a real YYYY-MM-DD date", id="date-fullwidth-digits"),
    pytest.param(sale(purchase_date=""), "not a real YYYY-MM-DD date", id="date-empty"),
    pytest.param(
        sale(purchase_date=20220809), "purchase_date must be a YYYY-MM-DD string, got number", id="date-number"
    ),
    pytest.param(sale(purchase_date=None), "purchase_date must be a YYYY-MM-DD string, got null", id="date-null"),
    pytest.param([sale()], "record must be a JSON object, got array", id="record-list"),
    pytest.param("Michael Wilson", "record must be a JSON object, got string", id="record-string"),
    pytest.param(42, "record must be a JSON object, got number", id="record-number"),
    pytest.param(None, "record must be a JSON object, got null", id="record-null"),
    pytest.param(True, "record must be a JSON object, got boolean", id="record-bool"),
    pytest.param(sale(client={"name": "Michael"}), "client must be a string, got object", id="client-object"),
    pytest.param(sale(client=["Michael"]), "client must be a string, got array", id="client-list"),
    pytest.param(sale(client=None), "client must be a string, got null", id="client-null"),
    pytest.param(sale(client=7), "client must be a string, got number", id="client-number"),
    pytest.param(
        sale(product={"name": "TV", "sku": "SKU-1"}), "product must be a string, got object", id="product-object"
    ),
    pytest.param(sale(client=DROP), "missing field(s): client", id="missing-client"),
    pytest.param(sale(purchase_date=DROP), "missing field(s): purchase_date", id="missing-purchase_date"),
    pytest.param(sale(product=DROP), "missing field(s): product", id="missing-product"),
    pytest.param(sale(price=DROP), "missing field(s): price", id="missing-price"),
    pytest.param({}, "missing field(s): client, purchase_date, product, price", id="missing-all"),
    pytest.param(sale(client="Mich\ud800ael"), "client is not valid Unicode", id="client-lone-surrogate"),
    pytest.param(sale(product="\udfff"), "product is not valid Unicode", id="product-lone-surrogate"),
]


@pytest.mark.parametrize(("record", "reason"), INVALID)
def test_invalid_records_are_rejected_with_a_reason(record: Any, reason: str) -> None:
    result = validate(record)

    assert isinstance(result, Rejection)
    assert reason in result.reason


def test_a_long_bad_date_is_cut_short_in_the_reason() -> None:
    result = validate(sale(purchase_date="x" * 10_000))

    assert isinstance(result, Rejection)
    assert len(result.reason) < 200


def test_validation_does_not_change_the_record() -> None:
    record = sale(price=12.0, discount=1)
    before = dict(record)

    validate(record)

    assert record == before


def test_every_valid_output_round_trips_through_avro() -> None:
    """The Avro-ready records are exactly what the schema accepts: no field, type or range surprises."""
    outputs = [out for param in VALID if not isinstance(out := validate(param.values[0]), Rejection)]
    assert len(outputs) == len(VALID)
    buffer = io.BytesIO()

    write_avro(buffer, outputs, "null")
    buffer.seek(0)
    back = list(fastavro.reader(buffer))

    epoch = date(1970, 1, 1).toordinal()
    assert back == [{**out, "purchase_date": date.fromordinal(out["purchase_date"] + epoch)} for out in outputs]


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        pytest.param(sale(), [], id="none"),
        pytest.param(sale(discount=5), ["discount"], id="one"),
        pytest.param(
            sale(discount=5, currency="EUR", note=None), ["discount", "currency", "note"], id="several-in-record-order"
        ),
        pytest.param(sale(**{"client ": "x"}), ["client "], id="near-miss-name"),
    ],
)
def test_unknown_fields(record: dict[str, Any], expected: list[str]) -> None:
    assert unknown_fields(record) == expected
