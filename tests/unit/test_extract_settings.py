"""``extract_job.settings``: flags over environment over defaults, URL checks, credential-free URLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from extract_job.cli import build_parser
from extract_job.settings import ExtractSettings, validate_api_url
from shared.errors import ConfigError
from shared.settings import resolve as resolve_settings
from shared.urls import public_url

TOKEN = "settings-token-77aa"
BASE_ENV = {"SALES_API_URL": "http://127.0.0.1:8081/sales", "AUTH_TOKEN": TOKEN}


def resolve(argv: list[str] | None = None, /, **env: str) -> ExtractSettings:
    args = build_parser().parse_args(argv or [])
    return resolve_settings(ExtractSettings, args, {**BASE_ENV, **env})


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("http://127.0.0.1:8081/sales", "http://127.0.0.1:8081/sales", id="plain"),
        pytest.param("http://user:secret@127.0.0.1:8081/sales", "http://127.0.0.1:8081/sales", id="user-and-password"),
        pytest.param("https://secret@api.example.com/v1/sales", "https://api.example.com/v1/sales", id="user-only"),
        pytest.param("http://127.0.0.1:8081/sales?token=secret&x=1", "http://127.0.0.1:8081/sales", id="query"),
        pytest.param("http://127.0.0.1/sales#secret", "http://127.0.0.1/sales", id="fragment"),
        pytest.param("http://u:p@[::1]:8081/sales?k=v", "http://[::1]:8081/sales", id="ipv6-with-credentials"),
        pytest.param("http://API.Example.com/sales", "http://api.example.com/sales", id="host-lowercased"),
        pytest.param("http://u:p@host:notaport/sales", "http://host/sales", id="bad-port-dropped"),
    ],
)
def test_public_url_strips_credentials_and_query(url: str, expected: str) -> None:
    assert public_url(url) == expected
    assert "secret" not in public_url(url)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param("", "SALES_API_URL is not set", id="empty"),
        pytest.param("   ", "SALES_API_URL is not set", id="blank"),
        pytest.param("ftp://127.0.0.1/sales", "must be an http:// or https:// URL", id="ftp"),
        pytest.param("file:///etc/passwd", "must be an http:// or https:// URL", id="file"),
        pytest.param("127.0.0.1:8081/sales", "must be an http:// or https:// URL", id="no-scheme"),
        pytest.param("http:///sales", "must be an http:// or https:// URL", id="no-host"),
        pytest.param("http://[::1/sales", "not a valid URL", id="broken-ipv6"),
        pytest.param("http://127.0.0.1:99999/sales", "not a valid URL", id="port-out-of-range"),
        pytest.param("http://127.0.0.1:http/sales", "not a valid URL", id="port-not-a-number"),
    ],
)
def test_invalid_api_url_is_a_config_error(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate_api_url(url)


def test_invalid_api_url_message_hides_credentials() -> None:
    with pytest.raises(ConfigError) as caught:
        validate_api_url("ftp://user:hunter2@127.0.0.1/sales?key=hunter2")
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(" http://127.0.0.1:8081/sales ", id="surrounding-blanks"),
        pytest.param("HTTPS://api.example.com/sales", id="uppercase-scheme"),
    ],
)
def test_valid_api_url_is_kept(url: str) -> None:
    assert validate_api_url(url) == url.strip()


def test_defaults() -> None:
    settings = resolve()
    assert settings.api_url == BASE_ENV["SALES_API_URL"]
    assert settings.token == TOKEN
    assert settings.base_dir == Path("./data")
    assert settings.raw_dir is None
    assert (settings.concurrency, settings.max_attempts, settings.max_pages) == (4, 5, 10_000)
    assert (settings.read_timeout, settings.connect_timeout, settings.backoff) == (30.0, 5.0, 0.5)
    assert (settings.max_backoff, settings.max_retry_after) == (30.0, 300.0)
    assert settings.missing_only is False


def test_token_is_not_in_the_repr() -> None:
    assert TOKEN not in repr(resolve())


def test_environment_over_defaults_and_flags_over_environment() -> None:
    env = {
        "EXTRACT_CONCURRENCY": "3",
        "EXTRACT_MAX_ATTEMPTS": "7",
        "EXTRACT_MAX_PAGES": "50",
        "EXTRACT_TIMEOUT": "9",
        "EXTRACT_CONNECT_TIMEOUT": "2",
        "EXTRACT_BACKOFF": "0.1",
        "BASE_DIR": "/srv/data",
    }
    settings = resolve(**env)
    assert (settings.concurrency, settings.max_attempts, settings.max_pages) == (3, 7, 50)
    assert (settings.read_timeout, settings.connect_timeout, settings.backoff) == (9.0, 2.0, 0.1)
    assert settings.base_dir == Path("/srv/data")
    flags = [
        "--concurrency",
        "2",
        "--max-attempts",
        "1",
        "--max-pages",
        "5",
        "--timeout",
        "1.5",
        "--connect-timeout",
        "0.5",
        "--backoff",
        "0.01",
    ]
    settings = resolve(flags, **env)
    assert (settings.concurrency, settings.max_attempts, settings.max_pages) == (2, 1, 5)
    assert (settings.read_timeout, settings.connect_timeout, settings.backoff) == (1.5, 0.5, 0.01)


def test_a_flag_overrides_a_bad_environment_value() -> None:
    assert resolve(["--concurrency", "2"], EXTRACT_CONCURRENCY="lots").concurrency == 2


def test_raw_dir_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve(["--raw-dir", "out/day"]).raw_dir == tmp_path / "out" / "day"


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        pytest.param(["--concurrency", "0"], {}, "must be between 1 and 64", id="concurrency-flag-zero"),
        pytest.param(["--concurrency", "-2"], {}, "must be between 1 and 64", id="concurrency-flag-negative"),
        pytest.param(["--concurrency", "100000"], {}, "must be between 1 and 64", id="concurrency-flag-huge"),
        pytest.param(["--max-attempts", "0"], {}, "must be between 1 and 100", id="max-attempts-flag-zero"),
        pytest.param(["--max-pages", "0"], {}, "must be between 1 and 1e\\+06", id="max-pages-flag-zero"),
        pytest.param(["--timeout", "inf"], {}, "--timeout must be a finite number", id="timeout-flag-inf"),
        pytest.param(["--timeout", "1e309"], {}, "--timeout must be a finite number", id="timeout-flag-overflow"),
        pytest.param(["--request-deadline", "0"], {}, "must be greater than 0", id="deadline-zero"),
        pytest.param(["--max-page-bytes", "10"], {}, "between 1024 and", id="page-bytes-tiny"),
        pytest.param(["--max-retry-after", "-1"], {}, "between 0 and 86400", id="retry-after-negative"),
        pytest.param(["--timeout", "0"], {}, "--timeout must be greater than 0", id="timeout-flag-zero"),
        pytest.param(
            ["--connect-timeout", "-1"],
            {},
            "--connect-timeout must be greater than 0",
            id="connect-timeout-flag-negative",
        ),
        pytest.param(["--backoff", "0"], {}, "--backoff must be greater than 0", id="backoff-flag-zero"),
        pytest.param(
            [],
            {"EXTRACT_CONCURRENCY": "0"},
            "EXTRACT_CONCURRENCY=0 must be between 1 and 64",
            id="concurrency-env-zero",
        ),
        pytest.param(
            [], {"EXTRACT_MAX_PAGES": "ten"}, "EXTRACT_MAX_PAGES='ten' is not a whole number", id="max-pages-env-word"
        ),
        pytest.param([], {"EXTRACT_TIMEOUT": "-3"}, "EXTRACT_TIMEOUT=-3 must be greater than 0", id="timeout-env"),
        pytest.param([], {"EXTRACT_BACKOFF": "fast"}, "EXTRACT_BACKOFF='fast' is not a number", id="backoff-env"),
        pytest.param(
            [],
            {"EXTRACT_END_OF_PAGES": "("},
            r"^EXTRACT_END_OF_PAGES='\(' is not a valid regular expression: missing \)",
            id="end-of-pages-env-bad-regex",
        ),
        pytest.param(
            ["--end-of-pages", "[z-a]"],
            {},
            "^--end-of-pages is not a valid regular expression: bad character range",
            id="end-of-pages-flag-bad-regex",
        ),
        pytest.param([], {"SALES_API_URL": ""}, "SALES_API_URL is not set", id="url-missing"),
        pytest.param([], {"AUTH_TOKEN": ""}, "no API token", id="token-missing"),
    ],
)
def test_unusable_settings_are_config_errors(argv: list[str], env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve(argv, **env)
