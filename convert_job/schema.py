"""The staging schema: loaded from its versioned ``.avsc`` once, with its fingerprint."""

from __future__ import annotations

import io
import json
import sys
from functools import lru_cache
from importlib import resources
from typing import Any

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

from shared.errors import ConfigError

SCHEMA_FILE = "sale.v1.avsc"
FIELDS = ("client", "purchase_date", "product", "price")


@lru_cache(maxsize=1)
def sale_schema() -> dict[str, Any]:
    """The parsed ``Sale`` schema, ready for ``fastavro.writer``, its strings interned.

    fastavro looks every field of every record up by the schema's field name and
    compares the schema's type names with its own constants: with interned
    strings (the same objects as the record keys and fastavro's literals) those
    are pointer comparisons, about 5% of the encoding (docs/benchmarks.md).
    """
    text = resources.files("convert_job.schemas").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    parsed: dict[str, Any] = _interned(fastavro.parse_schema(json.loads(text)))
    return parsed


def _interned(value: Any) -> Any:
    """``value`` (a parsed schema) with every string in it, keys included, interned."""
    if isinstance(value, str):
        return sys.intern(value)
    if isinstance(value, dict):
        return {sys.intern(key): _interned(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_interned(item) for item in value]
    return value


@lru_cache(maxsize=1)
def schema_fingerprint() -> str:
    """SHA-256 of the schema's Parsing Canonical Form: changes exactly when the schema's meaning does."""
    return "sha256:" + fingerprint(to_parsing_canonical_form(sale_schema()), "SHA-256")


def check_codec(codec: str) -> str:
    """Fail early, as a configuration error, for a codec fastavro lacks or whose library is missing."""
    probe = {"client": "", "purchase_date": 0, "product": "", "price": 0}
    try:
        fastavro.writer(io.BytesIO(), sale_schema(), [probe], codec=codec)
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"codec {codec!r} is not available: {exc}") from None
    return codec
