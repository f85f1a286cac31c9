"""The settings of ``livequiz serve`` from its flags, the environment and a TOML file.

Why: a server run by a container platform or a service manager is configured with environment
variables and a file rather than a long command line, and a secret on a command line is visible
to every user of the machine (``ps``). So every option of ``livequiz serve`` is also a setting:
``--some-option`` is the variable ``LIVEQUIZ_SOME_OPTION`` and the key ``some_option`` of the
file named by ``--config`` or ``LIVEQUIZ_CONFIG``. A flag beats the environment, which beats
the file, which beats the built-in default.

Why everything is derived from the argparse definitions in :mod:`livequiz.cli`: one list of
options then gives the flags, the variables, the file keys, the conversions (``type``,
``choices``, ``store_true``, ``append``) and the table in docs/configuration.md, so a new option
has its variable and its key without anyone writing them, and none can drift from the others.
A value from the environment or the file is converted exactly as argparse converts a flag, and
a wrong one is refused before the server starts, naming the setting and where it came from.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import math
import re
import tomllib
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

ENV_PREFIX = "LIVEQUIZ_"
#: The config file when ``--config`` is not given.
CONFIG_ENV = "LIVEQUIZ_CONFIG"
#: Variables that kept the name they had before every option had one (keyed by file key).
ENVIRONMENT_NAMES = {
    "database": "LIVEQUIZ_DATABASE_URL",
    "bus": "LIVEQUIZ_BUS_URL",
    "trusted_proxy": "LIVEQUIZ_TRUSTED_PROXIES",
}
#: A setting whose key holds one of these words is a secret: ``livequiz config`` masks it; so
#: is a URL's query parameter of such a name (libpq's ``?password=``).
SECRET_WORDS = re.compile(r"secret|password|passwd|token|api_key|private_key")
MASK = "***"
#: ``livequiz config`` lines up the sources of settings up to this long; longer ones push past.
ALIGN_AT = 44
TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})
#: What a ``type`` expects, for messages; any other callable is "a valid value".
TYPE_NAMES: dict[Any, str] = {int: "an integer", float: "a number"}

#: Where a setting's value came from, strongest first.
Source = Literal["flag", "environment", "file", "default"]


class ConfigurationError(Exception):
    """Settings that cannot work; each problem names the setting and where it came from."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        if len(self.problems) == 1:
            text = f"invalid configuration: {self.problems[0]}"
        else:
            text = "invalid configuration:\n" + "\n".join(f"  {p}" for p in self.problems)
        super().__init__(text)


class _NotGiven:
    """The default of a layered option while the command line is parsed: what is still this
    afterwards was not given as a flag. It prints as the real default, for ``--help``."""

    def __init__(self, default: object) -> None:
        self.default = default

    def __str__(self) -> str:
        return str(self.default)


