"""Finishing ended segments off the recording loop's frame path.

A segment that ended still has work to do: its trailer (the fragment index), a count of
the frames that reached the disk (the muxer does not report a failed write of the last
fragment), its final name, and a sync of its folder so that name survives a power cut.
That takes tens of milliseconds (more on an SD card), and the next segment's frames must
not wait for it: a worker thread does it, one segment at a time, in the order they ended.

Bounded: one finished-with segment waits for the worker at most.  If the worker lags by a
whole segment (a disk that takes seconds), handing over the next one waits for it, so the
recording loop stalls (and the ring may lap it: counted drops) rather than letting work
pile up.  What the worker found goes back to the recording loop, which reports it
(status, log) when it polls.
"""
from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import av

from common.process.memory import trim
from recorder.retention.diskguard import keep_write_order
from recorder.segments.syncer import Syncer, release
from recorder.segments.writer import SegmentFile, finalise, probe

log = logging.getLogger("recorder")


@dataclass
class Finished:
    """What became of an ended segment."""

    path: Path | None = None      # its final name; None when nothing was kept
    frames: int = 0               # packets the muxer took
    on_disk: int = 0              # frames a read of the finished file found
    size: int = 0
    duration_s: float = 0.0
    kept_s: float = 0.0           # the duration that reached the disk
    errors: list[str] = field(default_factory=list)
    why_short: str = ""           # why fewer frames reached the disk than were written


@dataclass
class _Job:
    file: SegmentFile
    final: Path
    then: Callable[[Finished], None]
    handed: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    result: Finished = field(default_factory=Finished)


class Closer:
    """``order_mtime``: modification time of the newest finished file (see :func:`keep_write_order`)."""

    def __init__(self, order_mtime: float) -> None:
        self._order_mtime = order_mtime      # the worker's from now on
        self._ended: deque[_Job] = deque()   # in the order they ended; a few at most (see above)
        self._todo: queue.Queue[_Job | None] = queue.Queue(maxsize=1)
        self._thread = threading.Thread(target=self._run, name="closer", daemon=True)
        self._thread.start()

    def add(self, file: SegmentFile, final: Path, then: Callable[[Finished], None]) -> None:
        """Finish ``file`` under the name ``final`` once the encoder is done with it; ``then``
        gets the outcome in the recording loop.  The next :meth:`poll` hands it over: the
        loop calls it before it waits for a frame, so the worker starts in that wait and
        the boundary frame's encode does not share the CPU with it."""
        self._ended.append(_Job(file, final, then))

    def poll(self) -> None:
        """Hand complete files to the worker; report those it finished (in order)."""
        for job in self._ended:
            if not job.handed:
                if not job.file.complete:
                    break
                self._todo.put(job)   # waits while another one still waits its turn
                job.handed = True
        while self._ended and self._ended[0].done.is_set():
            job = self._ended.popleft()
            job.then(job.result)

    def wait(self) -> None:
        """Return once every ended file is finished and reported (the encoder must be done with them)."""
        while self._ended:
            self.poll()
            if self._ended:
                self._ended[0].done.wait(0.1)

    def close(self) -> None:
        self.wait()
        self._todo.put(None)
        self._thread.join(timeout=10.0)

    def _run(self) -> None:
        while (job := self._todo.get()) is not None:
            try:
                self._finish(job.file, job.final, job.result)
            except Exception as exc:  # never leave the loop waiting for an answer
                job.result.errors.append(f"finishing {job.file.part_path.name}: {type(exc).__name__}: {exc}")
            job.done.set()
            trim()  # the muxer's fragment buffers go back to the OS, not into a growing heap

    def _finish(self, file: SegmentFile, final: Path, out: Finished) -> None:
        part = file.part_path
        out.frames, out.duration_s = file.frames, file.duration_s
        try:
            file.close()
        except (OSError, av.FFmpegError) as exc:
            out.errors.append(f"closing {part.name}: {type(exc).__name__}: {exc}")
            file.abort()
        if file.frames == 0:
            part.unlink(missing_ok=True)  # opened but nothing reached it: no recording to keep
            return
        try:
            release(part)   # the blocks set aside beyond its end (the syncer has moved on)
        except OSError as exc:
            log.warning("%s: the space set aside beyond its end stays: %s", part.name, exc)
        # What really reached the file (demux only): the muxer does not report a failed write
        # of its buffered header or last fragment, and a file without a frame is no recording.
        check = probe(part)
        out.on_disk = check.frames
        out.kept_s = file.duration_s
        if check.frames < file.frames:
            out.why_short = check.error or "its last fragment could not be written: disk full?"
            out.kept_s = check.duration_s
        if not check.frames:
            if not check.disk_error:
                part.unlink(missing_ok=True)   # unplayable: nothing to keep under a segment's name
            return                              # (a read error: the next start looks again)
        try:
            out.path = finalise(part, final)
        except OSError as exc:
            # The temporary file stays; the next start gives it its name.
            out.errors.append(f"renaming {part.name}: {exc}")
            return
        self._order_mtime = keep_write_order(out.path, self._order_mtime)
        Syncer.sync_dir(out.path.parent)   # the new name, and the next segment's file, survive a power cut
        try:
            out.size = out.path.stat().st_size
        except OSError:
            out.size = 0
