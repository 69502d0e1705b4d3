"""Settings declared once: the env name, flag, default, parser, validation and help of each setting.

A program's settings are a frozen dataclass whose fields are declared with ``setting()``::

    @dataclass(frozen=True, kw_only=True)
    class ExtractSettings(JobSettings):
        concurrency: int = setting(
            env="EXTRACT_CONCURRENCY",
            flag="--concurrency",
            default=4,
            kind=Integer(minimum=1),
            help="pages in flight at once",
            metavar="N",
            group="HTTP",
        )

Everything else is derived from those declarations:

- ``add_arguments(parser, ExtractSettings)`` adds every flag, its help naming the env variable and the default;
- ``resolve(ExtractSettings, args, env)`` builds the settings (a flag that does not convert, "--concurrency x",
  is already an argparse usage error; the rest is checked here): a flag wins over the environment, which wins over
  the default (``env`` is ``shared.config.load_environment()``: the process environment over a ``.env`` file).
  Blank values count as unset, so compose can pass a variable through without changing anything. A bad value
  raises ``ConfigError`` naming the flag or variable (and the variable's value, unless the setting is secret);
- ``specs(ExtractSettings)`` lists the declarations for the configuration reference (``python -m
  shared.settings_doc``) and for the tests that check compose, ``.env.example`` and the docs.

**Adding a setting** is one field declared with ``setting()`` on the program's dataclass; then regenerate the
reference (``python -m shared.settings_doc --write``), add the variable to ``.env.example`` and to the service's
``environment:`` in compose (``NAME:`` with no value passes it only when it is set). The tests under
``tests/unit/test_settings_*.py`` fail until all three are done. A value computed from other settings (the API
token from ``AUTH_TOKEN``/``AUTH_TOKEN_FILE``) is a ``field(init=False)`` set in ``__post_init__``.

A declaration shared by programs whose default differs (the dates of ``shared.config.JobSettings``) names a
class attribute in its ``group`` or ``default_text`` (``"{default_dates}"``); each program's class sets its own.

A ``Kind`` turns text into a value (``parse``) and checks a value given from Python (``check``), so the same
rule holds for the command line, the environment and code constructing the dataclass directly.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

from shared.errors import ConfigError

T = TypeVar("T")
S = TypeVar("S")

_METADATA_KEY = "shared.settings"


class Invalid(ValueError):
    """Why a value is unusable, as a phrase that follows its name: "must be at least 1".

    ``quote``: show the offending text quoted (it did not even convert), else as is.
    """

    def __init__(self, problem: str, *, quote: bool = False) -> None:
        super().__init__(problem)
        self.problem = problem
        self.quote = quote


class Kind(Generic[T]):
    """How a setting's text becomes a value, and what a value must satisfy."""

    description = "text"

    def convert(self, text: str) -> object:
        """Text to a value of the right type; raises ``Invalid(quote=True)``."""
        return text

    def check(self, value: object) -> T:
        """The value if it is acceptable; raises ``Invalid``."""
        return cast(T, value)

    def parse(self, text: str) -> T:
        return self.check(self.convert(text.strip()))


class Text(Kind[str]):
    """Any non-blank text, optionally checked by ``validate`` (raising ``Invalid``, so the error names the setting)."""

    def __init__(self, validate: Callable[[str], str] | None = None, description: str = "text") -> None:
        self._validate = validate
        self.description = description

    def check(self, value: object) -> str:
        if not isinstance(value, str) or not value:
            raise Invalid("must be a non-empty string")
        return self._validate(value) if self._validate else value


class PathKind(Kind[Path]):
    description = "path"

    def convert(self, text: str) -> object:
        return Path(text)

    def check(self, value: object) -> Path:
        if not isinstance(value, Path):
            raise Invalid("must be a path")
        return value


class Integer(Kind[int]):
    def __init__(self, minimum: int | None = None, maximum: int | None = None, description: str = "") -> None:
        self.minimum, self.maximum = minimum, maximum
        self.description = description or _range_text("whole number", minimum, maximum)

    def convert(self, text: str) -> object:
        try:
            return int(text)
        except ValueError:
            raise Invalid("is not a whole number", quote=True) from None

    def check(self, value: object) -> int:
        if not isinstance(value, int) or isinstance(value, bool):  # True as a count is always a mistake
            raise Invalid("is not a whole number", quote=True)
        _check_range(value, self.minimum, self.maximum)
        return value


class Number(Kind[float]):
    """A finite number within bounds; ``above`` is an exclusive lower bound."""

    def __init__(self, minimum: float | None = None, maximum: float | None = None, above: float | None = None) -> None:
        self.minimum, self.maximum, self.above = minimum, maximum, above
        self.description = (
            f"number greater than {above:g}" + (f" and at most {maximum:g}" if maximum is not None else "")
            if above is not None
            else _range_text("number", minimum, maximum)
        )

    def convert(self, text: str) -> object:
        try:
            return float(text)
        except ValueError:
            raise Invalid("is not a number", quote=True) from None

    def check(self, value: object) -> float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise Invalid("is not a number", quote=True)
        if self.above is not None and not value > self.above:  # "not >" also refuses nan
            raise Invalid(f"must be greater than {self.above:g}")
        if not math.isfinite(value):
            raise Invalid("must be a finite number")
        _check_range(value, self.minimum, self.maximum)
        return float(value)


