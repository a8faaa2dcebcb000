"""The recording loop: camera N's hd ring -> back-to-back H.264 MP4 segments.

Frames are read in order (``newest=False``), each one exactly once, so segment k+1 starts
with the frame right after segment k's last.  The loop also honours the pause flag,
asks retention (its own thread) for room when a write fails, and publishes its status about
once a second.

What ends a segment: its boundary (see :mod:`recorder.segments.segmenter`), no frame for more
than ``GAP_S`` (capture died or the camera stalled), a new capture incarnation, a pause,
a write error, or SIGINT/SIGTERM.  In every case the file is closed properly and renamed.

One encoder makes the packets of every segment and of the low-data live view, across
boundaries (:mod:`recorder.encode.keeper`); an ended segment is finished (trailer, frames
check, final name) off the frame path (:mod:`recorder.segments.closer`).
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import av

from common.config import Config
from common.ipc.frame_reader import Frame, RingReader
from common.ipc.names import ring_name
from common.process.memory import trim
from common.state.documents import ClockStep, EngineStatus, RecorderState
from common.video.streams import STREAMS
from recorder.encode import settings as encoder
from recorder.encode.encoder import Encoder
from recorder.encode.frame import InputFrame
from recorder.encode.keeper import EncoderKeeper
from recorder.encode.live import LiveFeed
from recorder.engine import RecorderEngine
from recorder.retention.diskguard import free_bytes_of
from recorder.segments.closer import Closer, Finished
from recorder.segments.recovery import recover
from recorder.segments.segmenter import CaptureWallClock, Segment, local_time
from recorder.segments.syncer import Syncer
from recorder.segments.writer import SegmentFile, is_disk_error

log = logging.getLogger("recorder")

GAP_S = 1.0              # no frame for this long closes the segment at the gap
READ_TIMEOUT_S = 0.2     # how long one wait for a frame lasts (bounds the reaction to a stop)
RETRY_S = 3.0            # after a write error, wait this long before the next segment
IDLE_S = 0.1             # the loop's pace while paused or waiting to retry
CLOCK_STEP_NEWS_NS = 24 * 3600 * 1_000_000_000   # a wall clock step is reported (health warns) this long
CLOCK_STEPS_KEPT = 64    # steps remembered for that count


class Recorder(RecorderEngine):
    engine = "pyav"

    def __init__(self, cfg: Config, camera: int, local: Callable[[int], datetime] = local_time,
                 free_bytes: Callable[[Path], int] = free_bytes_of) -> None:
        super().__init__(cfg, camera, cfg.recorder.align_to_clock, local, free_bytes)
        rc = cfg.recorder
        self.reader = RingReader(ring_name(cfg.ring.prefix, camera, "hd"), cfg.ring.stale_seconds)
        self.capture_wall = CaptureWallClock(window=2 * cfg.camera.fps)
        fps, (width, height) = self.fps, STREAMS["hd"]
        self.settings = encoder.EncoderSettings.of(rc, encoder.SOFTWARE, width, height, fps)
        self.encoder_why = ""
        self.live = LiveFeed(cfg, camera, self.settings.width, self.settings.height)
        self.syncer: Syncer | None = None
        self.closer: Closer | None = None
        self.input = InputFrame()
        self.encoding = EncoderKeeper(self.settings, self.live, camera)
        # the segment being written
        self.seg: Segment | None = None
        self.out: SegmentFile | None = None
        self.last_mono_ns = 0    # capture time of its last frame
        self.seg_first_index = -1
        self.seg_last_index = -1
        self.seg_dropped = 0     # frames lost inside the segment (ring lapped the recorder)
        # continuity of the frame stream
        self.incarnation = 0
        self.expect: int | None = None
        self.retry_at = 0.0
        self.room_asked: int | None = None   # retention's ticket after a write failed for lack of space
        self.frames_dropped = 0
        self.waiting_reason = "starting"
        self.clock_steps = 0
        self.last_clock_step: ClockStep | None = None
        self.clock_steps_at: deque[int] = deque(maxlen=CLOCK_STEPS_KEPT)   # monotonic ns of each step
        self.write_failing = False   # since the last write error, no segment has reached its boundary
        self._drop_day, self._drop_base = "", 0

    # -- main loop -------------------------------------------------------------------------
    def run(self) -> int:
        self.publish()   # "waiting", at once: the page says starting while the encoder and index get ready
        codec, self.encoder_why = encoder.choose(self.cfg.recorder.encoder, self.settings.width,
                                                 self.settings.height, self.settings.fps)
        self.settings = self.encoding.settings = dataclasses.replace(self.settings, codec=codec)
        log.info("camera %d: recording %s to %s in %d s segments; encoder %s (%s)", self.camera,
                 self.reader.name, self.root, self.cfg.recorder.segment_seconds, codec, self.encoder_why)
        if not self.wait_for_disk():
            self.publish(final=True)
            return 0
        self.recovered.extend(recover(self.root, self.camera, self.indexer.finished))
        self.gaplog.add("recorder started")
        self.syncer = Syncer(self.cfg.recorder.sync_seconds)
        self.closer = Closer(self.reconcile())
        self.retention.start()
        trim()
        try:
            while not self.stopping:
                now = time.monotonic()
                self.tick(now)
                self.live.tick()
                self.closer.poll()
                if now < self.retry_at and self.room_asked is not None and self.retention.room_made(self.room_asked):
                    self.retry_at, self.room_asked = now, None   # retention made room: go on at once
                if not self.may_record or now < self.retry_at:
                    self.expect = None  # frames skipped on purpose are not drops
                    if self.live.wanted():
                        self.encoding.encode_newest(self.reader, self.input, READ_TIMEOUT_S)
                    else:
                        self.encoding.stop()   # nothing needs it now
                        time.sleep(IDLE_S)
                    continue
                self._step()
        finally:
            if self.out is not None:
                self._close("stopping")
            self.encoding.stop()
            self.closer.close()
            self.retention.close()
            self.syncer.close()
            self.indexer.close()
            self.live.close()
            self.reader.close()
            self.publish(final=True)
            self.gaplog.add("recorder stopped")
            log.info("camera %d: stopped (%d segments written)", self.camera, self.segments_written)
        return 0

    def pausing(self, why: str) -> None:
        if self.out is not None:
            self._close(why)
        if self.closer is not None:
            self.closer.wait()   # the status that says paused lists the segment it closed

    def _step(self) -> None:
        # In order, each frame once; but after a start, a pause or an error, begin with the
        # newest frame rather than the oldest one the ring still holds.
        frame = self.reader.next_frame(READ_TIMEOUT_S, newest=self.expect is None)
        if frame is None:
            if self.out is not None and (time.monotonic_ns() - self.last_mono_ns) / 1e9 > GAP_S:
                self._close(f"no frame for more than {GAP_S:g} s")
            self.waiting_reason = self.reader.error or "no frames from the capture process"
            return
        try:
            self._record(frame)
        except (OSError, av.FFmpegError) as exc:
            self._fail(exc)

    def _record(self, frame: Frame) -> None:
        picture = self.input.fill(frame)  # the one copy out of the ring
        if not frame.valid():
            # The writer lapped the slot while it was copied.
            if self.expect is not None and frame.incarnation == self.incarnation:
                self._drop(1)
                self.expect = frame.index + 1
            return
        if frame.incarnation != self.incarnation:
            if self.out is not None:
                self._close("the capture process restarted")
            if self.incarnation:
                log.info("camera %d: capture restarted, new segment", self.camera)
                self.gaplog.add("camera restarted")
            self.incarnation, self.expect = frame.incarnation, None
        if self.expect is not None and frame.index > self.expect:
            self._drop(frame.index - self.expect)
        self.expect = frame.index + 1
        wall_ns = self.capture_wall(frame.mono_ns, frame.wall_ns)
        if self.capture_wall.step_ns:
            self._clock_stepped(self.capture_wall.step_ns, wall_ns, frame.mono_ns)
        if self.out is not None:
            # roll: the next segment starts with this frame, and the encoder goes on
            gap = (frame.mono_ns - self.last_mono_ns) / 1e9
            if gap > GAP_S:
                self._close(f"a gap of {gap:.1f} s in the frames", roll=True)
            elif self.capture_wall.step_ns:
                # Names and boundaries follow the wall clock: end the segment at the step, and
                # name the next one by the new time (never over an existing file).
                step_s = self.capture_wall.step_ns / 1e9
                self._close(f"the wall clock stepped by {step_s:+.1f} s", roll=True)
            elif self.seg is not None and self.segmenter.starts_new(self.seg, frame.mono_ns, wall_ns):
                self._close("", roll=True)
            elif not self.encoding.fits(frame):
                self._close("the picture size changed")
        if self.out is None and not self.disk_present():
            return
        enc = self.encoding.for_frame(frame)
        if self.out is None:
            self._open(frame, wall_ns, enc)
        enc.encode(picture, frame.mono_ns, frame.wall_ns)
        out = self.out
        assert out is not None   # opened just above
        if out.error is not None:
            raise out.error
        self.last_mono_ns = frame.mono_ns
        self.seg_last_index = frame.index
        self.frames_written += 1

    def _clock_stepped(self, step_ns: int, wall_ns: int, mono_ns: int) -> None:
        """The wall clock stepped by ``step_ns``, seen in the frame captured at ``mono_ns``."""
        self.clock_steps += 1
        self.clock_steps_at.append(mono_ns)
        self.last_clock_step = {"step_s": round(step_ns / 1e9, 3), "at": round(wall_ns / 1e9, 3)}
        log.warning("camera %d: the wall clock stepped by %+.3f s (now %s)", self.camera, step_ns / 1e9,
                    local_time(wall_ns).isoformat(timespec="seconds"))
        self.gaplog.add("clock step", at=wall_ns / 1e9, step_s=round(step_ns / 1e9, 3))

    def _drop(self, count: int) -> None:
        self.frames_dropped += count
        if self.out is not None:
            self.seg_dropped += count

    # -- segments --------------------------------------------------------------------------
    def _open(self, frame: Frame, wall_ns: int, enc: Encoder) -> None:
        seg = self.segmenter.begin(frame.mono_ns, wall_ns)
        part = self.root / seg.part_rel_path
        comment = f"camera={self.camera} first_index={frame.index} incarnation={frame.incarnation}"
        self.out = SegmentFile(part, enc, comment)
        enc.add(self.out)   # from the next frame on, which is made a keyframe
        self.seg, self.seg_first_index, self.seg_dropped = seg, frame.index, 0
        assert self.syncer is not None   # made by run(), which alone opens segments
        self.syncer.watch(part)

    def _close(self, reason: str, roll: bool = False) -> None:
        """End the current segment; the closer finishes its file once the encoder is done with it.

        ``roll``: the next segment starts with the next frame, so the encoder goes on and gives
        this one its last packets then.  Otherwise no frame may follow: they are drained now."""
        out, seg = self.out, self.seg
        self.out = self.seg = None
        # run() made these and opened the segment, which is all that calls this
        assert out is not None and seg is not None and self.syncer is not None and self.closer is not None
        self.syncer.watch(None)
        ended = functools.partial(self._finished, seg.first_wall_ns, self.seg_first_index, self.seg_last_index,
                                  self.seg_dropped, reason or "segment boundary")
        enc = self.encoding.encoder
        assert enc is not None   # it encoded this segment's frames
        enc.end(out)
        self.closer.add(out, self.root / seg.rel_path, ended)
        if not roll and enc.holds_frames:
            self.encoding.stop()
            self.closer.poll()

    def _finished(self, first_wall_ns: int, first_index: int, last_index: int, dropped: int, reason: str,
                  done: Finished) -> None:
        """A segment's file was finished (in the worker): count it and report it."""
        for error in done.errors:
            self.note_error(error, "write")
        if done.why_short:
            self.frames_dropped += done.frames - done.on_disk
            if done.path is None:   # not one frame reached the disk: the file was removed
                self.note_error(f"a segment was lost: none of its {done.frames} frames reached the disk "
                                f"({done.why_short})", "lost_segment")
            else:
                self.note_error(f"{done.path.relative_to(self.root)}: only {done.on_disk} of {done.frames} frames "
                                f"reached the disk ({done.why_short})", "short_segment")
            self.retention.ask_room()
        if done.path is None:
            return
        rel = str(done.path.relative_to(self.root))
        self.segments_written += 1
        if reason == "segment boundary":
            self.write_failing = False   # a whole segment written: a next error is news again
        self.segment_done(done.path, first_wall_ns / 1e9, done.kept_s, done.size)
        self.recent.append({"file": rel, "frames": done.frames, "first_index": first_index,
                            "last_index": last_index, "dropped": dropped, "duration_s": round(done.duration_s, 3),
                            "bytes": done.size, "closed_because": reason})
        # A line for every 30 s segment would be 2,880 a day, each a page written to the SD card:
        # the first one after a start and the unusual ones are enough (the index lists them all).
        usual = reason == "segment boundary" and not dropped and self.segments_written > 1
        log.log(logging.DEBUG if usual else logging.INFO, "segment %s: %d frames, %.2f s, %d bytes%s", rel,
                done.frames, done.duration_s, done.size, "" if reason == "segment boundary" else f" (closed: {reason})")

    def _fail(self, exc: BaseException) -> None:
        """A write error: close what was written, make room or wait, then try again."""
        where = str(self.seg.rel_path) if self.seg is not None else "a new segment"
        if self.out is not None:
            self._close("write error")
        self.encoding.stop()
        if self.closer is not None:
            self.closer.wait()
        self.note_error(f"writing {where}: {type(exc).__name__}: {exc}", "write")  # the cause stays the last error
        if not self.write_failing:   # the gap's cause; once for a run of failures, not every retry
            self.write_failing = True
            self.gaplog.add("write error", error=getattr(exc, "strerror", None) or str(exc))
        sooner = ""
        if is_disk_error(exc):
            self.room_asked = self.retention.ask_room()   # (never waited for: its own thread makes room)
            sooner = " (sooner once retention made room)"
        self.retry_at = time.monotonic() + RETRY_S
        log.error("camera %d: recording again in %.0f s%s", self.camera, RETRY_S, sooner)

    # -- status ----------------------------------------------------------------------------
    def state(self) -> RecorderState:
        if not self.enabled:
            return "paused"
        if time.monotonic() < self.retry_at:
            return "error"
        return "recording" if self.out is not None else "waiting"

    def engine_status(self) -> EngineStatus:
        return {
            "recording": self.out is not None,
            "waiting_for": self.waiting_reason if self.out is None and self.enabled else "",
            "encoder": self.settings.codec, "encoder_why": self.encoder_why,
            "current_file": str(self.seg.rel_path) if self.seg is not None else None,
            "current_frames": self.out.frames if self.out else 0, "frames_dropped": self.frames_dropped,
            "frames_dropped_today": self.dropped_today(),
            "clock_steps": self.clock_steps, "last_clock_step": self.last_clock_step,
            "clock_steps_24h": self.recent_clock_steps(),
        }

    def recent_clock_steps(self) -> int:
        """Steps of the wall clock in the last 24 h (judged on the monotonic clock, which no step moves)."""
        since = time.monotonic_ns() - CLOCK_STEP_NEWS_NS
        return sum(1 for at in self.clock_steps_at if at >= since)

    def dropped_today(self) -> int:
        """Frames lost since local midnight (counted by this process)."""
        today = datetime.now().strftime("%Y%m%d")
        if self._drop_day != today:
            self._drop_day, self._drop_base = today, self.frames_dropped
        return self.frames_dropped - self._drop_base
