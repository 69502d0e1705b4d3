"""Record validation: pure functions, no I/O.

A record is valid when it is a JSON object holding ``client`` and ``product`` as
strings, ``purchase_date`` as a real ``YYYY-MM-DD`` date, and ``price`` as an
integer in Avro's long range (not a bool, not a string; a float only when it is
integral). Fields beyond those four do not make a record invalid: they are left
out of the Avro record and reported as schema drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from convert_job.schema import FIELDS
from shared.dates import strict_date

LONG_MIN = -(2**63)
LONG_MAX = 2**63 - 1
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_FIELD_SET = frozenset(FIELDS)


class BigNumber:
    """A JSON integer with more digits than Python's int parser allows, kept as its text.

    ``raw_reader`` hands these out only when a page cannot be read otherwise, so the
    record holding one is quarantined and the rest of its page converts.
    """

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Rejection:
    """Why a record was refused."""

    reason: str


def json_type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float, BigNumber)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


@lru_cache(maxsize=4096)
def epoch_days(text: str) -> int | None:
    """Days since 1970-01-01 for a strict ``YYYY-MM-DD`` date, None otherwise.

    Cached: a partition repeats the same few dates. The fast path (``decoding``)
    parses dates with msgspec instead, which takes exactly these (its tests pin it).
    """
    try:
        return strict_date(text).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        return None


def _text_problem(name: str, value: object) -> str | None:
    """Why ``value`` cannot be an Avro string, or None (cheap for the usual ASCII text)."""
    if type(value) is not str:
        return f"{name} must be a string, got {json_type_name(value)}"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"{name} is not valid Unicode (lone surrogate)"
    return None


def _price(value: object) -> int | Rejection:
    if type(value) is int:
        if LONG_MIN <= value <= LONG_MAX:
            return value
        return Rejection("price is outside the 64-bit integer range")
    if type(value) is float:
        if not value.is_integer():
            return Rejection(f"price must be a whole number, got {value!r}")
        if LONG_MIN <= value <= LONG_MAX:
            return int(value)
        return Rejection("price is outside the 64-bit integer range")
    if type(value) is BigNumber:
        return Rejection(f"price has {len(value.text)} digits, too many to read as a number")
    return Rejection(f"price must be an integer, got {json_type_name(value)}")


def validate(record: Any, surrogate_free: bool = False) -> dict[str, Any] | Rejection:
    """The Avro-ready record (``purchase_date`` as epoch days), or the ``Rejection`` saying why not.

    This runs once per record, so the usual case, a valid record, costs a handful
    of type tests and a cached date lookup; messages are built only on failure.
    ``surrogate_free``: the caller knows no string here can hold a lone surrogate
    (see ``raw_reader.may_hold_surrogates``), so non-ASCII text needs no UTF-8 check.
    """
    if type(record) is not dict:
        return Rejection(f"record must be a JSON object, got {json_type_name(record)}")
    try:
        client, purchase_date = record["client"], record["purchase_date"]
        product, price = record["product"], record["price"]
    except KeyError:
        return Rejection(f"missing field(s): {', '.join(name for name in FIELDS if name not in record)}")
    if not (type(client) is str and (surrogate_free or client.isascii())) and (
        problem := _text_problem("client", client)
    ):
        return Rejection(problem)
    if not (type(product) is str and (surrogate_free or product.isascii())) and (
        problem := _text_problem("product", product)
    ):
        return Rejection(problem)
    if type(purchase_date) is not str:
        return Rejection(f"purchase_date must be a YYYY-MM-DD string, got {json_type_name(purchase_date)}")
    days = epoch_days(purchase_date)
    if days is None:
        return Rejection(f"purchase_date {purchase_date[:40]!r} is not a real YYYY-MM-DD date")
    if not (type(price) is int and LONG_MIN <= price <= LONG_MAX):
        checked = _price(price)
        if isinstance(checked, Rejection):
            return checked
        price = checked
    return {"client": client, "purchase_date": days, "product": product, "price": price}


def unknown_fields(record: dict[str, Any]) -> list[str]:
    """Field names the schema does not have (cheap when there are none)."""
    if len(record) == len(FIELDS):
        return []
    return [name for name in record if name not in _FIELD_SET]
