"""One configuration for every process.

Sources, later ones winning:
  1. built-in defaults (enough for a working system on any Linux box),
  2. the TOML file named by ``SHT_CONFIG``, else ``sht.toml`` at the repo root,
  3. environment variables ``SHT__<SECTION>__<KEY>`` (e.g. ``SHT__RECORDER__SEGMENT_SECONDS=5``).

Every key is declared once, typed, in :mod:`common.config.sections` (so
``cfg.recorder.segment_seconds`` is an ``int`` to a type checker); the table this loader
reads and checks values with, :data:`SCHEMA`, is derived from those declarations.
Everything is validated at start.  A bad value raises :class:`ConfigError` whose message
names the key, the bad value and what is allowed; :func:`load_or_exit` prints that one
line and exits with code 2.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import MISSING, Field, dataclass, fields
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

from common.config.sections import REPO_ROOT, Config, Rule, Section

__all__ = ["EXIT_BAD_CONFIG", "SCHEMA", "Config", "ConfigError", "Key", "load", "load_or_exit", "settled_exit_code"]

ENV_PREFIX = "SHT__"
EXIT_BAD_CONFIG = 2
# supervisord counts an exit within a program's startsecs (1 s here) as a failed start and
# retries it whatever exitcodes says; exit 2 must come later so the program stays EXITED.
SUPERVISOR_STARTSECS_S = 1.0
_STARTED = time.monotonic()


class ConfigError(Exception):
    """A configuration value that cannot be used; the message is for the user."""


# -- the table of keys, derived from the sections ------------------------------------------------
# A key's annotated type -> the types a configured value may have; ``float`` takes integers.
_KINDS: dict[Any, tuple[type, ...]] = {int: (int,), float: (int, float), str: (str,), bool: (bool,), list: (list,)}
_KIND_NAMES = {int: "integer", float: "number", str: "string", bool: "true/false", list: "list"}


@dataclass(frozen=True)
class Key:
    """One key as the loader sees it: its default, the types a value may have, its rule."""

    default: Any
    kinds: tuple[type, ...]
    rule: Rule | None = None

    @property
    def type_name(self) -> str:
        return " or ".join(_KIND_NAMES[k] for k in self.kinds)

    @property
    def allowed(self) -> str:
        return self.rule.allowed if self.rule is not None else ""

    def type_ok(self, value: Any) -> bool:
        # bool is an int in Python; do not let `true` pass as a number or 1 as a bool.
        return isinstance(value, self.kinds) and not (isinstance(value, bool) and bool not in self.kinds)

    def rule_ok(self, value: Any) -> bool:
        return self.rule is None or self.rule.check(value)

    def allows(self, value: Any) -> bool:
        """Whether ``value`` may be configured for this key (its type, then its rule)."""
        return self.type_ok(value) and self.rule_ok(value)


def _key(spec: Field[Any]) -> Key:
    annotation, rule = spec.type, None
    if get_origin(annotation) is Annotated:
        annotation, *extras = get_args(annotation)
        rule = next((x for x in extras if isinstance(x, Rule)), None)
    kinds = _KINDS.get(get_origin(annotation) or annotation)
    if kinds is None:
        raise TypeError(f"{spec.name}: a configuration key is an int, float, str, bool or list, not {annotation}")
    if spec.default is not MISSING:
        return Key(spec.default, kinds, rule)
    if callable(spec.default_factory):
        return Key(spec.default_factory(), kinds, rule)
    raise TypeError(f"{spec.name}: a configuration key needs a default")


SECTIONS: dict[str, type[Section]] = {
    spec.name: spec.type for spec in fields(Config) if isinstance(spec.type, type) and issubclass(spec.type, Section)}
SCHEMA: dict[str, dict[str, Key]] = {
    name: {spec.name: _key(spec) for spec in fields(section)} for name, section in SECTIONS.items()}


# -- reading and checking ------------------------------------------------------------------------
def _validate(section: str, key: str, value: Any, origin: str) -> Any:
    spec = SCHEMA[section][key]
    if not spec.type_ok(value):
        raise ConfigError(f"{section}.{key} = {value!r} ({origin}): expected {spec.type_name}")
    if not spec.rule_ok(value):
        raise ConfigError(f"{section}.{key} = {value!r} ({origin}): allowed values are {spec.allowed}")
    return value


def _parse_env_value(section: str, key: str, raw: str) -> Any:
    """Environment values are text; read them as the key's type."""
    kinds = SCHEMA[section][key].kinds
    if str in kinds:
        return raw
    if bool in kinds:
        low = raw.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        return raw
    if list in kinds:
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return [part.strip() for part in raw.split(",") if part.strip()]
    for kind in (int, float):
        if kind in kinds:
            try:
                return kind(raw)
            except ValueError:
                continue
    return raw


