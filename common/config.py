"""One configuration for every process.

Sources, later ones winning:
  1. built-in defaults (enough for a working system on any Linux box),
  2. the TOML file named by ``SHT_CONFIG``, else ``sht.toml`` at the repo root,
  3. environment variables ``SHT__<SECTION>__<KEY>`` (e.g. ``SHT__RECORDER__SEGMENT_SECONDS=5``).

Everything is validated at start.  A bad value raises :class:`ConfigError` whose
message names the key, the bad value and what is allowed; :func:`load_or_exit`
prints that one line and exits with code 2.
"""
from __future__ import annotations

import ipaddress
import json
import os
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "SHT__"
EXIT_BAD_CONFIG = 2
# supervisord counts an exit within a program's startsecs (1 s here) as a failed start and
# retries it whatever exitcodes says; exit 2 must come later so the program stays EXITED.
SUPERVISOR_STARTSECS_S = 1.0
_STARTED = time.monotonic()


class ConfigError(Exception):
    """A configuration value that cannot be used; the message is for the user."""


@dataclass(frozen=True)
class Key:
    default: Any
    kind: type | tuple[type, ...]
    check: Callable[[Any], bool] | None = None
    allowed: str = ""  # human description of what is allowed


def _choice(*values: str) -> tuple[Callable[[Any], bool], str]:
    return (lambda v: v in values), " | ".join(values)


def _range(lo: float, hi: float) -> tuple[Callable[[Any], bool], str]:
    return (lambda v: lo <= v <= hi), f"a number from {lo:g} to {hi:g}"


def _key(default: Any, kind: type | tuple[type, ...], rule: tuple[Callable[[Any], bool], str] | None = None,
         allowed: str = "") -> Key:
    if rule is None:
        return Key(default, kind, None, allowed)
    return Key(default, kind, rule[0], rule[1])


def _is_str_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _is_network_list(v: Any) -> bool:
    if not _is_str_list(v):
        return False
    try:
        for x in v:
            ipaddress.ip_network(x, strict=False)
    except ValueError:
        return False
    return True


def _is_host_list(v: Any) -> bool:
    return _is_str_list(v) and all(x != "" and all(c.isalnum() or c in "-._*" for c in x) for x in v)


# Loopback, the private IPv4 ranges, link-local, IPv6 ULA and link-local.
DEFAULT_ALLOW = ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                 "169.254.0.0/16", "fc00::/7", "fe80::/10"]


def _is_rect(v: Any) -> bool:
    if not (isinstance(v, list) and len(v) == 4):
        return False
    if not all(isinstance(n, (int, float)) and not isinstance(n, bool) and 0 <= n <= 100 for n in v):
        return False
    return v[0] + v[2] <= 100 and v[1] + v[3] <= 100 and v[2] > 0 and v[3] > 0


def _is_mask_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(cam, list) and all(_is_rect(r) for r in cam) for cam in v)


