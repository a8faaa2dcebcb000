"""Every configuration key, declared once: its section, type, default and rule.

Each ``[section]`` is a frozen dataclass; a key is a field whose annotation gives its
type (``int``; ``float`` also takes integers; ``str``; ``bool``; a list), optionally with
its :class:`Rule` in ``Annotated[...]``, and whose default is the built-in value.  A key
without a rule accepts any value of its type.  :class:`Config` lists the sections in the
order messages name them.  The loader's table (``common.config.SCHEMA``) is derived from
these classes.
"""
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Annotated, Any, TypeVar

REPO_ROOT = Path(__file__).resolve().parent.parent.parent


# -- rules: what a value may be beyond its type -------------------------------------------------
@dataclass(frozen=True)
class Rule:
    check: Callable[[Any], bool]
    allowed: str   # what is allowed, in the words of the error message


def one_of(*values: str) -> Rule:
    return Rule(lambda v: v in values, " | ".join(values))


def between(lo: float, hi: float) -> Rule:
    return Rule(lambda v: bool(lo <= v <= hi), f"a number from {lo:g} to {hi:g}")


def is_str_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def is_network_list(v: Any) -> bool:
    import ipaddress  # only when the file or environment sets such a key
    if not is_str_list(v):
        return False
    try:
        for x in v:
            ipaddress.ip_network(x, strict=False)
    except ValueError:
        return False
    return True


def is_host_list(v: Any) -> bool:
    return is_str_list(v) and all(x != "" and all(c.isalnum() or c in "-._*" for c in x) for x in v)


def is_rect(v: Any) -> bool:
    """``[x, y, width, height]`` in percent of the picture, inside it and not empty."""
    if not (isinstance(v, list) and len(v) == 4):
        return False
    if not all(isinstance(n, (int, float)) and not isinstance(n, bool) and 0 <= n <= 100 for n in v):
        return False
    return bool(v[0] + v[2] <= 100 and v[1] + v[3] <= 100 and v[2] > 0 and v[3] > 0)


def is_mask_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(cam, list) and all(is_rect(r) for r in cam) for cam in v)


T = TypeVar("T")


def listed(*items: T) -> list[T]:
    """A list default: every loaded configuration gets a list of its own."""
    return field(default_factory=lambda: list(items))


SOURCES = ("auto", "synthetic", "picamera2", "file", "v4l2")
# Loopback, the private IPv4 ranges, link-local, IPv6 ULA and link-local.
DEFAULT_ALLOW = ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                 "169.254.0.0/16", "fc00::/7", "fe80::/10"]


