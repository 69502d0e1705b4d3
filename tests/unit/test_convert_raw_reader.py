"""``convert_job.raw_reader.parse_page``: a page file is a UTF-8 JSON array, or a ``PartitionError`` naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from convert_job.raw_reader import may_hold_surrogates, parse_page
from shared.errors import PartitionError

PAGE = Path("/data/raw/sales/2022-08-09/sales_2022-08-09_3.json")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(b"[]", [], id="empty-array"),
        pytest.param(b' [ {"client": "x"} , 1, null ]\n', [{"client": "x"}, 1, None], id="mixed-with-whitespace"),
        pytest.param('[{"client": "王伟 😀"}]'.encode(), [{"client": "王伟 😀"}], id="utf8"),
        pytest.param(b'[{"client": "\\u738b\\ud83d\\ude00"}]', [{"client": "王😀"}], id="escaped"),
    ],
)
def test_a_page_is_its_records(data: bytes, expected: list[object]) -> None:
    assert parse_page(PAGE, data)[0] == expected


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(b'[{"client": "Jos\xe9"}]', "not valid UTF-8 (byte 16)", id="latin1"),
        pytest.param("[]".encode("utf-16"), "not valid UTF-8", id="utf16"),
        pytest.param(b"\xef\xbb\xbf[]", "not valid JSON", id="bom"),
        pytest.param(b"", "not valid JSON", id="empty-file"),
        pytest.param(b"<html>502 Bad Gateway</html>", "not valid JSON", id="html"),
        pytest.param(b'[{"client": "x"}', "not valid JSON", id="truncated"),
        pytest.param(b"[] []", "not valid JSON", id="two-documents"),
        pytest.param(b'{"data": []}', "expected a JSON array of records", id="object"),
        pytest.param(b'"[]"', "expected a JSON array of records", id="string"),
        pytest.param(b"null", "expected a JSON array of records", id="null"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, "nested too deeply", id="deeply-nested"),
    ],
)
def test_a_bad_page_is_a_partition_error_naming_the_file(data: bytes, reason: str) -> None:
    with pytest.raises(PartitionError) as caught:
        parse_page(PAGE, data)

    message = str(caught.value)
    assert message.startswith(str(PAGE))
    assert reason in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param('[{"client": "José 李娜"}]', False, id="plain-unicode"),
        pytest.param('[{"client": "\\ud800"}]', True, id="lone-surrogate-escape"),
        pytest.param('[{"client": "\\uDFFF"}]', True, id="upper-case-escape"),
        pytest.param('[{"client": "\\ud83d\\ude00"}]', True, id="escaped-pair-takes-the-checked-path"),
        pytest.param('[{"client": "\\u00e9"}]', False, id="other-escape"),
    ],
)
def test_pages_that_may_hold_lone_surrogates_are_spotted(text: str, expected: bool) -> None:
    assert may_hold_surrogates(text) is expected
