"""Locations and key names, table-driven; an unsupported or malformed location is exit 2 before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.errors import ConfigError
from shared.settings import Invalid
from shared.storage.keys import data_name, listable, own_key, run_of
from shared.storage.location import ObjectLocation, parse_location
from tests.reliability.support import CONVERT, EXTRACT, run_job

HEX = "0123456789abcdef0123456789abcdef"
UUID = "01234567-89ab-4def-8123-456789abcdef"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("./data", Path("data"), id="relative-path"),
        pytest.param("/srv/data", Path("/srv/data"), id="absolute-path"),
        pytest.param("./s3:x", Path("s3:x"), id="local-folder-with-a-colon-written-as-./"),
        pytest.param("s3://lake", ObjectLocation("lake", ""), id="bucket-only"),
        pytest.param("s3://lake/", ObjectLocation("lake", ""), id="bucket-and-slash"),
        pytest.param("s3://lake/pipe/line", ObjectLocation("lake", "pipe/line"), id="bucket-and-prefix"),
        pytest.param("s3://lake/pipe/", ObjectLocation("lake", "pipe"), id="trailing-slash-dropped"),
        pytest.param("S3://lake/x", ObjectLocation("lake", "x"), id="scheme-is-case-insensitive"),
        pytest.param("s3://my.lake-01/x", ObjectLocation("my.lake-01", "x"), id="dots-and-dashes-in-bucket"),
    ],
)
def test_a_supported_location_parses(text: str, expected: object) -> None:
    assert parse_location(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param("gs://lake/x", "gs: scheme; supported", id="gcs"),
        pytest.param("az://lake/x", "az: scheme; supported", id="azure"),
        pytest.param("http://127.0.0.1/x", "http: scheme; supported", id="http"),
        pytest.param("file:///srv/data", "file: scheme; supported", id="file-url"),
        pytest.param("s3:/lake/x", "not a well-formed s3:// URL", id="one-slash"),
        pytest.param("s3:lake", "not a well-formed s3:// URL", id="no-slash"),
        pytest.param("s3:///x", "not a valid bucket name", id="no-bucket"),
        pytest.param("s3://LAKE/x", "not a valid bucket name", id="upper-case-bucket"),
        pytest.param("s3://la/x", "not a valid bucket name", id="bucket-too-short"),
        pytest.param("s3://lake/a//b", "path segment", id="empty-segment"),
        pytest.param("s3://lake/a/../b", "path segment", id="dot-dot-segment"),
        pytest.param("s3://lake/x?versionId=1", "without a query", id="query"),
    ],
)
def test_an_unsupported_or_malformed_location_is_refused(text: str, problem: str) -> None:
    with pytest.raises(Invalid, match=problem) as refused:
        parse_location(text)
    assert "supported: a local path or s3://bucket/prefix" in str(refused.value) or text.startswith("s3://")


def test_credentials_in_a_url_are_refused_without_being_quoted() -> None:
    with pytest.raises(ConfigError) as refused:
        parse_location("s3://AKIAEXAMPLE:s3cret-in-url-9f@lake/x")
    assert "s3cret-in-url-9f" not in str(refused.value) and "AWS_*" in str(refused.value)


@pytest.mark.parametrize(
    ("location", "parts", "key"),
    [
        (ObjectLocation("lake"), ("raw", "sales", "2022-08-09"), "raw/sales/2022-08-09/_SUCCESS"),
        (ObjectLocation("lake", "p/q"), ("stg",), "p/q/stg/_SUCCESS"),
    ],
)
def test_keys_below_a_location(location: ObjectLocation, parts: tuple[str, ...], key: str) -> None:
    assert location.join(*parts).key("_SUCCESS") == key
    assert str(location.join(*parts)) == f"s3://lake/{key.removesuffix('/_SUCCESS')}"


@pytest.mark.parametrize(
    ("partition", "run_id", "name", "listed"),
    [
        pytest.param("2022-08-09", HEX, "sales_2022-08-09_1.json", f"run={HEX}/sales_2022-08-09_1.json", id="hex-id"),
        pytest.param("2022-08-09", UUID, "sales_2022-08-09.avro", f"run={UUID}/sales_2022-08-09.avro", id="uuid-id"),
        pytest.param(f"run={UUID}", UUID, "rejected.jsonl", "rejected.jsonl", id="quarantine-run-folder"),
    ],
)
def test_a_run_names_its_objects_by_its_id(partition: str, run_id: str, name: str, listed: str) -> None:
    assert data_name(partition, run_id, name) == listed
    assert listable(listed)


@pytest.mark.parametrize(
    ("relative", "is_listable", "is_own"),
    [
        pytest.param(f"run={HEX}/sales_2022-08-09_12.json", True, True, id="page-hex-run"),
        pytest.param(f"run={UUID}/sales_2022-08-09.avro", True, True, id="avro-uuid-run"),
        pytest.param("sales_2022-08-09_1.json", True, True, id="bare-page"),
        pytest.param("rejected.jsonl", True, True, id="bare-rejects"),
        pytest.param("_SUCCESS", False, True, id="manifest"),
        pytest.param(f"run={UUID}/_SUCCESS", False, True, id="quarantine-run-manifest"),
        pytest.param("run=not-a-run-id/sales_2022-08-09_1.json", False, False, id="bad-run-id"),
        pytest.param(f"run={UUID}/notes.txt", False, False, id="foreign-file-in-run"),
        pytest.param(f"run={UUID}/run={UUID}/rejected.jsonl", False, False, id="too-deep"),
        pytest.param("../sales_2022-08-09_1.json", False, False, id="dot-dot"),
        pytest.param("._SUCCESS.new", False, False, id="hidden"),
        pytest.param("README.md", False, False, id="foreign"),
    ],
)
def test_which_keys_are_the_pipelines(relative: str, is_listable: bool, is_own: bool) -> None:
    assert (listable(relative), own_key(relative)) == (is_listable, is_own)


@pytest.mark.parametrize(("segment", "run"), [(f"run={HEX}", HEX), (f"run={UUID}", UUID), ("run=xyz", None)])
def test_the_run_of_a_folder(segment: str, run: str | None) -> None:
    assert run_of(segment) == run


@pytest.mark.parametrize("tool", [EXTRACT, CONVERT])
@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        pytest.param([], {"BASE_DIR": "gs://lake/x"}, "BASE_DIR=gs://lake/x uses the gs: scheme", id="gs-base"),
        pytest.param([], {"BASE_DIR": "az://lake/x"}, "az: scheme", id="az-base"),
        pytest.param([], {"BASE_DIR": "s3:/lake/x"}, "BASE_DIR=s3:/lake/x is not a well-formed s3:// URL", id="typo"),
        pytest.param(["--raw-dir", "gs://lake/raw"], {}, "--raw-dir: 'gs://lake/raw' uses the gs: scheme", id="flag"),
    ],
)
def test_a_job_given_an_unsupported_location_exits_2_and_writes_nothing(
    tmp_path: Path, tool: str, args: list[str], env: dict[str, str], needle: str
) -> None:
    if tool == CONVERT and args:
        args = [*args, "--stg-dir", str(tmp_path / "stg"), "--quarantine-dir", str(tmp_path / "q")]
    env = {"SALES_API_URL": "http://127.0.0.1:9/sales", "AUTH_TOKEN": "location-test-token", **env}

    result = run_job(tool, ["--date", "2022-08-09", *args], env, tmp_path)

    assert result.code == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert needle in result.stderr and "supported" in result.stderr
    assert list(tmp_path.iterdir()) == []
