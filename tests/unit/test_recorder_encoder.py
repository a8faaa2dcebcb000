"""One encoder per recorder: segment boundaries and pauses do not restart it.

The test plays the capture process (frames into camera 0's hd ring at 30 fps) and runs the
recorder in a thread, so it can see which encoder made what.  A new libx264 encoder shows
in the packets too: its first keyframe carries its version SEI ("x264 - core").
"""
from __future__ import annotations

import itertools
from pathlib import Path

import av

from common.state.controls import Controls
from recorder.recording import Recorder
from tests.support.procs import wait_until
from tests.support.recorder_check import finished, read_segment
from tests.support.recorder_rig import FPS

X264_SEI = b"x264 - core"


def decode_all(path: Path) -> int:
    """Frames that decode, the decoder drained at the end (B-frames keep some back)."""
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(c.streams.video[0]))


def check_back_to_back(rec: Recorder, root: Path) -> list:
    """Every segment starts with a keyframe, with the frame after the previous one's last,
    and decodes fully; together they hold every frame recorded."""
    files = finished(root)
    segs = [read_segment(p) for p in files]
    assert rec.frames_dropped == 0
    for seg in segs:
        assert seg.first_is_key, seg.path.name
        assert decode_all(seg.path) == seg.frames, seg.path.name
    for a, b in itertools.pairwise(segs):
        assert b.first_index == a.first_index + a.frames, (a.path.name, b.path.name)
    assert sum(s.frames for s in segs) == rec.frames_written
    return segs


def test_a_boundary_forces_a_keyframe_and_the_encoder_goes_on(recorder_rig) -> None:
    s = recorder_rig(recorder__segment_seconds=1)
    wait_until(lambda: s.rec.syncer is not None, 10)   # running
    encoders = set()
    s.feed(110, lambda: encoders.add(id(s.rec.encoding.encoder)) if s.rec.out is not None else None)
    wait_until(lambda: s.rec.seg_last_index == s.fed - 1, 10)   # it took the last frame fed
    packets = s.published()
    s.stop()
    segs = check_back_to_back(s.rec, s.cfg.recordings_root)
    assert len(segs) >= 3
    assert [r["closed_because"] for r in s.rec.recent] == ["segment boundary"] * (len(segs) - 1) + ["stopping"]
    assert len(encoders) == 1   # one encoder made every segment
    # The packet ring got every packet, keyframes where the segments start, and one encoder's.
    assert len(packets) == s.rec.frames_written
    keys = [i for i, p in enumerate(packets) if p.keyframe]
    starts = [seg.first_index - segs[0].first_index for seg in segs]
    assert set(starts) <= set(keys)
    assert sum(X264_SEI in p.data for p in packets) == 1


def test_with_b_frames_and_lookahead_segments_are_still_back_to_back(recorder_rig) -> None:
    # preset medium: 3 B-frames and a lookahead of 40 frames, more than a 1 s segment
    s = recorder_rig(recorder__segment_seconds=1, recorder__tune="none", recorder__preset="medium")
    wait_until(lambda: s.rec.syncer is not None, 10)   # running
    s.feed(130)
    wait_until(lambda: s.rec.seg_last_index == s.fed - 1, 10)   # it took the last frame fed
    s.stop()
    segs = check_back_to_back(s.rec, s.cfg.recordings_root)
    assert len(segs) >= 4
    assert s.rec.status()["last_error"] == ""


def test_pause_with_a_live_viewer_keeps_the_same_encoder(recorder_rig) -> None:
    s = recorder_rig(recorder__segment_seconds=30)
    wait_until(s.packets.alive, 10)
    s.packets.demand(60)          # someone watches the low-data view throughout
    encoders = []
    s.feed(45, lambda: encoders.append(s.rec.encoding.encoder))
    Controls(s.cfg.run_dir).update(recording={0: False})
    wait_until(lambda: s.rec.status()["state"] == "paused", 10)
    recorded = s.rec.frames_written
    s.feed(45, lambda: encoders.append(s.rec.encoding.encoder))
    packets = s.published()
    s.stop()
    assert s.rec.segments_written == 1 and s.rec.frames_written == recorded
    assert len({id(e) for e in encoders[10:]}) == 1 and encoders[-1] is not None
    # Packets went on through the pause: no gap, no new encoder, no keyframe out of turn.
    assert len(packets) > recorded + 30
    assert [p.index for p in packets] == list(range(len(packets)))
    assert sum(X264_SEI in p.data for p in packets) == 1
    assert [i for i, p in enumerate(packets) if p.keyframe] == list(range(0, len(packets), s.cfg.recorder.gop(FPS)))
