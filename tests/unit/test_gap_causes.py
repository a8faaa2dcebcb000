"""Every gap in the recordings is given its cause where the recorder knows it."""
from __future__ import annotations

import errno
import stat
import time
from pathlib import Path

import pytest

from common.archive.gaplog import GapLog, read_gaplog
from common.archive.index import ArchiveIndex
from recorder.recording import RETRY_S
from streamer.archive.health import gaps_with_causes
from streamer.archive.recordings import find_gaps
from tests.support.procs import wait_until
from tests.support.recorder_rig import FPS


@pytest.mark.slow
def test_a_write_error_of_seconds_is_a_gap_with_its_cause(recorder_rig) -> None:
    """A write fails (the disk full for a moment, retention off): the recorder ends the segment,
    waits, and records again; health and the recordings list give the gap and why."""
    s = recorder_rig(recorder__segment_seconds=30, recorder__retention=False)
    wait_until(lambda: s.rec.syncer is not None, 10)
    began = time.time()
    s.feed(2 * FPS)
    assert s.rec.out is not None
    s.rec.out.error = OSError(errno.ENOSPC, "No space left on device")   # what a failed write leaves
    s.feed(round((RETRY_S + 2) * FPS))
    wait_until(lambda: s.rec.state() == "recording", 5)
    s.stop()
    index = ArchiveIndex(s.cfg.recordings_root)
    try:
        index.refresh()
        recs = index.ending_after(0, began - 1)
    finally:
        index.close()
    assert len(recs) == 2
    causes = read_gaplog(s.cfg.run_dir, 0)
    for gaps in (gaps_with_causes(recs, causes), find_gaps(recs, causes)):
        assert len(gaps) == 1 and RETRY_S - 0.5 <= gaps[0]["duration_s"] <= RETRY_S + 1.5, gaps
        assert gaps[0]["cause"] == "write error (No space left on device)"


def test_the_gap_log_makes_a_missing_run_folder_private(tmp_path: Path) -> None:
    # The recorder may write its gap log before any other program made the run folder, which
    # also holds the session key: the folder must then be 0700, not the umask's 0755.
    run = tmp_path / "sht" / "run"
    GapLog(run, 0).add("recorder started")
    assert stat.S_IMODE(run.stat().st_mode) == 0o700
    assert [e["event"] for e in read_gaplog(run, 0)] == ["recorder started"]