# -- the sections --------------------------------------------------------------------------------
# Frozen: no process changes its configuration.  eq=False: a loaded configuration is one
# object, compared and hashed by identity (a generated hash would fail on the list values).
@dataclass(frozen=True, eq=False)
class Section:
    """One validated ``[section]``: ``cfg.recorder.segment_seconds``."""

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, eq=False)
class CameraSection(Section):
    source: Annotated[str, one_of(*SOURCES)] = "auto"
    # Per camera, overriding `source` (e.g. a Pi camera and a USB webcam); empty: `source` for all.
    sources: Annotated[list[str], Rule(lambda v: is_str_list(v) and all(x in SOURCES for x in v),
                                       f"a list of {' | '.join(SOURCES)}, one per camera")] = listed()
    fps: Annotated[int, between(1, 120)] = 30
    count: Annotated[int, between(1, 2)] = 2
    # Shown on the page and drawn on the picture; unset: "Camera 0" / "카메라 0" on the page
    # (in its language) and "CAM 0" on the picture.
    names: Annotated[list[str], Rule(is_str_list, "a list of strings")] = listed()
    overlay: bool = True
    files: Annotated[list[str], Rule(is_str_list, "a list of video file paths, one per camera")] = listed()
    v4l2_devices: Annotated[list[str], Rule(is_str_list, "a list of device paths")] = \
        listed("/dev/video0", "/dev/video2")
    capture_timeout: Annotated[float, between(0.1, 30)] = 2.0
    # A camera that is not connected is looked for again this often (by a fresh process).
    absent_retry_seconds: Annotated[float, between(1, 3600)] = 60.0
    # No frame published for this long (a hung camera stack): the capture process exits.
    watchdog_seconds: Annotated[float, between(1, 600)] = 5.0
    # Synthetic source only: "still" is a still camera's view with a slow lighting ramp and a
    # figure crossing it every synthetic_motion_every seconds (0: nobody); "street" pans over
    # a street with a vehicle always passing (motion all the time).
    synthetic_scene: Annotated[str, one_of("still", "street")] = "still"
    synthetic_motion_every: Annotated[float, Rule(lambda v: v == 0 or 10 <= v <= 86400,
                                                  "0 (nobody passes) or a number of seconds from 10 to 86400")] = 60
    # Pi cameras with a focusing lens (Camera Module 3): continuous autofocus, a fixed lens
    # position (`lens_position`, dioptres: 0 is infinity, 2 is half a metre), or the lens left
    # where libcamera puts it.  Cameras without autofocus ignore both.
    autofocus: Annotated[str, one_of("continuous", "manual", "off")] = "continuous"
    lens_position: Annotated[float, between(0, 32)] = 0.0
    # Pi cameras pinned to a connector, one per camera: the camera's libcamera Id or a part of
    # it such as "i2c@80000" (the Pi 5's CAM1); "" or missing: by number, as libcamera sorts them.
    ids: Annotated[list[str], Rule(is_str_list, "a list of camera Ids or Id parts, one per camera")] = listed()


@dataclass(frozen=True, eq=False)
class RingSection(Section):
    prefix: Annotated[str, Rule(lambda v: v != "" and all(c.isalnum() or c in "_-." for c in v),
                                "letters, digits, '_', '-' or '.' (not empty)")] = "sht_"
    # The hd ring is read in order by the recorder: its slots are the recorder's slack (8 at
    # 30 fps: 267 ms).  The sd ring is read only for its newest frame (live view, motion), so
    # fewer slots do: 4 keep a frame 100 ms after the next one comes, and 3.7 MB less shared memory.
    slots: Annotated[int, between(3, 64)] = 8
    sd_slots: Annotated[int, between(3, 64)] = 4
    stale_seconds: Annotated[float, between(0.2, 60)] = 2.0


@dataclass(frozen=True, eq=False)
class StreamerSection(Section):
    host: str = "0.0.0.0"
    port: Annotated[int, between(1, 65535)] = 8001
    workers: Annotated[int, between(1, 8)] = 1
    max_clients_per_resolution: Annotated[int, between(1, 64)] = 2
    max_h264_clients: Annotated[int, between(1, 64)] = 4   # addresses watching /live/{camera}.mp4
    jpeg_quality: Annotated[int, between(10, 100)] = 80
    default_view: Annotated[str, one_of("dual", "0", "1")] = "dual"
    default_resolution: Annotated[str, one_of("480p", "720p")] = "480p"
    keepalive_seconds: Annotated[float, between(0.2, 10)] = 1.0
    # CPU priority of the live view (Unix nice): under load the recorders win.
    nice: Annotated[int, between(0, 19)] = 10
    # Open connections per process; more are answered 503 (the fd limit is raised to fit).
    max_connections: Annotated[int, between(16, 60000)] = 2000
    # Exports of recordings (GET /api/export): the longest range, and how many run at once
    # (one per address; more are answered 429).
    export_max_minutes: Annotated[float, between(1, 1440)] = 60
    max_exports: Annotated[int, between(1, 8)] = 2


@dataclass(frozen=True, eq=False)
class SecuritySection(Section):
    allow: Annotated[list[str], Rule(is_network_list, "a list of CIDR networks, e.g. [\"192.168.1.0/24\"]")] = \
        listed(*DEFAULT_ALLOW)
    hosts: Annotated[list[str], Rule(is_host_list, "a list of host names, e.g. [\"camera.example.org\"]")] = listed()
    trusted_proxies: Annotated[list[str], Rule(is_network_list, "a list of CIDR networks of reverse proxies")] = \
        listed()
    max_streams_per_address: Annotated[int, between(1, 64)] = 4
    # Open connections per address and worker (429 past it), at most a quarter of streamer.max_connections.
    max_connections_per_address: Annotated[int, between(1, 60000)] = 32