SCHEMA: dict[str, dict[str, Key]] = {
    "camera": {
        "source": _key("auto", str, _choice("auto", "synthetic", "picamera2", "file", "v4l2")),
        # Per camera, overriding `source` (e.g. a Pi camera and a USB webcam); empty: `source` for all.
        "sources": _key([], list, (lambda v: _is_str_list(v) and all(
            x in ("auto", "synthetic", "picamera2", "file", "v4l2") for x in v),
            "a list of auto | synthetic | picamera2 | file | v4l2, one per camera")),
        "fps": _key(30, int, _range(1, 120)),
        "count": _key(2, int, _range(1, 2)),
        "names": _key(["CAM 0", "CAM 1"], list, (_is_str_list, "a list of strings")),
        "overlay": _key(True, bool),
        "files": _key([], list, (_is_str_list, "a list of video file paths, one per camera")),
        "v4l2_devices": _key(["/dev/video0", "/dev/video2"], list, (_is_str_list, "a list of device paths")),
        "capture_timeout": _key(2.0, (int, float), _range(0.1, 30)),
        # A camera that is not connected is looked for again this often (by a fresh process).
        "absent_retry_seconds": _key(60.0, (int, float), _range(1, 3600)),
        # No frame published for this long (a hung camera stack): the capture process exits.
        "watchdog_seconds": _key(5.0, (int, float), _range(1, 600)),
        # Synthetic source only: a still scene (no pan, no vehicle) with a lighting ramp, and
        # a figure crossing it every this many seconds.  0: the usual moving street scene.
        "synthetic_motion_every": _key(0, (int, float), (lambda v: v == 0 or 10 <= v <= 86400,
                                                         "0 (off) or a number of seconds from 10 to 86400")),
    },
    "ring": {
        "prefix": _key("sht_", str, (lambda v: v != "" and all(c.isalnum() or c in "_-." for c in v),
                                     "letters, digits, '_', '-' or '.' (not empty)")),
        "slots": _key(8, int, _range(3, 64)),
        "stale_seconds": _key(2.0, (int, float), _range(0.2, 60)),
    },
    "streamer": {
        "host": _key("0.0.0.0", str),
        "port": _key(8001, int, _range(1, 65535)),
        "workers": _key(1, int, _range(1, 8)),
        "max_clients_per_resolution": _key(2, int, _range(1, 64)),
        "max_h264_clients": _key(4, int, _range(1, 64)),   # addresses watching /live/{camera}.mp4
        "jpeg_quality": _key(80, int, _range(10, 100)),
        "default_view": _key("dual", str, _choice("dual", "0", "1")),
        "default_resolution": _key("480p", str, _choice("480p", "720p")),
        "keepalive_seconds": _key(1.0, (int, float), _range(0.2, 10)),
        # CPU priority of the live view (Unix nice): under load the recorders win.
        "nice": _key(10, int, _range(0, 19)),
        # Open connections per process; more are answered 503 (the fd limit is raised to fit).
        "max_connections": _key(2000, int, _range(16, 60000)),
    },
    "security": {
        "allow": _key(DEFAULT_ALLOW, list, (_is_network_list, "a list of CIDR networks, e.g. [\"192.168.1.0/24\"]")),
        "hosts": _key([], list, (_is_host_list, "a list of host names, e.g. [\"camera.example.org\"]")),
        "trusted_proxies": _key([], list, (_is_network_list, "a list of CIDR networks of reverse proxies")),
        "max_streams_per_address": _key(4, int, _range(1, 64)),
    },
    "recorder": {
        "root": _key("videos/cam_rec", str),
        "engine": _key("pyav", str, _choice("pyav", "rpicam-vid")),
        "encoder": _key("auto", str, _choice("auto", "libx264", "h264_v4l2m2m")),
        "segment_seconds": _key(30, int, _range(1, 3600)),
        "align_to_clock": _key(True, bool),
        "preset": _key("ultrafast", str, _choice("ultrafast", "superfast", "veryfast", "faster", "fast",
                                                "medium", "slow")),
        "tune": _key("zerolatency", str, _choice("zerolatency", "film", "animation", "grain",
                                                 "stillimage", "fastdecode", "none")),
        "crf": _key(23, int, _range(0, 51)),
        "max_bitrate_kbps": _key(0, int, _range(0, 100000)),
        "threads": _key(1, int, _range(0, 16)),   # libx264 threads; 0 lets it choose
        "sync_seconds": _key(1.0, (int, float), _range(0, 60)),  # fdatasync the open segment; 0: never
        "keyframe_seconds": _key(1.0, (int, float), _range(0.1, 10)),
        "disk_warn_gb": _key(1.0, (int, float), _range(0, 100000)),
        "retention": _key(True, bool),
        "free_floor_gb": _key(1.0, (int, float), _range(0, 100000)),
        "free_target_gb": _key(1.5, (int, float), _range(0, 100000)),
        "quota_gb": _key(0.0, (int, float), _range(0, 1000000)),
        "max_age_days": _key(0, int, _range(0, 36500)),
        "check_seconds": _key(10.0, (int, float), _range(0.5, 10)),
        "rpicam_vid": _key("rpicam-vid", str),
        "pause_max_minutes": _key(60, (int, float), _range(0, 525600)),  # 0: a pause lasts until resumed
        # Segments that hold a motion event outlive plain ones by this many days.
        "event_keep_days": _key(7, (int, float), _range(0, 3650)),
    },
    "motion": {
        "enabled": _key(True, bool),
        "analyse_fps": _key(10, (int, float), _range(1, 30)),
        "sensitivity": _key(50, int, _range(1, 100)),
        "min_area_percent": _key(0.5, (int, float), _range(0.01, 100)),
        # Per camera, rectangles [x, y, width, height] in percent of the picture to ignore.
        "masks": _key([], list, (_is_mask_list, "a list per camera of [x, y, width, height] rectangles "
                                                "in percent, e.g. [[[0, 0, 30, 20]], []]")),
        "pre_seconds": _key(2.0, (int, float), _range(0, 60)),
        "post_seconds": _key(5.0, (int, float), _range(0.5, 600)),
        "webhook_url": _key("", str, (lambda v: v == "" or v.startswith(("http://", "https://")),
                                      "empty (off) or an http:// or https:// URL")),
    },
    "paths": {
        "run_dir": _key("run", str),
        "log_dir": _key("logs", str),
    },
}


class Section:
    """Attribute access to one validated section: ``cfg.recorder.segment_seconds``."""

    def __init__(self, name: str, values: dict[str, Any]) -> None:
        self._name = name
        self.__dict__.update(values)

    if TYPE_CHECKING:
        # The attributes are the section's keys, validated by SCHEMA when it was loaded.
        def __getattr__(self, key: str) -> Any: ...

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    def __repr__(self) -> str:
        return f"Section({self._name}, {self.as_dict()})"


