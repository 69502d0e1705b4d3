"""``shared.redaction``: every registered secret, in every form a text may hold it, and nothing else."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from shared import redaction
from shared.errors import ConfigError
from shared.redaction import MIN_SECRET_LENGTH, REDACTED, redact

TOKEN = 'tök"en\\with-escapes'


@pytest.mark.parametrize(
    "form",
    [
        pytest.param(TOKEN, id="as-is"),
        pytest.param(json.dumps(TOKEN)[1:-1], id="json-ascii"),
        pytest.param(json.dumps(TOKEN, ensure_ascii=False)[1:-1], id="json-unicode"),
        pytest.param(repr(TOKEN)[1:-1], id="repr"),
        pytest.param(quote(TOKEN, safe=""), id="percent-encoded"),
    ],
)
def test_every_form_of_a_secret_is_redacted(form: str) -> None:
    redaction.register(TOKEN, "TEST")
    assert redact(f"before {form} after") == f"before {REDACTED} after"


def test_several_registries_add_up() -> None:
    redaction.register("api-token-123", "AUTH_TOKEN")
    redaction.register("aws-secret-key-456", "AWS_SECRET_ACCESS_KEY")
    assert redact("a api-token-123 b aws-secret-key-456 c") == "a *** b *** c"


def test_ordinary_text_is_left_alone() -> None:
    redaction.register("extract-token", "AUTH_TOKEN")
    text = "extract_job: 2022-08-09: 3 pages, 300 records; ex-tract token"
    assert redact(text) == text


@pytest.mark.parametrize("short", ["t", "ex", "1234567"])
def test_a_secret_too_short_to_redact_is_a_configuration_error(short: str) -> None:
    with pytest.raises(ConfigError) as raised:
        redaction.register(short, "AUTH_TOKEN")
    assert "AUTH_TOKEN" in str(raised.value) and f"shorter than {MIN_SECRET_LENGTH}" in str(raised.value)
    assert redact("extract_job") == "extract_job"
