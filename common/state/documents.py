"""The status documents on the board (:mod:`common.state.board`): each one's name and keys.

Producers build them as these types; the JSON on disk is the same dict.  A key that a
producer always writes is required; one that only some producers (or some states) write
is ``NotRequired``.  A new key must be ``NotRequired``, for a reader meets documents that
older versions wrote.

Documents published every second (the recorders', the motion process's) are kept in memory
(:mod:`common.state.volatile`), the others in the run folder: :func:`every_second` says which.

Read back from disk, a document is untrusted (an older version, a hand edit): the board's
typed reads keep only keys whose values have the declared type (:mod:`common.state.conform`),
but any key may be missing, so readers use ``doc.get(key, default)``.  Only ``age_s``,
which the board adds on every read, is always there.
"""
from typing import Literal, NotRequired, TypedDict


class Stamped(TypedDict):
    """What the board adds: the producer never writes these."""

    published_at: NotRequired[float]   # time.time() of the publish
    age_s: NotRequired[float]          # seconds since published_at, set on every read


# -- capture-cam{N}: the capture process, when its state changes --------------------------------
CaptureState = Literal["starting", "live", "not connected", "off", "error"]


def capture_status_name(camera: int) -> str:
    return f"capture-cam{camera}"


class CaptureStatus(Stamped):
    camera: int
    pid: int
    state: CaptureState
    reason: str        # why: the source chosen, or what went wrong
    source: str        # the source kind (synthetic, picamera2...); "" before one is chosen
    reason_code: NotRequired[str]   # why, as a code the page says in its language (camreason.* keys)


# -- recorder-cam{N}: a recorder, once a second ------------------------------------------------
RecorderState = Literal["recording", "paused", "waiting", "error", "stopped"]


RECORDER_STATUS = "recorder-cam"


def recorder_status_name(camera: int) -> str:
    return f"{RECORDER_STATUS}{camera}"


class SegmentEntry(TypedDict):
    """A finished segment (``recent_segments``) or one finished after a crash (``recovered_files``)."""

    file: str                       # relative to the recordings root
    frames: int
    duration_s: float
    bytes: int
    first_index: NotRequired[int]   # pyav: ring indexes of its first and last frame
    last_index: NotRequired[int]
    dropped: NotRequired[int]       # pyav: frames lost inside it
    closed_because: NotRequired[str]
    playable: NotRequired[bool]     # recovered by the pyav engine: whether it decodes


class DeletedSegment(TypedDict):
    file: str
    bytes: int
    reason: str                # why something went: free space, quota, age
    at: float
    rule: NotRequired[str]     # why this one (oldest outside the window, events over their share...)


class RetentionKept(TypedDict):
    """What the archive holds under the retention rule (``retention_kept``)."""

    continuous_h: float        # the camera with the least: recorded hours back to its newest segment that went
    events_days: float | None  # age of the oldest event segment kept, the window's too (None: none)
    event_percent: float       # event segments beyond the window, in percent of the recordings' bytes
    window_cut: bool           # free space took segments of the continuous window


class ClockStep(TypedDict):
    step_s: float
    at: float


class EngineStatus(TypedDict):
    """The recording engine's own fields (``RecorderEngine.engine_status``)."""

    recording: bool
    encoder: str
    current_file: str | None
    frames_dropped: int
    # pyav only
    waiting_for: NotRequired[str]
    encoder_why: NotRequired[str]
    current_frames: NotRequired[int]
    frames_dropped_today: NotRequired[int]
    clock_steps: NotRequired[int]               # since the recorder started
    clock_steps_24h: NotRequired[int]           # of those, in the last 24 h: what health warns about
    last_clock_step: NotRequired[ClockStep | None]
    # rpicam-vid only
    rpicam_pid: NotRequired[int | None]
    rpicam_restarts: NotRequired[int]


