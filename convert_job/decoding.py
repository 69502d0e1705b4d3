"""The fast path: a whole page decoded by msgspec straight into Avro-ready records, or not at all.

msgspec checks every type while it parses (in C), against a struct that is the
schema: ``client`` and ``product`` strings, ``purchase_date`` a calendar date,
and ``price`` a JSON integer in Avro's long range. A page takes this path only
when every one of its records passes; anything else, one bad record or a field
the schema lacks, sends the whole page to the caller's fallback, which reads it
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
* dates: msgspec's ``date`` takes exactly ``YYYY-MM-DD`` with ASCII digits and a
  real day of a real month, year 1 to 9999, which is the rules' own
  (``shared.dates.strict_date``). It hands out a ``datetime.date``, which
  fastavro writes for the ``date`` logical type as the same days since the
  epoch that ``validate`` computes: parsing it in C costs less than a cached
  lookup per record in Python (measured: docs/benchmarks.md).

Records are plain dicts (``msgspec.structs.asdict``, in C), the only shape
fastavro writes; the fields keep the schema's order.

``tests/unit/test_convert_decoding.py`` pins the equivalence with the rules.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import msgspec

from convert_job.validation import LONG_MAX, LONG_MIN


class _Sale(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """One raw record as the schema wants it (``gc=False``: it holds only strings, ints and dates, no cycles)."""

    client: str
    purchase_date: date
    product: str
    price: Annotated[int, msgspec.Meta(ge=LONG_MIN, le=LONG_MAX)]


_PAGE = msgspec.json.Decoder(list[_Sale])
_as_dict = msgspec.structs.asdict


def decode_valid_page(data: bytes) -> list[dict[str, Any]] | None:
    """Every record of the page ``data``, Avro-ready (``purchase_date`` a ``date``, which fastavro writes as
    epoch days), or None when any record, or the page itself, needs the rules to judge it."""
    try:
        sales = _PAGE.decode(data)
    except msgspec.DecodeError:  # ValidationError is a DecodeError too
        return None
    return list(map(_as_dict, sales))
