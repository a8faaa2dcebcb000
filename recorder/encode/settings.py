"""H.264 encoder settings, and the choice between the V4L2 hardware encoder and libx264.

A Pi 4 has a V4L2 H.264 encoder (``h264_v4l2m2m``); a Pi 5 and a PC do not, and use
libx264 with the ``[recorder]`` settings (their defaults are the settings' defaults here).
Every stream declares the rings' colours (full-range BT.601, ``common.video.colour``) in its
VUI, so players neither wash out nor over-darken the picture.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from fractions import Fraction

import av

from common.config.sections import RecorderSection
from common.video import colour

log = logging.getLogger("recorder")

TIME_BASE = Fraction(1, 90000)     # fine enough for capture-time pts
HARDWARE = "h264_v4l2m2m"
SOFTWARE = "libx264"
DEFAULT_HW_KBPS = 4000             # the V4L2 encoder has no CRF: a bitrate is needed
VBV_SECONDS = 2                    # the cap's buffer: a keyframe or a burst may borrow this much


@dataclass(frozen=True)
class EncoderSettings:
    codec: str
    width: int
    height: int
    fps: int
    gop: int                       # frames between keyframes
    preset: str = RecorderSection.preset
    tune: str = RecorderSection.tune
    crf: int = RecorderSection.crf
    max_kbps: int = RecorderSection.max_bitrate_kbps   # 0: no cap
    threads: int = RecorderSection.threads             # 0: let the encoder decide
    options: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, rc: RecorderSection, codec: str, width: int, height: int, fps: int) -> EncoderSettings:
        """The settings ``[recorder]`` asks for."""
        return cls(codec=codec, width=width, height=height, fps=fps, gop=rc.gop(fps), preset=rc.preset,
                   tune=rc.tune, crf=rc.crf, max_kbps=rc.max_bitrate_kbps, threads=rc.threads)

    def configure(self, stream: av.video.stream.VideoStream) -> None:
        """Set up the encoder's stream (before its container starts encoding)."""
        ctx = stream.codec_context
        stream.width, stream.height, stream.pix_fmt = self.width, self.height, "yuv420p"
        stream.time_base = TIME_BASE
        ctx.time_base = TIME_BASE
        ctx.framerate = Fraction(self.fps, 1)
        ctx.gop_size = self.gop
        ctx.color_range = colour.VUI_FULL_RANGE
        ctx.colorspace = colour.VUI_MATRIX
        ctx.color_primaries = colour.VUI_PRIMARIES
        ctx.color_trc = colour.VUI_TRANSFER
        opts: dict[str, str] = {}
        if self.codec == SOFTWARE:
            ctx.thread_count = self.threads
            if self.threads != 1:
                ctx.thread_type = "SLICE"   # frame threads add a frame of latency per thread
            opts.update({"preset": self.preset, "crf": str(self.crf), "keyint_min": str(self.gop),
                         "sc_threshold": "0"})  # keyframes exactly every gop frames
            if self.tune != "none":
                opts["tune"] = self.tune
            if self.max_kbps:
                opts.update({"maxrate": f"{self.max_kbps}k", "bufsize": f"{VBV_SECONDS * self.max_kbps}k"})
        else:
            ctx.bit_rate = (self.max_kbps or DEFAULT_HW_KBPS) * 1000
        opts.update(self.options)
        ctx.options = opts


def hardware_opens(width: int, height: int, fps: int) -> str:
    """'' when the V4L2 encoder opens here, else why it does not."""
    try:
        ctx = av.CodecContext.create(HARDWARE, "w")
        assert isinstance(ctx, av.video.codeccontext.VideoCodecContext)   # a video encoder's context
        ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
        ctx.time_base = TIME_BASE
        ctx.framerate = Fraction(fps, 1)
        ctx.bit_rate = DEFAULT_HW_KBPS * 1000
        ctx.open()
        return ""
    except Exception as exc:  # any failure means: not usable on this machine
        return f"{type(exc).__name__}: {exc}"


def choose(wanted: str, width: int, height: int, fps: int) -> tuple[str, str]:
    """(codec name, why) for ``recorder.encode.settings`` = auto | libx264 | h264_v4l2m2m."""
    if wanted == SOFTWARE:
        return SOFTWARE, "recorder.encode.settings = libx264"
    why_not = hardware_opens(width, height, fps)
    if not why_not:
        return HARDWARE, f"{HARDWARE} opened (hardware encoder)"
    if wanted == HARDWARE:
        log.warning("recorder.encode.settings = %s does not open here (%s); using %s", HARDWARE, why_not, SOFTWARE)
    return SOFTWARE, f"{HARDWARE} does not open here ({why_not}); using {SOFTWARE}"
