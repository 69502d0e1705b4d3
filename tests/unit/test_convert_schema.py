"""``convert_job.schema``: the versioned ``.avsc``, its fingerprint, and the codec check."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
from importlib import resources
from typing import Any

import fastavro
import pytest
from fastavro.schema import fingerprint, to_parsing_canonical_form

from convert_job.schema import FIELDS, SCHEMA_FILE, check_codec, sale_schema, schema_fingerprint
from shared.errors import ConfigError

# The fingerprint of sale.v1. If this test fails the schema's meaning changed:
# that is a new schema version (sale.v2.avsc), not an edit of v1.
SALE_V1_FINGERPRINT = "sha256:1081ca902b5628519cca9f5d991739278b870d0cd31a43eb9f006e0aa50fb43f"


@pytest.fixture(scope="module")
def avsc() -> dict[str, Any]:
    text = resources.files("convert_job.schemas").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def test_avsc_names_the_record_and_documents_it(avsc: dict[str, Any]) -> None:
    assert avsc["type"] == "record"
    assert avsc["name"] == "Sale"
    assert avsc["namespace"] == "com.salespipeline.stg.v1"
    assert avsc["doc"].strip()


def test_avsc_has_the_four_fields_typed_and_documented(avsc: dict[str, Any]) -> None:
    fields = {f["name"]: f for f in avsc["fields"]}

    assert [f["name"] for f in avsc["fields"]] == list(FIELDS)
    assert fields["client"]["type"] == "string"
    assert fields["product"]["type"] == "string"
    assert fields["price"]["type"] == "long"
    assert fields["purchase_date"]["type"] == {"type": "int", "logicalType": "date"}
    assert all(f["doc"].strip() for f in avsc["fields"])


def test_parsed_schema_is_the_avsc(avsc: dict[str, Any]) -> None:
    assert to_parsing_canonical_form(sale_schema()) == to_parsing_canonical_form(fastavro.parse_schema(avsc))


def test_fingerprint_is_pinned() -> None:
    assert schema_fingerprint() == SALE_V1_FINGERPRINT
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", schema_fingerprint())


def test_fingerprint_ignores_docs_but_not_types(avsc: dict[str, Any]) -> None:
    def fp(schema: dict[str, Any]) -> str:
        return "sha256:" + fingerprint(to_parsing_canonical_form(fastavro.parse_schema(schema)), "SHA-256")

    reworded = copy.deepcopy(avsc)
    reworded["doc"] = "Something else entirely."
    reworded["fields"][0]["doc"] = "Reworded."
    retyped = copy.deepcopy(avsc)
    retyped["fields"][3]["type"] = "int"

    assert fp(avsc) == schema_fingerprint()
    assert fp(reworded) == schema_fingerprint()
    assert fp(retyped) != schema_fingerprint()


@pytest.mark.parametrize("codec", ["null", "deflate"])
def test_check_codec_accepts_what_fastavro_can_write(codec: str) -> None:
    assert check_codec(codec) == codec


@pytest.mark.parametrize(
    "codec",
    [
        pytest.param("nope", id="unknown"),
        pytest.param("", id="empty"),
        pytest.param("DEFLATE", id="wrong-case"),
    ],
)
def test_check_codec_rejects_an_unknown_codec(codec: str) -> None:
    with pytest.raises(ConfigError, match="is not available"):
        check_codec(codec)


@pytest.mark.skipif(importlib.util.find_spec("cramjam") is not None, reason="cramjam is installed")
def test_check_codec_rejects_a_codec_whose_library_is_missing() -> None:
    with pytest.raises(ConfigError, match=r"codec 'snappy' is not available.*cramjam"):
        check_codec("snappy")
