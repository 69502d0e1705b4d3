"""``shared.logs``: text and JSON lines on stderr, with the secrets redacted everywhere."""

from __future__ import annotations

import json
import logging
import re

import pytest

from shared import redaction
from shared.logs import REDACTED, configure_logging, console_line

TOKEN = "log-token-3c4d9e"
LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR) [\w.]+: ")


def emit_everything(log: logging.Logger, token: str) -> None:
    log.info("plain message with %s inside", token, extra={"header": f"Authorization: {token}", "n": 3})
    log.debug("debug %r", {"token": token})
    try:
        raise RuntimeError(f"request failed with token={token}")
    except RuntimeError:
        log.exception("failed while holding %s", token)


@pytest.mark.parametrize(
    ("fmt", "redactions"),
    [
        pytest.param("text", 4, id="text"),  # message, debug repr, exception message, traceback's last line
        pytest.param("json", 5, id="json"),  # the same, plus the extra= field
    ],
)
def test_token_is_redacted_everywhere(fmt: str, redactions: int, capsys: pytest.CaptureFixture[str]) -> None:
    redaction.register(TOKEN, "TEST")
    configure_logging("DEBUG", fmt)
    emit_everything(logging.getLogger("test.redaction"), TOKEN)
    err = capsys.readouterr().err
    assert TOKEN not in err
    assert err.count(REDACTED) == redactions
    assert "Traceback" in err and "RuntimeError: request failed with token=***" in err


@pytest.mark.parametrize(
    "token",
    [
        pytest.param('quo"te-token', id="double-quote"),
        pytest.param("back\\slash-token", id="backslash"),
        pytest.param("sin'gle-token", id="single-quote"),
        pytest.param("tökén-ünïcode", id="non-ascii"),
    ],
)
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_tokens_needing_escapes_are_redacted(fmt: str, token: str, capsys: pytest.CaptureFixture[str]) -> None:
    redaction.register(token, "TEST")
    configure_logging("DEBUG", fmt)
    emit_everything(logging.getLogger("test.escapes"), token)
    err = capsys.readouterr().err
    escaped = {token, json.dumps(token)[1:-1], json.dumps(token, ensure_ascii=False)[1:-1], repr(token)[1:-1]}
    for form in escaped:
        assert form not in err


def test_text_format(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "text")
    log = logging.getLogger("extract_job.test")
    log.info("hello %s", "world", extra={"pages": 3})
    log.debug("hidden")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert LINE.match(lines[0])
    assert lines[0].endswith(" INFO extract_job.test: hello world")
    assert "pages" not in lines[0], "extra= fields are for JSON only"


def test_json_format_one_object_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    redaction.register(TOKEN, "TEST")
    configure_logging("INFO", "json")
    log = logging.getLogger("extract_job.test")
    log.info("%s: %d pages", "2026-11-24", 3, extra={"date": "2026-11-24", "pages": 3, "dest": TOKEN})
    log.warning("Zoë says 王伟")
    try:
        raise ZeroDivisionError("division by zero")
    except ZeroDivisionError:
        log.exception("boom")
    records = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert len(records) == 3
    first = records[0]
    assert set(first) == {"ts", "level", "logger", "message", "date", "pages", "dest"}
    assert first["level"] == "INFO" and first["logger"] == "extract_job.test"
    assert first["message"] == "2026-11-24: 3 pages"
    assert first["pages"] == 3 and first["dest"] == REDACTED
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["ts"])
    assert records[1]["message"] == "Zoë says 王伟"
    assert records[2]["level"] == "ERROR" and "ZeroDivisionError" in records[2]["exception"]


@pytest.mark.parametrize(
    ("level", "shown"),
    [
        pytest.param("DEBUG", {"DEBUG", "INFO", "WARNING", "ERROR"}, id="debug"),
        pytest.param("INFO", {"INFO", "WARNING", "ERROR"}, id="info"),
        pytest.param("WARNING", {"WARNING", "ERROR"}, id="warning"),
        pytest.param("ERROR", {"ERROR"}, id="error"),
    ],
)
def test_levels(level: str, shown: set[str], capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level, "json")
    log = logging.getLogger("test.levels")
    for name in ("DEBUG", "INFO", "WARNING", "ERROR"):
        log.log(logging.getLevelName(name), name)
    assert {json.loads(line)["level"] for line in capsys.readouterr().err.splitlines()} == shown


def test_urllib3_is_kept_quieter_than_debug(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("DEBUG", "text")
    logging.getLogger("urllib3.connectionpool").debug("GET /sales?date=x HTTP/1.1")
    assert capsys.readouterr().err == ""
    configure_logging("ERROR", "text")
    assert logging.getLogger("urllib3").level == logging.ERROR


def test_reconfiguring_replaces_the_handler(capsys: pytest.CaptureFixture[str]) -> None:
    redaction.register(TOKEN, "TEST")
    configure_logging("INFO", "text")
    configure_logging("INFO", "text")
    logging.getLogger("test.once").info("token %s", TOKEN)
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and TOKEN not in err


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_console_lines_are_redacted_and_follow_the_format(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    redaction.register(TOKEN, "TEST")
    configure_logging("ERROR", fmt)
    console_line("extract_job", f"2022-08-09: the API said: bad token {TOKEN}", date="2022-08-09")
    err = capsys.readouterr().err
    assert TOKEN not in err and err.count("\n") == 1
    if fmt == "json":
        line = json.loads(err)
        assert line["message"] == "extract_job: 2022-08-09: the API said: bad token ***"
        assert line["level"] == "ERROR" and line["date"] == "2022-08-09"
    else:
        assert err == "extract_job: 2022-08-09: the API said: bad token ***\n"