class Config:
    def __init__(self, values: dict[str, dict[str, Any]], source: str) -> None:
        self.source = source  # where the file part came from, for the log
        self.camera = Section("camera", values["camera"])
        self.ring = Section("ring", values["ring"])
        self.streamer = Section("streamer", values["streamer"])
        self.recorder = Section("recorder", values["recorder"])
        self.security = Section("security", values["security"])
        self.motion = Section("motion", values["motion"])
        self.paths = Section("paths", values["paths"])

    def path(self, value: str) -> Path:
        """A configured path; relative ones are relative to the repo root."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else REPO_ROOT / p

    @property
    def run_dir(self) -> Path:
        return self.path(self.paths.run_dir)

    @property
    def recordings_root(self) -> Path:
        return self.path(self.recorder.root)

    def camera_source(self, cam: int) -> str:
        sources = self.camera.sources
        return sources[cam] if cam < len(sources) else self.camera.source

    def camera_name(self, cam: int) -> str:
        names = self.camera.names
        return names[cam] if cam < len(names) else f"CAM {cam}"

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return {s: getattr(self, s).as_dict() for s in SCHEMA}


def _type_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {int: "integer", float: "number", str: "string", bool: "true/false", list: "list"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _validate(section: str, key: str, value: Any, origin: str) -> Any:
    spec = SCHEMA[section][key]
    kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
    # bool is an int in Python; do not let `true` pass as a number or 1 as a bool.
    ok_type = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
    if not ok_type:
        raise ConfigError(f"{section}.{key} = {value!r} ({origin}): expected {_type_name(spec.kind)}")
    if spec.check is not None and not spec.check(value):
        raise ConfigError(f"{section}.{key} = {value!r} ({origin}): allowed values are {spec.allowed}")
    return value


def _parse_env_value(section: str, key: str, raw: str) -> Any:
    """Environment values are text; read them as the key's type."""
    spec = SCHEMA[section][key]
    kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
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
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = [part.strip() for part in raw.split(",") if part.strip()]
        return value
    for kind in (int, float):
        if kind in kinds:
            try:
                return kind(raw)
            except ValueError:
                continue
    return raw


def _merge(values: dict[str, dict[str, Any]], data: dict[str, Any], origin: str) -> None:
    for section, table in data.items():
        if section not in SCHEMA:
            raise ConfigError(f"unknown section [{section}] ({origin}): allowed sections are "
                              f"{', '.join(SCHEMA)}")
        if not isinstance(table, dict):
            raise ConfigError(f"[{section}] ({origin}): expected a table of keys")
        for key, value in table.items():
            if key not in SCHEMA[section]:
                raise ConfigError(f"unknown key {section}.{key} ({origin}): allowed keys are "
                                  f"{', '.join(SCHEMA[section])}")
            values[section][key] = _validate(section, key, value, origin)


def config_file_path(environ: dict[str, str]) -> Path | None:
    explicit = environ.get("SHT_CONFIG")
    if explicit:
        return Path(explicit)
    default = REPO_ROOT / "sht.toml"
    return default if default.exists() else None


def load(environ: dict[str, str] | None = None) -> Config:
    """Defaults, then the file, then the environment; raises ConfigError."""
    env = dict(os.environ if environ is None else environ)
    values = {s: {k: spec.default for k, spec in keys.items()} for s, keys in SCHEMA.items()}
    source = "defaults"

    path = config_file_path(env)
    if path is not None:
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"SHT_CONFIG = {str(path)!r}: file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        _merge(values, data, str(path))
        source = str(path)

    overrides: dict[str, dict[str, Any]] = {}
    for name, raw in sorted(env.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        parts = name[len(ENV_PREFIX):].lower().split("__")
        if len(parts) != 2 or not all(parts):
            raise ConfigError(f"{name}: environment overrides are named SHT__<SECTION>__<KEY>")
        section, key = parts
        if section not in SCHEMA:
            raise ConfigError(f"unknown section [{section}] ({name}): allowed sections are {', '.join(SCHEMA)}")
        if key not in SCHEMA[section]:
            raise ConfigError(f"unknown key {section}.{key} ({name}): allowed keys are "
                              f"{', '.join(SCHEMA[section])}")
        overrides.setdefault(section, {})[key] = _parse_env_value(section, key, raw)
    _merge(values, overrides, "environment")

    _check_relations(values)
    return Config(values, source)


def _check_relations(values: dict[str, dict[str, Any]]) -> None:
    rec = values["recorder"]
    if rec["free_target_gb"] < rec["free_floor_gb"]:
        raise ConfigError(f"recorder.free_target_gb = {rec['free_target_gb']!r}: allowed values are "
                          f"numbers >= recorder.free_floor_gb ({rec['free_floor_gb']!r})")


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
