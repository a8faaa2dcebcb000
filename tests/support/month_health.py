"""Does ``/api/health`` tell what the simulated month's files show?

Health's function (:func:`streamer.archive.health.health`) is asked with the streamer's own
archive index, at the simulated wall-clock time, and its answer is held against the ledger:
per camera the gaps of the last 24 h (holes between the segments on the disk, by their
wall-clock starts, as :func:`streamer.archive.recordings.holes` defines a hole) and the count
of segments they come from, the last segment (the newest written that is still there), whether
it fails exactly when a segment of the continuous window is missing, and what it says retention keeps
(:func:`tests.support.month_retention.binding_of`).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from common.archive.index import ArchiveIndex, Recording
from common.config import Config
from common.state.board import StatusBoard
from common.state.controls import Controls
from streamer.archive.health import WINDOW_S, health
from streamer.archive.recordings import holes
from tests.support.month_ledger import Ledger
from tests.support.month_retention import binding_of
from tests.support.month_rule import Rule, kept

GAP_SLACK_S = 1.0
HOURS_SLACK = 0.1
DAYS_SLACK = 0.1
PERCENT_SLACK = 1.0


def _local(epoch: float) -> str:
    return datetime.fromtimestamp(epoch).isoformat(timespec="seconds")


def expected_gaps(ledger: Ledger, camera: int, now: float) -> tuple[int, list[tuple[float, float]]]:
    """(segments, holes) of the camera's last 24 h that the files on the disk show."""
    recent = sorted((s for s in ledger.by_camera[camera] if s.present and s.wall + s.duration >= now - WINDOW_S),
                    key=lambda s: (s.wall, s.file))
    recs = [Recording(s.file, camera, s.wall, s.duration, s.size, 0.0) for s in recent]
    return len(recs), list(holes(recs))


def _gap_findings(camera: int, doc: dict[str, Any], ledger: Ledger, now: float) -> list[tuple[str, str]]:
    count, want = expected_gaps(ledger, camera, now)
    got = [(g["start"], g["end"]) for g in doc["gaps_24h"]]
    found = []
    if doc["segments_24h"] != count:
        found.append(("health's last 24 h differ from the files",
                      f"camera {camera}: {doc['segments_24h']} segments, the disk has {count}"))
    if len(got) != len(want) or any(abs(a - c) > GAP_SLACK_S or abs(b - d) > GAP_SLACK_S
                                    for (a, b), (c, d) in zip(got, want)):
        extra = sorted(set(got) - set(want)) or got
        found.append(("health's gaps differ from the files",
                      f"camera {camera}: health {len(got)} gap(s), the files {len(want)}; e.g. health "
                      f"{[(_local(a), round(b - a)) for a, b in extra[:2]]}, files "
                      f"{[(_local(a), round(b - a)) for a, b in want[:2]]}"))
    newest = ledger.newest(camera)
    last = doc["last_segment"]["file"] if doc["last_segment"] else None
    if newest is not None and last != newest.file.rsplit("/", 1)[-1]:
        found.append(("health's last segment is not the newest written",
                      f"camera {camera}: health {last}, the newest written {newest.file}"))
    return found


def _binding_findings(doc: dict[str, Any], ledger: Ledger, rule: Rule, true_now: float) -> list[tuple[str, str]]:
    said = binding_of(doc)
    if said is None:
        return [("health does not say what retention keeps", "no continuous hours, event days or share")]
    files = kept(ledger, rule, true_now)
    hours, days, percent = files.continuous_hours, files.event_days, files.event_percent
    wrong = []
    if abs(said.continuous_hours - hours) > HOURS_SLACK:
        wrong.append(f"{said.continuous_hours:.2f} h continuous, the files {hours:.2f} h")
    if (said.event_days is None) != (days is None) or (days is not None and said.event_days is not None
                                                         and abs(said.event_days - days) > DAYS_SLACK):
        wrong.append(f"{said.event_days} days of events, the files {days}")
    if said.event_percent is None or abs(said.event_percent - percent) > PERCENT_SLACK:
        wrong.append(f"events at {said.event_percent}%, the files {percent:.1f}%")
    return [("health's account of retention differs from the files", "; ".join(wrong))] if wrong else []


def check(cfg: Config, index: ArchiveIndex, board: StatusBoard, controls: Controls, ledger: Ledger, rule: Rule,
          now: float, true_now: float, incomplete: bool) -> list[tuple[str, str]]:
    """(kind, detail) of each way health's answer at wall time ``now`` differs from the files;
    ``incomplete``: a segment of the continuous window is missing (health must fail)."""
    doc = health(cfg, index, board, controls, now=now)
    found: list[tuple[str, str]] = []
    for camera in range(ledger.cameras):
        found += _gap_findings(camera, doc["cameras"][str(camera)], ledger, now)
    found += _binding_findings(doc, ledger, rule, true_now)
    failing = doc["status"] == "failing"
    if incomplete and not failing:
        found.append(("health does not fail while the continuous window is incomplete",
                      "; ".join(doc["reasons"])[:300]))
    elif failing and not incomplete:
        found.append(("health fails while the continuous window is complete", "; ".join(doc["reasons"])[:300]))
    return found
