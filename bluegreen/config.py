"""Settings the commands share, from a config file and the environment.

A setting's value comes from, in order: the command-line flag, the environment
(``BLUEGREEN_<KEY>``), the config file, the built-in default. The file is ``bluegreen.toml``
(keys at the top level) or ``pyproject.toml`` (keys under ``[tool.bluegreen]``), found in the
working directory or the nearest parent, or named by ``--config`` / ``BLUEGREEN_CONFIG``.

The CLI hands each command its defaults from :func:`Config.defaults_for` (click's
``default_map``), so a flag still wins; the Python API can call the same function. This
module imports nothing heavy: it runs before every command, ``--help`` included.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bluegreen.errors import BluegreenError

CONFIG_ENV = "BLUEGREEN_CONFIG"
URL_ENV = "BLUEGREEN_DATABASE_URL"
FILE_NAME = "bluegreen.toml"

# Built-in defaults that the CLI's option defaults are taken from, so each lives once.
LOCK_TIMEOUT_MS = 500
RETRIES = 10
PG_VERSION = 15


class ConfigError(BluegreenError):
    """The config file or a BLUEGREEN_* variable holds something unusable."""


def _whole(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise ValueError(text)
    return value


def _rule_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


@dataclass(frozen=True)
class Setting:
    """One shared setting: its key in the file, the command parameter it feeds, how to read
    it from text (the environment) and what a file value must be."""

    key: str
    param: str | None
    parse: Callable[[str], Any]
    file_type: tuple[type, ...]
    default: Any
    help: str
    kind: str  # what to give, for error messages

    @property
    def env(self) -> str:
        return "BLUEGREEN_" + self.key.upper().replace("-", "_")


SETTINGS: tuple[Setting, ...] = (
    Setting("database-url-env", None, str, (str,), "DATABASE_URL",
            f"the environment variable read for the database URL after {URL_ENV}",
            "an environment variable name"),
    Setting("lock-timeout", "lock_timeout", _at_least_one, (int,), LOCK_TIMEOUT_MS,
            "longest wait for a table lock per attempt, in ms (cutover, rollback, finish)",
            "a whole number of milliseconds from 1"),
    Setting("retries", "retries", _whole, (int,), RETRIES,
            "attempts after a lock timeout (cutover, rollback)", "a whole number"),
    Setting("max-rows-per-second", "max_rows_per_second", _positive, (int, float), None,
            "throttle: copied rows per second (copy)", "a number of rows per second"),
    Setting("max-replication-lag", "max_replication_lag", _positive, (int, float), None,
            "throttle: back off while a replica lags more, in seconds (copy)",
            "a number of seconds"),
    Setting("max-active-sessions", "max_active_sessions", _at_least_one, (int,), None,
            "throttle: back off while more sessions are active (copy)",
            "a whole number from 1"),
    Setting("pg-version", "pg_version", _at_least_one, (int,), None,
            f"PostgreSQL major version plan judges for (default: the server's, else "
            f"{PG_VERSION})", "a major version such as 15"),
    Setting("disable", "disable", _rule_list, (list,), [],
            "plan rules turned off, e.g. [\"prefer-bigint\"]", "a list of rule ids"),
)
BY_KEY = {s.key: s for s in SETTINGS}


@dataclass
class Value:
    """A setting's value and where it came from: ``default``, ``env NAME`` or ``file PATH``."""

    setting: Setting
    value: Any
    source: str


@dataclass
class Config:
    """The settings in force for one run, before command-line flags."""

    path: Path | None
    values: dict[str, Value] = field(default_factory=dict)
    database_url: str | None = None
    database_url_source: str | None = None

    def __getitem__(self, key: str) -> Any:
        return self.values[key].value

    def defaults_for(self, parameters: set[str] | None = None) -> dict[str, Any]:
        """Defaults for a command's parameters (all that apply when ``parameters`` is None),
        leaving out settings still at their built-in default so the command's own default
        shows in its help."""
        out: dict[str, Any] = {}
        for value in self.values.values():
            param = value.setting.param
            if param is None or value.source == "default":
                continue
            if parameters is None or param in parameters:
                out[param] = value.value
        if self.database_url is not None and (parameters is None or
                                              "database_url" in parameters):
            out["database_url"] = self.database_url
        return out


