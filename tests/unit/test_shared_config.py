"""``shared.config``: the token and the .env layering."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.config import load_environment, read_token
from shared.errors import ConfigError

TOKEN = "config-token-9b2e"


def token_from(env: dict[str, str]) -> str:
    """``read_token`` as the extract settings call it, from the two variables."""
    token_file = env.get("AUTH_TOKEN_FILE", "").strip()
    return read_token(env.get("AUTH_TOKEN"), Path(token_file) if token_file else None)


@pytest.mark.parametrize(
    ("env", "file_text", "expected"),
    [
        pytest.param({"AUTH_TOKEN": TOKEN}, None, TOKEN, id="env"),
        pytest.param({"AUTH_TOKEN": f"  {TOKEN}\n"}, None, TOKEN, id="env-stripped"),
        pytest.param({"AUTH_TOKEN": "Bearer abc.def"}, None, "Bearer abc.def", id="env-inner-space-kept"),
        pytest.param({}, f"{TOKEN}\n", TOKEN, id="file-trailing-newline"),
        pytest.param({"AUTH_TOKEN": "from-env"}, TOKEN, TOKEN, id="file-wins-over-env"),
        pytest.param({"AUTH_TOKEN": ""}, f"\n {TOKEN} \n\n", TOKEN, id="file-stripped"),
    ],
)
def test_read_token(tmp_path: Path, env: dict[str, str], file_text: str | None, expected: str) -> None:
    if file_text is not None:
        secret = tmp_path / "token"
        secret.write_text(file_text, encoding="utf-8")
        env = {**env, "AUTH_TOKEN_FILE": str(secret)}
    assert token_from(env) == expected


@pytest.mark.parametrize(
    ("env", "file_text", "message"),
    [
        pytest.param({}, None, "no API token: set AUTH_TOKEN or AUTH_TOKEN_FILE", id="nothing"),
        pytest.param({"AUTH_TOKEN": "   "}, None, "no API token", id="blank-env"),
        pytest.param({"AUTH_TOKEN_FILE": "  "}, None, "no API token", id="blank-file-variable"),
        pytest.param({}, "", "is empty", id="empty-file"),
        pytest.param({}, " \n\n", "is empty", id="blank-file"),
        pytest.param({"AUTH_TOKEN": TOKEN}, "", "is empty", id="empty-file-does-not-fall-back-to-env"),
        pytest.param({"AUTH_TOKEN": "abc\ndef"}, None, "AUTH_TOKEN contains a line break", id="env-inner-newline"),
        pytest.param({"AUTH_TOKEN": "abc\rdef"}, None, "contains a line break", id="env-inner-carriage-return"),
        pytest.param({"AUTH_TOKEN": "abc\x00def"}, None, "control character", id="env-nul"),
        pytest.param({}, "abc\ndef\n", "contains a line break", id="file-two-lines"),
        pytest.param({"AUTH_TOKEN": "abcdef"}, None, "AUTH_TOKEN is shorter than 8", id="too-short-to-redact"),
        pytest.param({}, "abcdef\n", "shorter than 8", id="file-too-short"),
        pytest.param({"AUTH_TOKEN": "abc-défλ"}, None, "cannot carry", id="not-latin-1"),
        pytest.param({}, "abc" * 6000, "larger than 16384 bytes", id="file-too-large"),
    ],
)
def test_read_token_errors(tmp_path: Path, env: dict[str, str], file_text: str | None, message: str) -> None:
    if file_text is not None:
        secret = tmp_path / "token"
        secret.write_text(file_text, encoding="utf-8")
        env = {**env, "AUTH_TOKEN_FILE": str(secret)}
    with pytest.raises(ConfigError, match=message) as caught:
        token_from(env)
    for part in ("abc", "def", TOKEN):
        assert part not in str(caught.value), "the token never appears in an error"


def test_unreadable_token_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ConfigError, match=f"cannot read AUTH_TOKEN_FILE {missing}: No such file or directory"):
        token_from({"AUTH_TOKEN_FILE": str(missing), "AUTH_TOKEN": TOKEN})
    with pytest.raises(ConfigError, match="Is a directory"):
        token_from({"AUTH_TOKEN_FILE": str(tmp_path)})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"abc\xff\xfedef-token", "is not UTF-8 text", id="not-utf-8"),
        pytest.param(None, "larger than 16384 bytes", id="dev-zero"),
    ],
)
def test_token_files_that_are_not_tokens(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = Path("/dev/zero")
    if content is not None:
        path = tmp_path / "token"
        path.write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        token_from({"AUTH_TOKEN_FILE": str(path)})


def test_load_environment_layers_process_env_over_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ENV_FILE", raising=False)
    (tmp_path / ".env").write_text("ONLY_IN_FILE=file\nIN_BOTH=file\n# a comment\nEMPTY_KEY\n", encoding="utf-8")
    monkeypatch.setenv("IN_BOTH", "process")
    env = load_environment()
    assert env["ONLY_IN_FILE"] == "file"
    assert env["IN_BOTH"] == "process"
    assert "EMPTY_KEY" not in env


def test_load_environment_from_env_file_variable_and_argument(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("WHERE=dotenv\n", encoding="utf-8")
    (tmp_path / "other.env").write_text("WHERE=other\n", encoding="utf-8")
    (tmp_path / "third.env").write_text("WHERE=third\n", encoding="utf-8")
    monkeypatch.delenv("WHERE", raising=False)
    monkeypatch.setenv("ENV_FILE", str(tmp_path / "other.env"))
    assert load_environment()["WHERE"] == "other"
    assert load_environment(tmp_path / "third.env")["WHERE"] == "third"


@pytest.mark.parametrize("env_file", ["", "  "], ids=["unset", "blank"])
def test_load_environment_without_the_default_file(
    env_file: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no ./.env here: the default file may be absent, silently
    monkeypatch.setenv("ENV_FILE", env_file)
    monkeypatch.setenv("PRESENT", "yes")
    env = load_environment()
    assert env["PRESENT"] == "yes"


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        pytest.param("missing.env", "does not exist", id="missing"),
        pytest.param(".", "is not a regular file", id="a-folder"),
    ],
)
def test_an_env_file_named_on_purpose_must_be_a_file(
    name: str, problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("WHERE=dotenv\n", encoding="utf-8")  # not a fallback for the named file
    monkeypatch.setenv("ENV_FILE", str(tmp_path / name))
    with pytest.raises(ConfigError, match=f"^ENV_FILE {re.escape(str(tmp_path / name))} {problem}$"):
        load_environment()
    with pytest.raises(ConfigError, match=problem):
        load_environment(tmp_path / name)


def test_an_unreadable_env_file_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "latin1.env"
    path.write_bytes(b"WHERE=caf\xe9\n")
    monkeypatch.setenv("ENV_FILE", str(path))
    with pytest.raises(ConfigError, match=f"cannot read ENV_FILE {re.escape(str(path))}: not UTF-8 text"):
        load_environment()
