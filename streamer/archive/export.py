"""Export of a time range of the recordings: one MP4 per camera, made from the segments as it is sent.

Route (included by the streamer app, which sets ``app.state.cfg``):

* ``GET /api/export?camera=0|1|both&from=2026-12-04T14:02:10&to=2026-12-04T14:03:40``: local
  times (the cameras' time zone, this machine's) in the recordings API's form, seconds
  optional.  One camera gives ``cam0_20261204_140210-140340.mp4``; ``both`` gives one ZIP of
  the two MP4s (stored, not compressed: video does not compress further), so a single
  download carries both and each camera's file stays a plain MP4 to hand over.  With
  ``check=1`` it answers what it would make (``file``, each camera's segments and recorded
  seconds) or the refusal, and makes nothing: the page asks first, then downloads.

The MP4 is the segments' H.264 packets copied (:mod:`streamer.archive.join`): no picture is
decoded or encoded, so an export costs reading the files and little CPU, in the streamer,
whose CPU priority is below the recorders'.  Gaps keep their length; the file's comment names
them.  Nothing is written to disk: the file is made as the client reads it, a fragment at a
time, so a worker killed mid-export leaves nothing behind.

Refusals, JSON: a bad camera or time, ``to`` not after ``from``, a range longer than
``streamer.export_max_minutes`` (400); nothing recorded in the range (404); an export from
the same address still running, or ``streamer.max_exports`` running (429, :mod:`.slots`).
Exporting is reading recordings, like downloading a segment: viewers may.  Each export is
logged and published with who asked for it (:func:`streamer.auth.audit_action`).
"""
from __future__ import annotations

import logging
import zipfile
from collections.abc import AsyncIterator, Generator, Iterator
from contextlib import ExitStack
from datetime import datetime
from typing import TYPE_CHECKING

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Send

from common.archive import segment_name
from common.archive.index import ArchiveIndex, Recording
from common.config import Config
from common.state.board import StatusBoard
from streamer.archive.recordings import archive_of, holes
from streamer.archive.slots import PER_ADDRESS, ExportSlots
from streamer.auth import audit_action, identity
from streamer.errors import error_response, not_found
from streamer.language import language_of
from streamer.params import LOCAL_TIME_SHAPE, ParamError, ParamValueError, cameras, local_time_text, parse_local_time

if TYPE_CHECKING:   # imported where an export is made: the join brings PyAV and libav, about 5 MB
    from streamer.archive.join import Joined

router = APIRouter()
log = logging.getLogger("streamer")

BOTH = "both"
RETRY_AFTER_S = 5
END_FORMAT = "%H%M%S"       # the end of the range in a file name (with the date when it is another day)


def _cfg(request: Request) -> Config:
    cfg: Config = request.app.state.cfg
    return cfg


def parse_cameras(cfg: Config, raw: str | None) -> list[int]:
    """The ``camera`` query: one camera, or ``both``."""
    allowed = cameras(cfg) + ([BOTH] if cfg.camera.count > 1 else [])
    if raw not in allowed:
        raise ParamValueError("camera", raw, allowed, "missing_camera" if raw is None else "bad_value")
    return list(range(cfg.camera.count)) if raw == BOTH else [int(raw)]


def file_name(cams: list[int], start: datetime, end: datetime) -> str:
    """``cam0_20261204_140210-140340.mp4``; both cameras: ``cam0-1_...zip``; the end's date only
    when it is another day."""
    who = f"cam{cams[0]}" if len(cams) == 1 else "cam" + "-".join(str(c) for c in cams)
    until = end.strftime(END_FORMAT if end.date() == start.date() else segment_name.STAMP_FORMAT)
    return f"{who}_{start:{segment_name.STAMP_FORMAT}}-{until}{'.mp4' if len(cams) == 1 else '.zip'}"


def covering(index: ArchiveIndex, camera: int, start: float, end: float) -> list[Recording]:
    """The segments of ``camera`` that hold some of [start, end), by start time."""
    return [r for r in index.ending_after(camera, start) if r.start < end]


def _clock(t: float) -> str:
    return local_time_text(datetime.fromtimestamp(t))


def comment(cfg: Config, camera: int, start: float, end: float, found: list[Recording]) -> str:
    """What the file says about itself: camera, range, time zone, the gaps in it (the
    archive's rule, :func:`streamer.archive.recordings.holes`)."""
    zone = datetime.fromtimestamp(start).astimezone().strftime("UTC%z")
    gaps = [(max(a, start), min(b, end)) for a, b in holes(found)]
    gap_text = "; ".join(f"{_clock(a)} to {_clock(b)} ({b - a:.0f} s)" for a, b in gaps if b > a) or "none"
    return (f"SHT Dual LIVE Camera: {cfg.camera_name(camera)} (camera {camera}), {_clock(start)} to "
            f"{_clock(end)} local time ({zone}); nothing recorded (the last picture is held): {gap_text}")


def zipped(members: list[tuple[str, datetime, Iterator[bytes]]]) -> Generator[bytes, None, None]:
    """A ZIP of ``members`` (name, time, bytes) stored as they come, made as it is read."""
    from streamer.archive.join import Sink
    sink = Sink()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, when, chunks in members:
            info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
            with archive.open(info, "w", force_zip64=True) as entry:
                for chunk in chunks:
                    entry.write(chunk)
                    yield sink.take()
    yield sink.take()


