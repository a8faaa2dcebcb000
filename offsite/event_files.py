"""An event's thumbnail and a small JSON of its metadata, as they go next to its segments.

On the remote they sit in the event's camera and day folder: ``camN/YYMMDD/events/<id>.jpg`` and
``<id>.json`` (the day of the event's start, local time, as the segments' folders).  The JSON
tells what the events list tells: when, how long, how large, and which segments hold it.
"""
from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path

from common.archive import events as event_store
from common.archive import segment_name

EVENTS_FOLDER = "events"


def remote_stem(camera: int, start_wall: float, event_id: int) -> str:
    """``camN/YYMMDD/events/<id>``: the remote path of an event's files but their extension."""
    day = segment_name.day_folder(datetime.fromtimestamp(start_wall))
    return f"{segment_name.camera_folder(camera)}/{day}/{EVENTS_FOLDER}/{event_id}"


def stage(conn: sqlite3.Connection, event_id: int, folder: Path) -> list[tuple[Path, str]]:
    """Write the event's files into ``folder``; returns (local file, remote path) pairs, none
    when the event is gone from the database (pruned: nothing to send)."""
    event = event_store.get_event(conn, event_id)
    if event is None:
        return []
    stem = remote_stem(event["camera"], event["start_wall"], event_id)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {key: event[key] for key in ("id", "camera", "start_wall", "end_wall", "pre_s", "peak_area_percent",
                                        "peak_wall", "bbox_percent", "closed", "segments")}
    meta["start"] = datetime.fromtimestamp(event["start_wall"]).astimezone().isoformat(timespec="seconds")
    local_json = folder / f"{event_id}.json"
    local_json.write_text(json.dumps(meta, indent=1) + "\n")
    out = [(local_json, f"{stem}.json")]
    thumbnail = event_store.get_thumbnail(conn, event_id)
    if thumbnail is not None:
        local_jpg = folder / f"{event_id}.jpg"
        local_jpg.write_bytes(thumbnail)
        out.insert(0, (local_jpg, f"{stem}.jpg"))
    return out
