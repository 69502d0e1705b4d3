"""The staging schema: loaded from its versioned ``.avsc`` once, with its fingerprint."""

from __future__ import annotations

import io
import json
from functools import lru_cache
from importlib import resources
from typing import Any, cast

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

from shared.errors import ConfigError

SCHEMA_FILE = "sale.v1.avsc"
FIELDS = ("client", "purchase_date", "product", "price")


@lru_cache(maxsize=1)
def sale_schema() -> dict[str, Any]:
    """The parsed ``Sale`` schema, ready for ``fastavro.writer``."""
    text = resources.files("convert_job.schemas").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    # A record schema parses to a dict; fastavro's annotation covers every kind of schema.
    return cast(dict[str, Any], fastavro.parse_schema(json.loads(text)))


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