@dataclass(frozen=True, eq=False)
class RecorderSection(Section):
    root: str = "videos/cam_rec"
    # The mount point of the disk the recordings go to (a USB disk, NFS): nothing is recorded
    # while it is not mounted there.  Empty: the root is used wherever it is.
    require_mount: Annotated[str, Rule(lambda v: v == "" or v.startswith("/"),
                                       "empty (off) or an absolute path, e.g. \"/mnt/usb\"")] = ""
    engine: Annotated[str, one_of("pyav", "rpicam-vid")] = "pyav"
    encoder: Annotated[str, one_of("auto", "libx264", "h264_v4l2m2m")] = "auto"
    segment_seconds: Annotated[int, between(1, 3600)] = 30
    align_to_clock: bool = True
    # The encoder's defaults were chosen on real footage with a Pi 5's CPU in mind
    # (tests/bench/storage_bench.py; the figures are in the README): superfast at CRF 27 keeps a
    # busy scene under 2 Mbit/s at SSIM 0.98; zerolatency keeps the live view's frames from
    # waiting in the encoder (no B-frames, no lookahead).
    preset: Annotated[str, one_of("ultrafast", "superfast", "veryfast", "faster", "fast", "medium",
                                  "slow")] = "superfast"
    tune: Annotated[str, one_of("zerolatency", "film", "animation", "grain", "stillimage", "fastdecode",
                                "none")] = "zerolatency"
    crf: Annotated[int, between(0, 51)] = 27
    # The cap (VBV: libx264's maxrate, with a buffer of VBV_SECONDS of it): a scene busier than
    # any measured cannot take more than this, on the card or on a low-data viewer's line.  0: no cap.
    max_bitrate_kbps: Annotated[int, between(0, 100000)] = 2000
    threads: Annotated[int, between(0, 16)] = 1   # libx264 threads; 0 lets it choose
    sync_seconds: Annotated[float, between(0, 60)] = 1.0   # fdatasync the open segment; 0: never
    # Longer saves space on a still scene; a low-data viewer starts at the newest keyframe.
    keyframe_seconds: Annotated[float, between(0.1, 10)] = 2.0
    disk_warn_gb: Annotated[float, between(0, 100000)] = 1.0
    retention: bool = True
    free_floor_gb: Annotated[float, between(0, 100000)] = 1.0
    free_target_gb: Annotated[float, between(0, 100000)] = 1.5
    quota_gb: Annotated[float, between(0, 1000000)] = 0.0
    max_age_days: Annotated[int, between(0, 36500)] = 0
    check_seconds: Annotated[float, between(0.5, 10)] = 10.0
    rpicam_vid: str = "rpicam-vid"
    pause_max_minutes: Annotated[float, between(0, 525600)] = 60   # 0: a pause lasts until resumed
    # Retention: the newest this many hours of each camera's recorded time are never deleted
    # (unless nothing else is left and the free-space floor forces it).  Beyond them, segments
    # that hold a motion event are kept while all of them take at most event_share_percent of
    # the recordings' bytes and are younger than event_keep_days; everything else goes oldest first.
    keep_continuous_hours: Annotated[float, between(0, 87600)] = 24
    event_share_percent: Annotated[float, between(0, 100)] = 40
    event_keep_days: Annotated[float, between(0, 3650)] = 30

    def gop(self, fps: int) -> int:
        """Frames from one keyframe to the next at ``fps``."""
        return max(1, round(fps * self.keyframe_seconds))