class Choice(Kind[str]):
    """One of ``options``, compared case-insensitively, returned as declared."""

    def __init__(self, options: Sequence[str]) -> None:
        self.options = tuple(options)
        self.description = "one of " + ", ".join(self.options)

    def convert(self, text: str) -> object:
        for option in self.options:
            if text.lower() == option.lower():
                return option
        raise Invalid(f"is not one of {', '.join(self.options)}", quote=True)

    def check(self, value: object) -> str:
        if value not in self.options:
            raise Invalid(f"is not one of {', '.join(self.options)}", quote=True)
        return value


class Switch(Kind[bool]):
    """On or off; as a flag it takes no value."""

    TRUE = ("1", "true", "yes", "on")
    FALSE = ("0", "false", "no", "off")
    description = "1/true/yes/on or 0/false/no/off"

    def convert(self, text: str) -> object:
        word = text.lower()
        if word in self.TRUE:
            return True
        if word in self.FALSE:
            return False
        raise Invalid(f"is not one of {', '.join(self.TRUE + self.FALSE)}", quote=True)

    def check(self, value: object) -> bool:
        if not isinstance(value, bool):
            raise Invalid("must be true or false")
        return value


class CommaSet(Kind[frozenset[T]]):
    """A comma-separated set of ``item`` values."""

    def __init__(self, item: Kind[T]) -> None:
        self.item = item
        self.description = f"comma-separated {item.description}"

    def convert(self, text: str) -> object:
        return frozenset(self.item.parse(part) for part in text.split(",") if part.strip())

    def check(self, value: object) -> frozenset[T]:
        if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
            raise Invalid("must be a collection, not a single value")
        return frozenset(self.item.check(item) for item in value)