def _known(section: str, key: str | None, origin: str) -> None:
    """Raise for a section (or a key of it) that the configuration does not have."""
    if section not in SCHEMA:
        raise ConfigError(f"unknown section [{section}] ({origin}): allowed sections are {', '.join(SCHEMA)}")
    if key is not None and key not in SCHEMA[section]:
        raise ConfigError(f"unknown key {section}.{key} ({origin}): allowed keys are "
                          f"{', '.join(SCHEMA[section])}")


def _merge(values: dict[str, dict[str, Any]], data: dict[str, Any], origin: str) -> None:
    for section, table in data.items():
        _known(section, None, origin)
        if not isinstance(table, dict):
            raise ConfigError(f"[{section}] ({origin}): expected a table of keys")
        for key, value in table.items():
            _known(section, key, origin)
            values[section][key] = _validate(section, key, value, origin)


def config_file_path(environ: dict[str, str]) -> Path | None:
    explicit = environ.get("SHT_CONFIG")
    if explicit:
        return Path(explicit)
    default = REPO_ROOT / "sht.toml"
    return default if default.exists() else None


def _read_file(path: Path) -> dict[str, Any]:
    import tomllib  # only when there is a file
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"SHT_CONFIG = {str(path)!r}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _environment(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    """``SHT__<SECTION>__<KEY>`` variables, read as their keys' types (not yet checked)."""
    overrides: dict[str, dict[str, Any]] = {}
    for name, raw in sorted(env.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        parts = name[len(ENV_PREFIX):].lower().split("__")
        if len(parts) != 2 or not all(parts):
            raise ConfigError(f"{name}: environment overrides are named SHT__<SECTION>__<KEY>")
        section, key = parts
        _known(section, key, name)
        overrides.setdefault(section, {})[key] = _parse_env_value(section, key, raw)
    return overrides


def load(environ: dict[str, str] | None = None) -> Config:
    """Defaults, then the file, then the environment; raises ConfigError."""
    env = dict(os.environ if environ is None else environ)
    values: dict[str, dict[str, Any]] = {section: {} for section in SCHEMA}   # what differs from the defaults
    source = "defaults"
    path = config_file_path(env)
    if path is not None:
        _merge(values, _read_file(path), str(path))
        source = str(path)
    _merge(values, _environment(env), "environment")
    sections: dict[str, Any] = {name: section(**values[name]) for name, section in SECTIONS.items()}
    cfg = Config(**sections, source=source)
    _check_relations(cfg)
    return cfg


def _check_relations(cfg: Config) -> None:
    rec = cfg.recorder
    if rec.require_mount and not Path(os.path.normpath(cfg.recordings_root)).is_relative_to(
            os.path.normpath(rec.require_mount)):
        raise ConfigError(f"recorder.require_mount = {rec.require_mount!r}: recorder.root "
                          f"({str(cfg.recordings_root)!r}) must lie on that disk, under its mount point")
    if rec.free_target_gb < rec.free_floor_gb:
        raise ConfigError(f"recorder.free_target_gb = {rec.free_target_gb!r}: allowed values are "
                          f"numbers >= recorder.free_floor_gb ({rec.free_floor_gb!r})")


def settled_exit_code(code: int) -> int:
    """``code``, once this process has outlived supervisord's start check (only under it)."""
    if os.environ.get("SUPERVISOR_ENABLED"):
        left = SUPERVISOR_STARTSECS_S + 0.5 - (time.monotonic() - _STARTED)
        if left > 0:
            time.sleep(left)
    return code


def load_or_exit(environ: dict[str, str] | None = None) -> Config:
    """For process entry points: one clear line and exit code 2 on a bad config."""
    try:
        return load(environ)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        raise SystemExit(settled_exit_code(EXIT_BAD_CONFIG)) from None
