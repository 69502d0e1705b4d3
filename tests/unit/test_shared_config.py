"""``shared.config``: the token, numeric and choice settings, and the .env layering."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.config import base_dir, env_choice, env_float, env_int, load_environment, read_token
from shared.errors import ConfigError

TOKEN = "config-token-9b2e"


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
    assert read_token(env) == expected


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
    ],
)
def test_read_token_errors(tmp_path: Path, env: dict[str, str], file_text: str | None, message: str) -> None:
    if file_text is not None:
        secret = tmp_path / "token"
        secret.write_text(file_text, encoding="utf-8")
        env = {**env, "AUTH_TOKEN_FILE": str(secret)}
    with pytest.raises(ConfigError, match=message) as caught:
        read_token(env)
    for part in ("abc", "def", TOKEN):
        assert part not in str(caught.value), "the token never appears in an error"


def test_unreadable_token_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ConfigError, match=f"cannot read AUTH_TOKEN_FILE {missing}: No such file or directory"):
        read_token({"AUTH_TOKEN_FILE": str(missing), "AUTH_TOKEN": TOKEN})
    with pytest.raises(ConfigError, match="Is a directory"):
        read_token({"AUTH_TOKEN_FILE": str(tmp_path)})


@pytest.mark.parametrize(
    ("raw", "minimum", "expected"),
    [
        pytest.param(None, 1, 4, id="unset-default"),
        pytest.param("", 1, 4, id="empty-default"),
        pytest.param("  ", 1, 4, id="blank-default"),
        pytest.param("8", 1, 8, id="value"),
        pytest.param(" 12 ", 1, 12, id="value-with-blanks"),
        pytest.param("1", 1, 1, id="at-minimum"),
        pytest.param("0", 0, 0, id="zero-allowed-by-minimum"),
    ],
)
def test_env_int(raw: str | None, minimum: int, expected: int) -> None:
    env = {} if raw is None else {"N": raw}
    assert env_int(env, "N", 4, minimum=minimum) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param("four", "N='four' is not a whole number", id="word"),
        pytest.param("2.5", "N='2.5' is not a whole number", id="fraction"),
        pytest.param("1e3", "N='1e3' is not a whole number", id="exponent"),
        pytest.param("0", "N=0 is below the minimum of 1", id="zero"),
        pytest.param("-3", "N=-3 is below the minimum of 1", id="negative"),
    ],
)
def test_env_int_errors(raw: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        env_int({"N": raw}, "N", 4)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(None, 2.5, id="unset"),
        pytest.param("0.25", 0.25, id="fraction"),
        pytest.param("3", 3.0, id="integer"),
    ],
)
def test_env_float(raw: str | None, expected: float) -> None:
    assert env_float({} if raw is None else {"T": raw}, "T", 2.5) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param("soon", "T='soon' is not a number", id="word"),
        pytest.param("0", "T=0 must be greater than 0", id="zero"),
        pytest.param("-1", "T=-1 must be greater than 0", id="negative"),
        pytest.param("nan", "T=nan must be greater than 0", id="nan"),
    ],
)
def test_env_float_errors(raw: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        env_float({"T": raw}, "T", 2.5)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(None, "INFO", id="unset"),
        pytest.param("debug", "DEBUG", id="lowercase"),
        pytest.param(" Warning ", "WARNING", id="mixed-case-blanks"),
    ],
)
def test_env_choice(raw: str | None, expected: str) -> None:
    levels = ("DEBUG", "INFO", "WARNING", "ERROR")
    assert env_choice({} if raw is None else {"LOG_LEVEL": raw}, "LOG_LEVEL", levels, "INFO") == expected


def test_env_choice_error() -> None:
    with pytest.raises(ConfigError, match="LOG_LEVEL='loud' is not one of DEBUG, INFO"):
        env_choice({"LOG_LEVEL": "loud"}, "LOG_LEVEL", ("DEBUG", "INFO"), "INFO")


def test_base_dir() -> None:
    assert base_dir({}) == Path("./data")
    assert base_dir({"BASE_DIR": " "}) == Path("./data")
    assert base_dir({"BASE_DIR": "/srv/sales"}) == Path("/srv/sales")


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


def test_load_environment_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ENV_FILE", str(tmp_path / "missing.env"))
    monkeypatch.setenv("PRESENT", "yes")
    env = load_environment()
    assert env["PRESENT"] == "yes"