class ExportResponse(StreamingResponse):
    """A streamed export whose chunks are made in the thread pool, and whose making is ended
    (files closed, slot given back) however the response ends: finished, client gone, shutdown."""

    def __init__(self, first: bytes, chunks: Iterator[bytes], makers: list[Generator[bytes, None, None]],
                 slot: ExitStack, headers: dict[str, str], media_type: str, name: str,
                 joined: dict[int, Joined]) -> None:
        self._first, self._chunks, self._makers, self._slot = first, chunks, makers, slot
        self._name, self._joined, self._sent, self._done = name, joined, 0, False
        super().__init__(self._produce(), headers=headers, media_type=media_type)

    async def _produce(self) -> AsyncIterator[bytes]:
        chunk: bytes | None = self._first
        while chunk is not None:
            if chunk:
                yield chunk
                self._sent += len(chunk)
            # Not cancellable: a cancelled response waits for the chunk being made, so
            # nothing is still making one when close() runs.
            chunk = await anyio.to_thread.run_sync(next, self._chunks, None)
        self._done = True

    async def stream_response(self, send: Send) -> None:
        try:
            await super().stream_response(send)
        finally:
            self.close()

    def close(self) -> None:
        self.close_all(self._makers, self._slot)
        frames = sum(j.frames for j in self._joined.values())
        log.info("export of %s %s: %d pictures, %.1f MB sent", self._name,
                 "sent" if self._done else "stopped (the client went away or the streamer is stopping)",
                 frames, self._sent / 1e6)

    @staticmethod
    def close_all(makers: list[Generator[bytes, None, None]], slot: ExitStack) -> None:
        """Stop making (each generator's files closed) and give the slot back."""
        try:
            for maker in makers:
                maker.close()
        finally:
            slot.close()


def _refused(why: str, cfg: Config, lang: str) -> JSONResponse:
    headers = {"Retry-After": str(RETRY_AFTER_S)}
    if why == PER_ADDRESS:
        return error_response(429, "export_per_address", lang, headers, reason="per_address",
                              retry_after_s=RETRY_AFTER_S)
    return error_response(429, "exports_busy", lang, headers, say={"n": cfg.streamer.max_exports},
                          reason="all_taken", setting="streamer.max_exports", retry_after_s=RETRY_AFTER_S)


def check_range(cfg: Config, start: datetime, end: datetime, raw_to: str | None) -> None:
    longest = cfg.streamer.export_max_minutes
    allowed = [f"{LOCAL_TIME_SHAPE}, after from and at most {longest:g} min after it"]
    seconds = end.timestamp() - start.timestamp()
    if seconds <= 0:
        raise ParamValueError("to", raw_to, allowed, "to_before_from")
    if seconds > longest * 60:
        raise ParamValueError("to", raw_to, allowed, "range_too_long", minutes=f"{seconds / 60:g}",
                              longest=f"{longest:g}")


@router.get("/api/export", response_model=None)
def export(request: Request, camera: str | None = None, from_: str | None = Query(None, alias="from"),
           to: str | None = None, check: str | None = None) -> Response:
    cfg, lang = _cfg(request), language_of(request.headers)
    try:
        cams = parse_cameras(cfg, camera)
        start_dt, end_dt = parse_local_time("from", from_), parse_local_time("to", to)
        check_range(cfg, start_dt, end_dt, to)
    except ParamError as exc:
        return exc.response(request)
    start, end = start_dt.timestamp(), end_dt.timestamp()
    index = archive_of(request)
    index.refresh()
    found = {cam: recs for cam in cams if (recs := covering(index, cam, start, end))}
    if not found:
        return not_found("nothing_recorded", lang, start=local_time_text(start_dt), end=local_time_text(end_dt))
    name = file_name(cams, start_dt, end_dt)   # "both" is a ZIP, even of the one camera that recorded
    if check not in (None, "", "0", "false"):
        return JSONResponse({"file": name, "cameras": {str(cam): {
            "segments": len(recs), "recorded_s": round(sum(min(r.start + (r.duration or 0.0), end) - max(r.start, start)
                                                           for r in recs), 1)} for cam, recs in found.items()}})
    slot = ExportSlots(cfg.run_dir, cfg.streamer.max_exports).take(identity(request).address)
    if isinstance(slot, str):
        return _refused(slot, cfg, lang)
    from streamer.archive.join import Joined, Piece, join
    joined = {cam: Joined() for cam in found}
    makers = [join([Piece(index.root / r.file, r.start) for r in recs], start, end,
                   comment(cfg, cam, start, end, recs), joined[cam]) for cam, recs in found.items()]
    chunks = makers[0] if len(cams) == 1 else zipped(
        [(file_name([cam], start_dt, end_dt), start_dt, maker) for cam, maker in zip(found, makers, strict=True)])
    makers.append(chunks)
    try:
        first = next(chunks, None)   # before the headers: a range whose files hold no picture is a 404
    except BaseException:
        ExportResponse.close_all(makers, slot)
        raise
    if first is None or not any(j.frames for j in joined.values()):
        ExportResponse.close_all(makers, slot)
        return not_found("nothing_readable", lang, start=local_time_text(start_dt), end=local_time_text(end_dt))
    audit_action(request, StatusBoard.for_config(cfg), f"export of {name}",
          f" ({', '.join(f'camera {c}: {len(recs)} segments' for c, recs in found.items())})")
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    return ExportResponse(first, chunks, makers, slot, headers,
                          media_type="video/mp4" if len(cams) == 1 else "application/zip", name=name, joined=joined)