def _range_text(noun: str, minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f"{noun} {minimum:g}..{maximum:g}"
    if minimum is not None:
        return f"{noun} >= {minimum:g}"
    if maximum is not None:
        return f"{noun} <= {maximum:g}"
    return noun


def _check_range(value: float, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and maximum is not None and not minimum <= value <= maximum:
        raise Invalid(f"must be between {minimum:g} and {maximum:g}")
    if minimum is not None and value < minimum:
        raise Invalid(f"must be at least {minimum:g}")
    if maximum is not None and value > maximum:
        raise Invalid(f"must be at most {maximum:g}")


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
"""The default of a setting the program cannot run without."""


@dataclass(frozen=True)
class Spec(Generic[T]):
    """One declared setting (see the module docstring)."""

    name: str
    env: str | None
    flag: str | None
    default: T
    kind: Kind[T]
    help: str
    metavar: str | None
    group: str | None
    secret: bool
    default_text: str | None

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def shown_default(self) -> str:
        """The default as the help and the reference show it."""
        if self.default_text is not None:
            return self.default_text
        if self.required:
            return "required"
        if self.default is None:
            return "unset"
        if isinstance(self.default, bool):
            return "on" if self.default else "off"
        if isinstance(self.default, frozenset):
            return ",".join(sorted(map(str, self.default))) or "none"
        if isinstance(self.default, float):
            return f"{self.default:g}"
        return str(self.default)


def setting(
    *,
    kind: Kind[T],
    help: str,
    default: T | None = REQUIRED,
    env: str | None = None,
    flag: str | None = None,
    metavar: str | None = None,
    group: str | None = None,
    secret: bool = False,
    default_text: str | None = None,
) -> Any:
    """Declare a dataclass field as a setting; ``default_text`` describes a default computed at run time.

    Returns a ``dataclasses.field``, so the field's annotation stays its type (``Path | None``, a ``Literal``).
    """
    if env is None and flag is None:
        raise TypeError("a setting needs an env name, a flag or both")
    declared = {
        "env": env,
        "flag": flag,
        "default": default,
        "kind": kind,
        "help": help,
        "metavar": metavar,
        "group": group,
        "secret": secret,
        "default_text": default_text,
    }
    metadata = {_METADATA_KEY: declared}
    if default is REQUIRED:
        return dataclasses.field(repr=not secret, metadata=metadata)
    return dataclasses.field(default=default, repr=not secret, metadata=metadata)


def specs(settings_class: type[Any]) -> list[Spec[Any]]:
    """The declared settings of a settings dataclass, in declaration order (inherited ones first).

    A ``group`` or ``default_text`` may name a class attribute in braces (``{default_dates}``),
    filled in from ``settings_class``: a text that differs between the programs sharing
    a declaration (the dates a job takes by default) is declared once on the base class.
    """
    return [
        _spec(settings_class, field.name, field.metadata[_METADATA_KEY])
        for field in dataclasses.fields(settings_class)
        if _METADATA_KEY in field.metadata
    ]


def _spec(settings_class: type[Any], name: str, declared: Mapping[str, Any]) -> Spec[Any]:
    attributes = _Attributes(settings_class)
    filled = {
        key: None if declared[key] is None else declared[key].format_map(attributes)
        for key in ("group", "default_text")
    }
    return Spec(name=name, **{**declared, **filled})


class _Attributes(dict[str, Any]):
    """``str.format_map``'s mapping of a class's attributes, looked up only when a text names one."""

    def __init__(self, owner: type[Any]) -> None:
        super().__init__()
        self._owner = owner

    def __missing__(self, key: str) -> Any:
        return getattr(self._owner, key)


def env_names(settings_class: type[Any]) -> list[str]:
    return [spec.env for spec in specs(settings_class) if spec.env]


def add_arguments(parser: argparse.ArgumentParser, settings_class: type[Any]) -> None:
    """One flag per setting that has one; values stay text until ``resolve`` parses them."""
    groups: dict[str, argparse._ArgumentGroup] = {}
    for spec in specs(settings_class):
        if not spec.flag:
            continue
        target: argparse.ArgumentParser | argparse._ArgumentGroup = parser
        if spec.group:
            target = groups.get(spec.group) or groups.setdefault(spec.group, parser.add_argument_group(spec.group))
        if isinstance(spec.kind, Switch):
            target.add_argument(spec.flag, dest=spec.name, action="store_true", default=None, help=_flag_help(spec))
        else:
            target.add_argument(
                spec.flag, dest=spec.name, type=_converter(spec.kind), metavar=_metavar(spec), help=_flag_help(spec)
            )


def _converter(kind: Kind[Any]) -> Callable[[str], object]:
    """argparse's ``type``: text that does not even convert is a usage error; ``resolve`` checks the value."""

    def convert(text: str) -> object:
        try:
            return kind.convert(text.strip())
        except Invalid as exc:
            raise argparse.ArgumentTypeError(f"{text!r} {exc.problem}") from None

    return convert


def _metavar(spec: Spec[Any]) -> str | None:
    if spec.metavar:
        return spec.metavar
    if isinstance(spec.kind, Choice):
        return "{" + ",".join(spec.kind.options) + "}"
    return None


def _flag_help(spec: Spec[Any]) -> str:
    if not spec.env and spec.default_text is None and spec.default in (None, False):
        return spec.help.replace("%", "%%")  # a plain flag: absent means off
    where = f"env {spec.env}; " if spec.env else ""
    return f"{spec.help} ({where}default {spec.shown_default()})".replace("%", "%%")


def resolve(settings_class: type[S], args: argparse.Namespace | None, env: Mapping[str, str]) -> S:
    """The settings from flags (``args``), else ``env``, else the defaults; ``ConfigError`` for a bad value."""
    values: dict[str, Any] = {}
    for spec in specs(settings_class):
        flag_value = getattr(args, spec.name, None) if spec.flag and args is not None else None
        env_text = env.get(spec.env, "").strip() if spec.env else ""
        if flag_value is not None:
            values[spec.name] = _check(spec, flag_value, spec.flag or "")
        elif env_text:
            values[spec.name] = _parse(spec, env_text, spec.env or "")
        elif spec.required:
            raise ConfigError(f"{spec.env or spec.flag} is not set ({spec.help})")
        else:
            values[spec.name] = spec.default
    try:
        return settings_class(**values)
    except Invalid as exc:  # a check in __post_init__ that spans settings
        raise ConfigError(str(exc)) from None


def _check(spec: Spec[T], value: object, flag: str) -> T:
    try:
        return spec.kind.check(value)
    except Invalid as exc:
        raise ConfigError(f"{flag} {exc.problem}") from None


def _parse(spec: Spec[T], text: str, source: str) -> T:
    try:
        return spec.kind.parse(text)
    except Invalid as exc:
        if spec.secret:
            raise ConfigError(f"{source} {exc.problem}") from None
        shown = repr(text) if exc.quote else text
        raise ConfigError(f"{source}={shown} {exc.problem}") from None


def check_values(settings: object) -> None:
    """Check values given from Python against their declarations (``__post_init__``); raises ``Invalid``.

    An optional setting (default None) may be None. The message names the field.
    """
    for spec in specs(type(settings)):
        value = getattr(settings, spec.name)
        if value is None and spec.default is None:
            continue
        try:
            spec.kind.check(value)
        except Invalid as exc:
            shown = "***" if spec.secret else repr(value)
            raise Invalid(f"{spec.name}={shown} {exc.problem}") from None


def environment_help(settings_class: type[Any]) -> str:
    """The ``--help`` epilog's list of environment variables, with what each one sets."""
    lines = [
        "environment (flags win over the environment, which wins over a .env file in the",
        "working directory, or the file named by ENV_FILE):",
    ]
    for spec in specs(settings_class):
        if spec.env:
            flag = f"; flag {spec.flag}" if spec.flag else ""
            text = f"{spec.help} (default {spec.shown_default()}{flag})"
            lines += textwrap.wrap(text, 80, initial_indent=f"  {spec.env:<24} ", subsequent_indent=" " * 27)
    return "\n".join(lines) + "\n"