def find_file(start: Path) -> Path | None:
    """The nearest ``bluegreen.toml``, or ``pyproject.toml`` with a ``[tool.bluegreen]``
    table, in ``start`` or a parent; the search stops at a repository's root."""
    for folder in (start, *start.parents):
        own = folder / FILE_NAME
        if own.is_file():
            return own
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and "bluegreen" in _read_toml(pyproject).get("tool", {}):
            return pyproject
        if (folder / ".git").exists():
            return None
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read it ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error}); fix the file") from None


def _file_settings(path: Path) -> dict[str, Any]:
    data = _read_toml(path)
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("bluegreen", {})
        where = f"{path} [tool.bluegreen]"
    else:
        where = str(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table of settings")
    for key, value in data.items():
        setting = BY_KEY.get(key)
        if setting is None:
            import difflib

            close = difflib.get_close_matches(key.replace("_", "-"), BY_KEY, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise ConfigError(f"{where}: unknown setting {key!r}; {hint}known settings: "
                              f"{', '.join(BY_KEY)}")
        # bool is an int in Python; no setting here takes true/false.
        if isinstance(value, bool) or not isinstance(value, setting.file_type):
            raise ConfigError(f"{where}: {key} = {value!r}: give {setting.kind}")
        if setting.parse in (_whole, _at_least_one, _positive):
            try:
                setting.parse(str(value))
            except ValueError:
                raise ConfigError(f"{where}: {key} = {value!r}: give {setting.kind}") from None
        if key == "disable" and not (isinstance(value, list)
                                     and all(isinstance(item, str) for item in value)):
            raise ConfigError(f"{where}: disable: give a list of rule ids")
    return data


def load(cwd: Path | None = None, environ: Mapping[str, str] | None = None,
         path: Path | None = None) -> Config:
    """The settings for a run in ``cwd`` with ``environ`` (the process's by default), from
    ``path`` or the file found from ``cwd``."""
    environ = os.environ if environ is None else environ
    if path is None and environ.get(CONFIG_ENV):
        path = Path(environ[CONFIG_ENV])
    if path is not None and not path.is_file():
        raise ConfigError(f"config file {path}: no such file; pass a bluegreen.toml or a "
                          "pyproject.toml with [tool.bluegreen]")
    path = path or find_file((cwd or Path.cwd()).resolve())
    file_values = _file_settings(path) if path else {}
    config = Config(path)
    for setting in SETTINGS:
        if environ.get(setting.env, "") != "":
            text = environ[setting.env]
            try:
                value = setting.parse(text)
            except ValueError:
                raise ConfigError(f"{setting.env}={text!r}: give {setting.kind}") from None
            config.values[setting.key] = Value(setting, value, f"env {setting.env}")
        elif setting.key in file_values:
            config.values[setting.key] = Value(setting, file_values[setting.key],
                                               f"file {path}")
        else:
            config.values[setting.key] = Value(setting, setting.default, "default")
    url_env = config["database-url-env"]
    for name in (URL_ENV, url_env):
        if environ.get(name):
            config.database_url = environ[name]
            config.database_url_source = f"env {name}"
            break
    return config


def shown(value: Any) -> str:
    """A setting's value as `bluegreen config` prints it."""
    if value is None:
        return "not set"
    if isinstance(value, list):
        return ", ".join(value) or "none"
    return str(value)


def redact(url: str) -> str:
    """A database URL or libpq conninfo with its password replaced by ``***``; works on
    text that does not parse, so nothing secret slips through on a typo. The one redaction
    function is bluegreen.redact.redact: URL passwords (an unencoded "@" in one included),
    password= pairs, and every password bluegreen has seen in a URL."""
    from bluegreen.redact import redact as redact_text

    return redact_text(url)