class RetentionStatus(TypedDict):
    """Free space and retention (``DiskGuard.status``)."""

    disk_free_bytes: int
    disk_warning: bool
    disk_error: str
    retention: bool
    retention_deleted_count: int
    retention_deleted_bytes: int
    retention_deleted: list[DeletedSegment]
    retention_state: str
    retention_undeletable: int
    retention_code: NotRequired[str]                # retention_state as a code: ok | floor | window | locked
    retention_rule: NotRequired[str]                # which rule binds, e.g. "keeping 31 h continuous and ..."
    retention_kept: NotRequired[RetentionKept | None]


class RecorderStatus(EngineStatus, RetentionStatus, Stamped):
    camera: int
    pid: int
    engine: str
    state: RecorderState
    enabled: bool
    segment_seconds: int
    segments_written: int
    frames_written: int
    last_error: str
    last_error_code: NotRequired[str]   # the last error as a code the page says in its language (recerror.*)
    last_error_at: float | None
    started_at: float                   # time.time() when this recorder process started
    recovered_files: list[SegmentEntry]
    recent_segments: list[SegmentEntry]


# -- motion: the motion process, once a second --------------------------------------------------
MOTION_STATUS = "motion"


class EventProgress(TypedDict):
    """How far an open motion event has come (the events database has it only once a minute)."""

    event_id: int
    last_wall: float
    last_mono: float
    peak_area: float
    bbox: list[float] | None
    peak_wall: float


class MotionCamera(TypedDict):
    open: bool                  # an event is open now
    event_id: int | None
    area_percent: float         # of the last analysed frame
    frames: int
    events: int
    ring_error: str
    progress: NotRequired[EventProgress | None]   # of the open event


class WebhookCounts(TypedDict):
    sent: int
    failed: int


class MotionStatus(Stamped):
    pid: int                    # 0 once it stopped
    cameras: dict[str, MotionCamera]
    webhook: WebhookCounts | None
    db_error: str


# -- offsite: the off-site uploader, once a second while configured ------------------------------
OFFSITE_STATUS = "offsite"
OffsiteState = Literal["off", "sending", "up to date", "error", "waiting"]
OffsiteCause = Literal["auth", "network", "quota", "other"]


class OffsiteCamera(TypedDict):
    newest_file: str | None        # the newest segment off-site (by start), relative to the recordings root
    newest_start: float | None
    lag_s: float                   # now minus the start of the oldest segment still waiting (0: none waits)
    backlog_segments: int
    backlog_bytes: int


class OffsiteStatus(Stamped):
    pid: int                       # 0 once it stopped
    enabled: bool                  # offsite.remote is set
    remote: str                    # offsite.remote without its secrets (offsite.remote_label)
    mode: str
    state: OffsiteState
    cameras: dict[str, OffsiteCamera]
    sent_segments: int             # since the uploader started
    sent_bytes: int
    last_sent_at: float | None     # when the remote last confirmed a segment (kept across restarts)
    lost_before_upload: int        # segments deleted (free-space floor) before they were sent
    last_error: str
    last_error_cause: OffsiteCause | None
    last_error_at: float | None
    max_lag_minutes: float


def every_second(name: str) -> bool:
    """Is document ``name`` published every second (and so kept in memory, not on the SD card)?"""
    return name in (MOTION_STATUS, OFFSITE_STATUS) or name.startswith(RECORDER_STATUS)


# -- the streamer's own: the last control action, the last single camera -----------------------
LAST_CONTROL = "streamer-last-control"   # for /api/status
LAST_CAMERA = "streamer-last-camera"     # the camera to return to when dual view goes off

# "from" is a Python keyword, hence the functional form for the keys.
_ControlKeys = TypedDict("_ControlKeys", {"action": str, "by": str, "from": str, "at": float})


class LastControl(_ControlKeys, Stamped):
    """Who did what, from which address, when."""


class LastCamera(Stamped):
    camera: int