@dataclasses.dataclass(frozen=True)
class Setting:
    """One option of ``livequiz serve`` as a setting: its flag, variable and file key."""

    action: argparse.Action
    default: Any

    @property
    def flag(self) -> str:
        return max(self.action.option_strings, key=len)

    @property
    def dest(self) -> str:
        return self.action.dest

    @property
    def key(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def env(self) -> str:
        return ENVIRONMENT_NAMES.get(self.key, ENV_PREFIX + self.key.upper())

    @property
    def help(self) -> str:
        return self.action.help or ""

    @property
    def switch(self) -> bool:
        """A flag without a value (``store_true``): a boolean in the file and the variable."""
        return isinstance(self.action, argparse._StoreTrueAction | argparse._StoreFalseAction)

    @property
    def many(self) -> bool:
        """A list: an option given several times, or taking several values."""
        if isinstance(self.action, argparse._AppendAction | argparse._ExtendAction):
            return True
        nargs = self.action.nargs
        return nargs in ("+", "*") or (isinstance(nargs, int) and nargs > 0 and not self.switch)

    @property
    def secret(self) -> bool:
        return SECRET_WORDS.search(self.key) is not None

    def default_value(self) -> Any:
        """The built-in default, converted as argparse converts a default given as text."""
        if isinstance(self.default, str) and not self.switch and self.action.type is not None:
            return self._one(self.default, toml=False)
        return self.default

    def from_text(self, text: str) -> Any:
        """The value of an environment variable: booleans as ``true/false``, ``1/0``,
        ``yes/no``, ``on/off``; lists separated by commas."""
        if self.switch:
            word = text.strip().lower()
            if word not in TRUE_WORDS | FALSE_WORDS:
                raise ValueError("not a boolean (true or false, 1 or 0, yes or no, on or off)")
            return self.action.const if word in TRUE_WORDS else not self.action.const
        if self.many:
            items = [item.strip() for item in text.split(",")]
            return [self._one(item, toml=False) for item in items if item]
        return self._one(text, toml=False)

    def from_toml(self, value: object) -> Any:
        """The value of a key of the config file: a TOML value of the option's type (a list, or
        one value, for an option that takes several)."""
        if isinstance(value, dict):
            raise ValueError("a table, but settings are top-level keys")
        if self.switch:
            if not isinstance(value, bool):
                raise ValueError(f"not a boolean (a TOML {_toml_type(value)})")
            return self.action.const if value else not self.action.const
        if self.many:
            items = value if isinstance(value, list) else [value]
            return [self._one(item, toml=True) for item in items]
        if isinstance(value, list):
            raise ValueError("an array, but this setting takes one value")
        return self._one(value, toml=True)

    def _one(self, value: object, *, toml: bool) -> Any:
        """One value converted by the option's ``type`` and checked against its ``choices``,
        as argparse does; a TOML value must already have the type's own TOML type."""
        kind = self.action.type if self.action.type is not None else str
        if toml:
            wrong = _toml_problem(kind, value)
            if wrong is not None:
                raise ValueError(wrong)
        if kind in (int, float) and not isinstance(value, str):  # a TOML integer or float
            converted = float(value) if kind is float else value  # type: ignore[arg-type]
        else:  # text, converted as on a command line (a TOML number as its text, for a parser)
            try:
                converted = kind(str(value))  # type: ignore[operator]
            except argparse.ArgumentTypeError as error:  # the parser's own words, as argparse
                raise ValueError(str(error)) from None
            except (TypeError, ValueError):
                expected = TYPE_NAMES.get(kind, "a valid value")
                raise ValueError(f"not {expected}") from None
        choices = self.action.choices
        if choices is not None and converted not in choices:
            names = [str(choice) for choice in choices]
            near = difflib.get_close_matches(str(converted), names, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ValueError(f"not one of {', '.join(names)}{hint}")
        return converted


def _toml_problem(kind: Any, value: object) -> str | None:
    """What is wrong with a TOML value's own type for an option of ``type=kind``, if anything:
    a file says ``port = 8000``, not ``port = "8000"``."""
    if kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else f"not an integer (a TOML {_toml_type(value)})"
    if kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else f"not a number (a TOML {_toml_type(value)})"
    if kind is str and not isinstance(value, str):
        return f"not a string (a TOML {_toml_type(value)})"
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return f"not a string or a number (a TOML {_toml_type(value)})"
    return None


def _toml_type(value: object) -> str:
    names = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array"}
    return names.get(type(value), "table" if isinstance(value, dict) else "date or time")


def settings_of(parser: argparse.ArgumentParser) -> list[Setting]:
    """Every option of ``parser`` as a setting, except ``--help``, ``--config`` and options
    hidden from ``--help`` (set by livequiz itself, such as ``--reuse-port``)."""
    settings = []
    for action in parser._actions:
        if (
            not action.option_strings
            or action.help == argparse.SUPPRESS
            or action.dest == "config"
            or isinstance(action, argparse._HelpAction | argparse._VersionAction)
        ):
            continue
        supported = (
            argparse._StoreAction,
            argparse._StoreTrueAction,
            argparse._StoreFalseAction,
            argparse._AppendAction,
            argparse._ExtendAction,
        )
        if not isinstance(action, supported):
            raise TypeError(f"{action.option_strings}: {type(action).__name__} is not a setting")
        settings.append(Setting(action, action.default))
    return settings


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        help=f"a TOML file of settings, one key per option (default: ${CONFIG_ENV}, else none); "
        f"every option is also a variable {ENV_PREFIX}<OPTION>; flags beat variables, which "
        "beat the file (docs/configuration.md)",
    )


@dataclasses.dataclass(frozen=True)
class Entry:
    """A setting's effective value and where it came from."""

    setting: Setting
    value: Any
    source: Source
    origin: str  # the flag, the variable or the file; "" for the default
    text: str | None = None  # the variable's text

    def describe(self) -> str:
        """Where the value came from, with the value (masked if secret), for a message."""
        if self.source == "environment":
            text = MASK if self.setting.secret else mask_url(self.text or "")
            return f"{self.origin}={text!r} (environment)"
        value = toml_literal(masked(self.setting, self.value))
        if self.source == "file":
            return f"{self.setting.key} = {value} (in {self.origin})"
        return f"{self.setting.flag} {value} ({self.source})"


@dataclasses.dataclass(frozen=True)
class Configuration:
    """The effective settings of one command line, in the order of ``--help``."""

    entries: tuple[Entry, ...]
    file: str | None
    #: ``LIVEQUIZ_*`` variables that are no setting, each with a near miss if there is one.
    unknown_variables: tuple[tuple[str, str | None], ...] = ()

    def explain(self, message: str) -> str | None:
        """``message`` (a refusal naming settings by flag, such as ``--port must be between 1
        and 65535``) with where each named setting came from, if any came from the environment
        or the file; ``None`` if all came from flags or defaults."""
        named = set(re.findall(r"--[a-z0-9][a-z0-9-]*|[a-z0-9]+(?:_[a-z0-9]+)+", message))
        notes = [
            entry.describe()
            for entry in self.entries
            if entry.source in ("environment", "file")
            and (entry.setting.flag in named or entry.setting.dest in named)
        ]
        return f"{message}; set by {', '.join(notes)}" if notes else None

    def as_toml(self) -> str:
        """The settings as a TOML file, each with its source as a comment; secrets masked."""
        lines = [
            "# livequiz serve: the effective configuration (flag > environment > file > default)"
        ]
        lines.append(f"# config file: {self.file}" if self.file else "# config file: none")
        rows = []
        for entry in self.entries:
            value = masked(entry.setting, entry.value)
            where = f"{entry.source} {entry.origin}".rstrip()
            if value is None:
                rows.append((f"# {entry.setting.key} = (not set)", where))
            else:
                rows.append((f"{entry.setting.key} = {toml_literal(value)}", where))
        width = min(max(len(setting) for setting, _ in rows), ALIGN_AT)
        lines += [f"{setting:<{width}}  # {where}" for setting, where in rows]
        for name, near in self.unknown_variables:
            hint = f" (did you mean {near}?)" if near else ""
            lines.append(f"# {name} is set but is no setting, so it is ignored{hint}")
        return "\n".join(lines) + "\n"

    def as_json(self) -> str:
        document = {
            "file": self.file,
            "settings": {
                entry.setting.key: {
                    "value": masked(entry.setting, entry.value),
                    "source": entry.source,
                    "from": entry.origin or None,
                }
                for entry in self.entries
            },
            "unknown_variables": [name for name, _ in self.unknown_variables],
        }
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def masked(setting: Setting, value: Any) -> Any:
    """``value`` fit to print: a secret setting as ``***``, the password in any URL masked."""
    if value is None:
        return None
    if setting.secret:
        return MASK
    if isinstance(value, str):
        return mask_url(value)
    if isinstance(value, list):
        return [mask_url(item) if isinstance(item, str) else item for item in value]
    return value


def mask_url(text: str) -> str:
    """``postgresql://user:pw@host/db`` as ``postgresql://user:***@host/db`` (and a
    ``?password=`` in its query masked too); anything else unchanged."""
    if "://" not in text:
        return text
    try:
        parts = urlsplit(text)
        has_password = parts.password is not None
    except ValueError:  # an unparsable port, say: nothing to find, nothing to mask
        return text
    netloc = parts.netloc
    if has_password:
        userinfo, _, hostport = netloc.rpartition("@")
        netloc = f"{userinfo.partition(':')[0]}:{MASK}@{hostport}"
    query = parts.query
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(SECRET_WORDS.search(name.lower()) for name, _ in pairs):
        masked_pairs = [
            (name, MASK if SECRET_WORDS.search(name.lower()) else value) for name, value in pairs
        ]
        query = urlencode(masked_pairs, safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def toml_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_literal(item) for item in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def default_text(setting: Setting) -> str:
    """The built-in default as docs/configuration.md shows it (``—``: not set)."""
    value = setting.default_value()
    if value is None:
        return "—"
    if isinstance(value, bool):
        return f"`{toml_literal(value)}`"
    return f"`{value}`"


# -- reading the settings -----------------------------------------------------------------------


def parse_args(
    parser: argparse.ArgumentParser,
    argv: Sequence[str],
    environ: Mapping[str, str],
    *,
    commands: Collection[str],
    template: str = "serve",
) -> argparse.Namespace:
    """``parser.parse_args(argv)``, with the options of ``template``'s subcommand also read from
    ``environ`` and the config file for each subcommand in ``commands``; the result carries a
    :class:`Configuration` as ``configuration``. Raises :class:`ConfigurationError`."""
    subcommands = _subcommands(parser)
    settings = settings_of(subcommands[template])
    by_dest = {setting.dest: setting for setting in settings}
    swapped: list[tuple[argparse.Action, Any]] = []
    for name in commands:
        for action in subcommands[name]._actions:
            setting = by_dest.get(action.dest)
            if setting is not None and action.option_strings:
                swapped.append((action, action.default))
                # argparse appends to a list default, so an unset list option stays None
                action.default = None if setting.many else _NotGiven(action.default)
    try:
        args = parser.parse_args(argv)
    finally:
        for action, default in swapped:
            action.default = default
    if getattr(args, "command", None) not in commands:
        return args
    args.configuration = resolve(settings, args, environ)
    return args


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def resolve(
    settings: Sequence[Setting], args: argparse.Namespace, environ: Mapping[str, str]
) -> Configuration:
    """Fill every setting of ``args`` not given as a flag from ``environ``, then the config file,
    then the default. Every variable set and every key of the file is checked, used or not, and
    every problem is reported at once."""
    problems: list[str] = []
    if args.config:
        path: str | None = args.config
        file_values = _read_file(args.config, "--config", settings, problems)
    else:
        path = environ.get(CONFIG_ENV) or None
        file_values = _read_file(path, CONFIG_ENV, settings, problems) if path else {}
    entries = []
    for setting in settings:
        given = getattr(args, setting.dest)
        from_env = from_file = None
        text = environ.get(setting.env) or None  # empty is unset, as a container may leave it
        if text is not None:
            try:
                from_env = Entry(setting, setting.from_text(text), "environment", setting.env, text)
            except ValueError as error:
                shown = MASK if setting.secret else mask_url(text)
                problems.append(f"{setting.env}={shown!r} (environment): {error}")
        if setting.key in file_values and path is not None:
            written_key, raw = file_values[setting.key]
            try:
                from_file = Entry(setting, setting.from_toml(raw), "file", path)
            except ValueError as error:
                shown_value = toml_literal(masked(setting, raw))
                problems.append(f"{written_key} = {shown_value} (in {path}): {error}")
        if not (given is None or isinstance(given, _NotGiven)):
            entry = Entry(setting, given, "flag", setting.flag)
        elif from_env is not None:
            entry = from_env
        elif from_file is not None:
            entry = from_file
        else:
            try:
                entry = Entry(setting, setting.default_value(), "default", "")
            except ValueError as error:  # a default that its own type refuses: livequiz's bug
                raise TypeError(
                    f"{setting.flag}: the default {setting.default!r}: {error}"
                ) from None
        setattr(args, setting.dest, entry.value)
        entries.append(entry)
    if problems:
        raise ConfigurationError(problems)
    return Configuration(tuple(entries), path, _unknown_variables(settings, environ))


def _read_file(
    path: str, origin: str, settings: Sequence[Setting], problems: list[str]
) -> dict[str, tuple[str, object]]:
    """The keys of the config file at ``path`` (given by ``origin``), by setting key, each with
    the key as written and its value; problems with the file itself go to ``problems``."""
    named = f"--config {path}" if origin == "--config" else f"{origin}={path!r} (environment)"
    try:
        with open(path, "rb") as file:
            document = tomllib.load(file)
    except FileNotFoundError:
        problems.append(f"{named}: no such file")
        return {}
    except IsADirectoryError:
        problems.append(f"{named}: a directory, not a file")
        return {}
    except OSError as error:
        problems.append(f"{named}: {error.strerror or error}")
        return {}
    except tomllib.TOMLDecodeError as error:
        problems.append(f"{path}: not valid TOML: {error}")
        return {}
    except UnicodeDecodeError:
        problems.append(f"{path}: not UTF-8 text")
        return {}
    keys = [setting.key for setting in settings]
    found: dict[str, tuple[str, object]] = {}
    for written, value in document.items():
        key = written.replace("-", "_")
        if key not in keys:
            if isinstance(value, dict):
                problems.append(
                    f"[{written}] (in {path}): settings are top-level keys, not in a table"
                )
                continue
            near = difflib.get_close_matches(key, keys, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            problems.append(f"{written} (in {path}): unknown setting{hint}")
        elif key in found:
            problems.append(f"{written} (in {path}): given twice, also as {found[key][0]}")
        else:
            found[key] = (written, value)
    return found


def _unknown_variables(
    settings: Sequence[Setting], environ: Mapping[str, str]
) -> tuple[tuple[str, str | None], ...]:
    names = [setting.env for setting in settings]
    unknown = []
    for name in sorted(environ):
        if name.startswith(ENV_PREFIX) and name not in names and name != CONFIG_ENV:
            near = difflib.get_close_matches(name, names, n=1, cutoff=0.85)
            unknown.append((name, near[0] if near else None))
    return tuple(unknown)
