"""``shared.settings``: one declaration gives the flag, the env fallback, the default, the checks and the help."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from shared.errors import ConfigError
from shared.settings import (
    Choice,
    CommaSet,
    Integer,
    Invalid,
    Number,
    PathKind,
    Switch,
    Text,
    add_arguments,
    check_values,
    environment_help,
    resolve,
    setting,
    specs,
)


@dataclass(frozen=True, kw_only=True)
class Example:
    count: int = setting(env="EX_COUNT", flag="--count", default=4, kind=Integer(minimum=1), help="how many")
    wait: float = setting(env="EX_WAIT", flag="--wait", default=2.5, kind=Number(above=0), help="seconds")
    ratio: float = setting(env="EX_RATIO", default=0.01, kind=Number(minimum=0, maximum=1), help="share")
    level: str = setting(env="EX_LEVEL", flag="--level", default="INFO", kind=Choice(("DEBUG", "INFO")), help="lvl")
    root: Path = setting(env="EX_ROOT", default=Path("./data"), kind=PathKind(), help="data root")
    pages: frozenset[int] | None = setting(
        env="EX_PAGES", default=None, kind=CommaSet(Integer(minimum=1)), help="pages"
    )
    loud: bool = setting(env="EX_LOUD", flag="--loud", default=False, kind=Switch(), help="shout")
    url: str = setting(env="EX_URL", kind=Text(), help="the endpoint")
    password: str | None = setting(env="EX_PASSWORD", default=None, kind=Text(), secret=True, help="secret")

    def __post_init__(self) -> None:
        check_values(self)


REQUIRED_ENV = {"EX_URL": "http://127.0.0.1/x"}


def settle(argv: list[str] | None = None, /, **env: str) -> Example:
    parser = argparse.ArgumentParser()
    add_arguments(parser, Example)
    return resolve(Example, parser.parse_args(argv or []), {**REQUIRED_ENV, **env})


def test_defaults_when_nothing_is_set() -> None:
    assert settle() == Example(url="http://127.0.0.1/x")
    assert (settle().count, settle().root, settle().pages, settle().loud) == (4, Path("./data"), None, False)


@pytest.mark.parametrize(
    ("env", "field", "expected"),
    [
        pytest.param({"EX_COUNT": "8"}, "count", 8, id="int"),
        pytest.param({"EX_COUNT": " 12 "}, "count", 12, id="int-with-blanks"),
        pytest.param({"EX_COUNT": ""}, "count", 4, id="empty-is-unset"),
        pytest.param({"EX_COUNT": "   "}, "count", 4, id="blank-is-unset"),
        pytest.param({"EX_WAIT": "3"}, "wait", 3.0, id="number"),
        pytest.param({"EX_RATIO": "0"}, "ratio", 0.0, id="range-low-end"),
        pytest.param({"EX_RATIO": "1"}, "ratio", 1.0, id="range-high-end"),
        pytest.param({"EX_LEVEL": " debug "}, "level", "DEBUG", id="choice-any-case"),
        pytest.param({"EX_ROOT": "/srv/sales"}, "root", Path("/srv/sales"), id="path"),
        pytest.param({"EX_PAGES": "3, 1,,3"}, "pages", frozenset({1, 3}), id="comma-set"),
        pytest.param({"EX_LOUD": "yes"}, "loud", True, id="switch-on"),
        pytest.param({"EX_LOUD": "OFF"}, "loud", False, id="switch-off"),
    ],
)
def test_the_environment_sets_a_value(env: dict[str, str], field: str, expected: Any) -> None:
    assert getattr(settle(**env), field) == expected


def test_a_flag_wins_over_the_environment_and_a_bad_environment_value() -> None:
    assert settle(["--count", "2", "--level", "debug", "--loud"], EX_COUNT="lots", EX_LEVEL="INFO").count == 2
    assert settle(["--level", "debug"], EX_LEVEL="INFO").level == "DEBUG"
    assert settle(["--loud"], EX_LOUD="no").loud is True


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        pytest.param([], {"EX_COUNT": "four"}, "EX_COUNT='four' is not a whole number", id="env-word"),
        pytest.param([], {"EX_COUNT": "2.5"}, "EX_COUNT='2.5' is not a whole number", id="env-fraction"),
        pytest.param([], {"EX_COUNT": "0"}, "EX_COUNT=0 must be at least 1", id="env-below-minimum"),
        pytest.param(["--count", "0"], {}, "^--count must be at least 1$", id="flag-below-minimum"),
        pytest.param([], {"EX_WAIT": "0"}, "EX_WAIT=0 must be greater than 0", id="env-not-above"),
        pytest.param([], {"EX_WAIT": "nan"}, "EX_WAIT=nan must be greater than 0", id="env-nan"),
        pytest.param([], {"EX_WAIT": "inf"}, "EX_WAIT=inf must be a finite number", id="env-infinite"),
        pytest.param([], {"EX_WAIT": "soon"}, "EX_WAIT='soon' is not a number", id="env-not-a-number"),
        pytest.param([], {"EX_RATIO": "1.5"}, "EX_RATIO=1.5 must be between 0 and 1", id="env-out-of-range"),
        pytest.param([], {"EX_LEVEL": "loud"}, "EX_LEVEL='loud' is not one of DEBUG, INFO", id="env-choice"),
        pytest.param([], {"EX_PAGES": "1,0"}, "EX_PAGES=1,0 must be at least 1", id="env-set-item"),
        pytest.param([], {"EX_LOUD": "maybe"}, "EX_LOUD='maybe' is not one of 1, true", id="env-switch"),
        pytest.param([], {"EX_URL": " "}, r"EX_URL is not set \(the endpoint\)", id="required-missing"),
    ],
)
def test_a_bad_value_is_a_config_error_naming_its_source(argv: list[str], env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        settle(argv, **env)


def test_a_flag_that_does_not_convert_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        settle(["--count", "x"])
    assert caught.value.code == 2
    assert "argument --count: 'x' is not a whole number" in capsys.readouterr().err


def test_a_secret_value_never_shows_in_an_error_or_the_repr() -> None:
    @dataclass(frozen=True)
    class Secretive:
        pin: int = setting(env="EX_PIN", default=1, kind=Integer(minimum=1000), secret=True, help="pin")

    with pytest.raises(ConfigError) as caught:
        resolve(Secretive, None, {"EX_PIN": "123"})
    assert str(caught.value) == "EX_PIN must be at least 1000"
    assert "hunter2" not in repr(settle(EX_PASSWORD="hunter2"))


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({"count": 0}, id="below-minimum"),
        pytest.param({"count": True}, id="bool-as-int"),
        pytest.param({"wait": -1.0}, id="not-above"),
        pytest.param({"level": "debug"}, id="choice-from-code-is-exact"),
        pytest.param({"pages": "1,2"}, id="string-as-set"),
        pytest.param({"loud": 1}, id="int-as-switch"),
        pytest.param({"url": ""}, id="empty-text"),
    ],
)
def test_values_given_from_code_meet_the_same_rules(values: dict[str, Any]) -> None:
    with pytest.raises(Invalid, match=f"^{next(iter(values))}="):
        Example(**{"url": "http://127.0.0.1/x", **values})


def test_help_names_each_flag_with_its_env_variable_and_default() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser, Example)
    text = parser.format_help()
    assert "--count COUNT" in text and "how many (env EX_COUNT; default 4)" in text
    assert "--level {DEBUG,INFO}" in text
    assert "--loud" in text and "(env EX_LOUD; default off)" in text
    env_text = environment_help(Example)
    for name in ("EX_COUNT", "EX_RATIO", "EX_ROOT", "EX_PAGES", "EX_URL", "EX_PASSWORD"):
        assert f"  {name} " in env_text
    assert "the endpoint (default required)" in env_text
    assert "share (default 0.01)" in env_text


@dataclass(frozen=True, kw_only=True)
class Shared:
    """A declaration shared by two programs whose default differs: the text names a class attribute."""

    default_start: ClassVar[str] = "now"
    start: str | None = setting(
        env="EX_START",
        flag="--start",
        default=None,
        kind=Text(),
        group="when (default {default_start})",
        default_text="{default_start}",
        help="start",
    )


@dataclass(frozen=True, kw_only=True)
class Later(Shared):
    default_start: ClassVar[str] = "later, {as} given"


@pytest.mark.parametrize(("settings_class", "default"), [(Shared, "now"), (Later, "later, {as} given")])
def test_a_shared_declaration_says_each_programs_own_default(settings_class: type[Any], default: str) -> None:
    [spec] = specs(settings_class)
    parser = argparse.ArgumentParser()
    add_arguments(parser, settings_class)

    assert (spec.group, spec.shown_default()) == (f"when (default {default})", default)
    assert f"when (default {default}):" in parser.format_help()
    assert f"start (default {default}; flag --start)" in environment_help(settings_class)


def test_a_setting_needs_an_env_name_or_a_flag() -> None:
    with pytest.raises(TypeError):
        setting(kind=Text(), help="nowhere")
