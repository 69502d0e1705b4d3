"""The fast path: a whole page decoded by msgspec straight into Avro-ready records, or not at all.

msgspec checks every type while it parses (in C), against a struct that is the
schema: ``client`` and ``product`` strings, ``purchase_date`` a string, and
``price`` a JSON integer in Avro's long range. A page takes this path only when
every one of its records passes; anything else, one bad record or a field the
schema lacks, sends the whole page to the caller's fallback, which reads it
with ``json`` and judges each record with ``validation.validate`` as before.
So this path never decides a rejection, and it may refuse more than the rules
do but never accept what they refuse:

* unknown fields: the struct forbids them, because msgspec would otherwise drop
  them silently and the unknown-field counts would change;
* integral floats (``12.0``), which the rules accept: strict decoding refuses
  them, so such pages fall back (lax decoding would also turn ``"12"`` into 12,
  which the rules refuse);
* lone surrogates (``"\\ud800"``), control characters in strings, invalid UTF-8,
  ``NaN``, integers beyond the long range: msgspec refuses the page;
* dates: msgspec only checks the type; the date rule is the rules' own
  (``validation.epoch_days``), looked up once per distinct string in a page.

``tests/unit/test_convert_decoding.py`` pins the equivalence with the rules.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from convert_job.validation import LONG_MAX, LONG_MIN, epoch_days


class _Sale(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """One raw record as the schema wants it (``gc=False``: it holds only strings and ints, no cycles)."""

    client: str
    purchase_date: str
    product: str
    price: Annotated[int, msgspec.Meta(ge=LONG_MIN, le=LONG_MAX)]


_PAGE = msgspec.json.Decoder(list[_Sale])


def decode_valid_page(data: bytes) -> list[dict[str, Any]] | None:
    """Every record of the page ``data``, Avro-ready (``purchase_date`` as epoch days), or None when
    any record, or the page itself, needs the rules to judge it."""
    try:
        sales = _PAGE.decode(data)
    except msgspec.DecodeError:  # ValidationError is a DecodeError too
        return None
    # A page holds a few distinct dates: each is judged once, then looked up.
    days_of = {text: epoch_days(text) for text in {sale.purchase_date for sale in sales}}
    if None in days_of.values():
        return None
    return [
        {
            "client": sale.client,
            "purchase_date": days_of[sale.purchase_date],
            "product": sale.product,
            "price": sale.price,
        }
        for sale in sales
    ]