@dataclass(frozen=True, eq=False)
class MotionSection(Section):
    enabled: bool = True
    analyse_fps: Annotated[float, between(1, 30)] = 10
    sensitivity: Annotated[int, between(1, 100)] = 50
    min_area_percent: Annotated[float, between(0.01, 100)] = 0.5
    # Per camera, rectangles [x, y, width, height] in percent of the picture to ignore.
    masks: Annotated[list[list[list[float]]],
                     Rule(is_mask_list, "a list per camera of [x, y, width, height] rectangles in percent, "
                                        "e.g. [[[0, 0, 30, 20]], []]")] = listed()
    pre_seconds: Annotated[float, between(0, 60)] = 2.0
    post_seconds: Annotated[float, between(0.5, 600)] = 5.0
    # Motion longer than this is cut into consecutive events (a busy hour stays searchable).
    max_event_seconds: Annotated[float, between(10, 3600)] = 300.0
    webhook_url: Annotated[str, Rule(lambda v: v == "" or v.startswith(("http://", "https://")),
                                     "empty (off) or an http:// or https:// URL")] = ""


def is_bwlimit(v: Any) -> bool:
    """rclone's --bwlimit: a rate ("off", "4M", "512k:off"), or a day schedule of
    ``[day-]HH:MM,rate`` entries separated by spaces ("08:00,512k 19:00,off")."""
    import re  # only when the file or environment sets such a key
    rate = r"(off|\d+(\.\d+)?[bBkKMGTP]?)(:(off|\d+(\.\d+)?[bBkKMGTP]?))?"
    entry = rf"((Mon|Tue|Wed|Thu|Fri|Sat|Sun)-)?([01]\d|2[0-3]):[0-5]\d,{rate}"
    return isinstance(v, str) and (v == "" or re.fullmatch(rate, v) is not None
                                   or (all(re.fullmatch(entry, part) for part in v.split()) and v.strip() != ""))


@dataclass(frozen=True, eq=False)
class OffsiteSection(Section):
    # Any rclone remote path the owner set up with `rclone config` ("nas:cctv") or an on-the-fly
    # one (":sftp,host=nas.local,user=cam:cctv", ":local:/mnt/usb/cctv").  Empty: no off-site copies.
    remote: str = ""
    # Which segments go: those holding a motion event only, or all (event segments first).
    mode: Annotated[str, one_of("events", "all")] = "all"
    # rclone's --bwlimit, e.g. "1M" or a day schedule "08:00,256k 19:00,2M"; empty: no limit.
    bwlimit: Annotated[str, Rule(is_bwlimit, "empty (no limit), an rclone rate such as \"1M\", or a day "
                                             "schedule such as \"08:00,256k 19:00,off\"")] = ""
    keep_days: Annotated[int, between(0, 36500)] = 0   # segments older than this are deleted on the remote; 0: kept
    # Health warns when the oldest segment waiting is older than this.
    max_lag_minutes: Annotated[float, between(1, 525600)] = 30


@dataclass(frozen=True, eq=False)
class PathsSection(Section):
    run_dir: str = "run"
    log_dir: str = "logs"


@dataclass(frozen=True, eq=False)
class Config:
    """The whole configuration; ``source`` says where the file part came from, for the log."""

    camera: CameraSection
    ring: RingSection
    streamer: StreamerSection
    security: SecuritySection
    recorder: RecorderSection
    motion: MotionSection
    offsite: OffsiteSection
    paths: PathsSection
    source: str = "defaults"

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

    def camera_id(self, cam: int) -> str:
        """The Id (or part of one) camera ``cam`` is pinned to; '' when it goes by number."""
        ids = self.camera.ids
        return ids[cam] if cam < len(ids) else ""

    def camera_name(self, cam: int) -> str:
        """The name drawn on camera ``cam``'s picture."""
        return self.configured_name(cam) or f"CAM {cam}"

    def configured_name(self, cam: int) -> str:
        """Camera ``cam``'s name from the configuration; '' when it has none."""
        names = self.camera.names
        return names[cam] if cam < len(names) else ""

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return {name: section.as_dict() for name, section in self.sections().items()}

    def sections(self) -> dict[str, Section]:
        return {f.name: value for f in fields(self) if isinstance(value := getattr(self, f.name), Section)}
