"""Typed configuration from flags, environment and a YAML file, driven by one dataclass.

Each field of the dataclass is one setting, reachable three ways:

    field `etcd_endpoints`  ->  flag --etcd-endpoints,  env SKIFF_ETCD_ENDPOINTS,  file key etcd_endpoints

Precedence is flag > env > file > default (the twelve-factor order: the most local wins). The file is
named by `--config` or `SKIFF_CONFIG`. Design choices:

* The dataclass is the single source of truth: names, types, defaults and help text live there, so a
  setting cannot exist in one source and be missing from another.
* Unknown file keys are an error naming the key -- a typo in a config file must not silently fall back to
  a default. (Unknown *environment* variables are ignored: the environment is shared with everything.)
* Every value goes through one converter per type, so `"true"`/`"1"` mean the same in env, flag and file;
  lists are comma-separated in env and flags (flags may also repeat), real lists in YAML.
* Errors name the setting and where the bad value came from, and by default end the process like an
  argparse error (exit 2, one line on stderr) instead of a traceback.
* `describe_config` is what services log at start-up; fields with metadata `secret=True` or a
  secret-looking name are shown as "<redacted>".

Supported field types: bool, int, float, str, pathlib.Path, Literal[...] of strings, list[X] of those
scalars, and `X | None` of any of them.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from skiff_common.observability.logging import REDACTED, is_secret_key

T = TypeVar("T")

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


class ConfigError(ValueError):
    """A configuration problem, with a message that names the setting and the source."""


@dataclasses.dataclass(frozen=True)
class _Setting:
    name: str
    flag: str
    env: str
    base: Any  # scalar type, or a tuple of allowed strings for Literal
    is_list: bool
    optional: bool
    field: dataclasses.Field[Any]

    @property
    def required(self) -> bool:
        return self.field.default is dataclasses.MISSING and self.field.default_factory is dataclasses.MISSING


def _settings(cls: type[Any], env_prefix: str) -> list[_Setting]:
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"load_config: {cls!r} is not a dataclass")
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        tp, optional = hints[f.name], False
        if typing.get_origin(tp) in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            optional = len(args) < len(typing.get_args(tp))
            if len(args) != 1:
                raise TypeError(f"config field {f.name}: unions other than X | None are not supported")
            tp = args[0]
        is_list = typing.get_origin(tp) is list
        if is_list:
            (tp,) = typing.get_args(tp) or (str,)
        if typing.get_origin(tp) is typing.Literal:
            tp = tuple(str(a) for a in typing.get_args(tp))
        elif tp not in (bool, int, float, str, Path):
            raise TypeError(f"config field {f.name}: unsupported type {tp!r}")
        out.append(
            _Setting(f.name, "--" + f.name.replace("_", "-"), env_prefix + f.name.upper(), tp, is_list, optional, f)
        )
    return out


def _type_name(base: Any) -> str:
    return "one of " + ", ".join(base) if isinstance(base, tuple) else base.__name__


def _scalar(s: _Setting, raw: Any, where: str) -> Any:
    base = s.base
    try:
        if base is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError
        if base is int:
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError
            return int(raw)
        if base is float:
            if isinstance(raw, bool):
                raise ValueError
            return float(raw)
        if isinstance(base, tuple):
            if str(raw) not in base:
                raise ValueError
            return str(raw)
        if isinstance(raw, dict | list):
            raise ValueError
        return base(str(raw)) if base is Path else str(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: invalid value {raw!r} (expected {_type_name(base)})") from None


def _convert(s: _Setting, raw: Any, where: str) -> Any:
    """Convert a raw value from any source; strings are split on commas for list settings."""
    if raw is None:
        if s.optional:
            return None
        raise ConfigError(f"{where}: a value is required")
    if s.is_list:
        items: list[Any]
        if isinstance(raw, str):
            items = [part.strip() for part in raw.split(",") if part.strip()]
        elif isinstance(raw, list):
            items = [part.strip() for item in raw for part in (item.split(",") if isinstance(item, str) else [item])]
            items = [i for i in items if i != ""]
        else:
            raise ConfigError(f"{where}: invalid value {raw!r} (expected a list of {_type_name(s.base)})")
        return [_scalar(s, item, where) for item in items]
    return _scalar(s, raw, where)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ConfigError(message)


def _parser(settings: list[_Setting], prog: str | None, description: str | None, env_prefix: str) -> _Parser:
    p = _Parser(prog=prog, description=description, argument_default=argparse.SUPPRESS)
    p.add_argument("--config", metavar="FILE", help=f"YAML config file (env {env_prefix}CONFIG)")
    for s in settings:
        default = "required" if s.required else f"default: {_default_value(s)!r}"
        # argparse %-formats help: a literal % (eviction thresholds' "10%") must be doubled
        help_text = f"{s.field.metadata.get('help', '')} (env {s.env}; {default})".strip().replace("%", "%%")
        if s.base is bool and not s.is_list:
            p.add_argument(s.flag, dest=s.name, nargs="?", const="true", metavar="BOOL", help=help_text)
            p.add_argument(
                "--no-" + s.flag[2:], dest=s.name, action="store_const", const="false", help=argparse.SUPPRESS
            )
        elif s.is_list:
            p.add_argument(s.flag, dest=s.name, action="append", metavar="A,B", help=help_text)
        else:
            p.add_argument(s.flag, dest=s.name, metavar=s.name.upper(), help=help_text)
    return p


def _default_value(s: _Setting) -> Any:
    if s.field.default_factory is not dataclasses.MISSING:
        return s.field.default_factory()
    return s.field.default


def _read_file(path: str, settings: list[_Setting]) -> dict[str, Any]:
    import yaml  # imported here: only a --config file needs it, and it costs every start ~40 ms CPU

    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except OSError as exc:
        raise ConfigError(f"--config: cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"--config: {path} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: expected a mapping of settings at the top level")
    known = {s.name for s in settings}
    out = {}
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name not in known:
            raise ConfigError(f"config file {path}: unknown key {key!r} (known keys: {', '.join(sorted(known))})")
        out[name] = value
    return out


def _load(cls: type[T], argv: Sequence[str] | None, env_prefix: str, env: Mapping[str, str], prog: str | None) -> T:
    settings = _settings(cls, env_prefix)
    args = vars(_parser(settings, prog, cls.__doc__, env_prefix).parse_args(argv))
    config_path = args.pop("config", None) or env.get(env_prefix + "CONFIG")
    file_values = _read_file(config_path, settings) if config_path else {}

    values: dict[str, Any] = {}
    for s in settings:
        if s.name in args:
            values[s.name] = _convert(s, args[s.name], s.flag)
        elif s.env in env:
            values[s.name] = _convert(s, env[s.env], f"env {s.env}")
        elif s.name in file_values:
            values[s.name] = _convert(s, file_values[s.name], f"config file {config_path}: key {s.name!r}")
        elif s.required:
            raise ConfigError(f"{s.flag}: required setting is missing (also settable as env {s.env})")
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:  # validation in __post_init__
        raise ConfigError(str(exc)) from None


def load_config(
    cls: type[T],
    argv: Sequence[str] | None = None,
    *,
    env_prefix: str = "SKIFF_",
    env: Mapping[str, str] | None = None,
    exit_on_error: bool = True,
    prog: str | None = None,
) -> T:
    """Build `cls` from flags (`argv`, default sys.argv[1:]), env (default os.environ), file and defaults.

    With `exit_on_error` (the default, for service mains) a bad setting prints one line and exits with
    status 2; with `exit_on_error=False` a `ConfigError` is raised instead (tests, embedding).
    """
    try:
        return _load(cls, argv, env_prefix, os.environ if env is None else env, prog)
    except ConfigError as exc:
        if not exit_on_error:
            raise
        name = prog or os.path.basename(sys.argv[0]) or "skiff"
        print(f"{name}: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def describe_config(cfg: Any) -> dict[str, Any]:
    """A JSON-friendly dict of the settings for the start-up log line, secrets redacted."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if (f.metadata.get("secret") or is_secret_key(f.name)) and value not in (None, "", []):
            out[f.name] = REDACTED
        elif isinstance(value, Path):
            out[f.name] = str(value)
        elif isinstance(value, list):
            out[f.name] = [str(v) if isinstance(v, Path) else v for v in value]
        else:
            out[f.name] = value
    return out


__all__ = ["ConfigError", "describe_config", "load_config"]
