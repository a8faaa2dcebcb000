"""The simulated month's checks of the retention rule, on small hand-made archives."""
from __future__ import annotations

from pathlib import Path

from common.archive.mp4_duration import mp4_duration
from tests.support.month_disk import touched
from tests.support.month_ledger import Ledger
from tests.support.month_rule import Rule, judge_pass, missing_in_window, nothing_else, over_share, window_files
from tests.support.month_stream import mp4_head

SEG_S = 30.0
SIZE = 1000
RULE = Rule(keep_continuous_hours=1, event_share_percent=40, event_keep_days=1)
PER_HOUR = 120


def archive(hours: float, events: set[int] | frozenset[int] = frozenset(),
            wall_step: tuple[int, float] = (0, 0.0)) -> Ledger:
    """Both cameras, back to back from true time 0; segment ``i`` of each holds an event when
    ``i`` is in ``events``; from segment ``wall_step[0]`` on the wall clock is ``wall_step[1]`` off."""
    ledger = Ledger(2, RULE.window_s)
    for i in range(round(hours * PER_HOUR)):
        for cam in (0, 1):
            wall = 1e9 + i * SEG_S + (wall_step[1] if wall_step[1] and i >= wall_step[0] else 0.0)
            ledger.add(f"cam{cam}/261025/cam{cam}_{i:06d}.mp4", cam, i * SEG_S, wall, SEG_S, SIZE)
    ledger.mark_events(f"cam{cam}/261025/cam{cam}_{i:06d}.mp4" for i in events for cam in (0, 1))
    return ledger


def files(*indices: int, cams: tuple[int, ...] = (0, 1)) -> list[str]:
    return [f"cam{cam}/261025/cam{cam}_{i:06d}.mp4" for i in indices for cam in cams]


def kinds(ledger: Ledger, removed: list[str], hours: float) -> list[str]:
    gone = ledger.remove(removed)
    return [kind for kind, _ in judge_pass(gone, ledger, RULE, hours * 3600, SEG_S)]


def test_deleting_the_oldest_plain_segments_breaks_nothing() -> None:
    ledger = archive(3, events=set(range(100, 110)))
    assert kinds(ledger, files(0, 1, 2), 3) == []


def test_a_segment_of_the_continuous_window_may_go_only_when_nothing_else_is_left() -> None:
    ledger = archive(3)
    newest = 3 * PER_HOUR - 1
    assert kinds(ledger, files(newest, cams=(1,)), 3) == ["pass deleted from the continuous window"]
    assert [s.file for s in missing_in_window(ledger, RULE)] == files(newest, cams=(1,))

    small = archive(1.5)
    assert kinds(small, files(*range(60)), 1.5) == []   # the oldest half hour: outside the window
    assert nothing_else(small, window_files(small, RULE))
    assert kinds(small, files(60), 1.5) == []            # nothing else left: the floor may take the window


def test_an_event_segment_goes_before_a_plain_one_only_when_events_are_over_their_share() -> None:
    # 240 segments outside the window, 40 of them events: 40 / 480 of the space, well within 40 %.
    within = archive(3, events=set(range(100, 120)))
    assert kinds(within, files(100), 3) == ["event segment deleted while events were within their share"]

    # 320 event segments outside the window of 720 in all: over 40 %, so the oldest event segment goes first.
    over = archive(3, events=set(range(160)))
    assert kinds(over, files(0), 3) == []
    assert kinds(over, files(160), 3) == ["plain segment deleted before an older event segment"]


def test_an_event_segment_older_than_event_keep_days_goes_before_younger_plain_ones() -> None:
    ledger = archive(3, events={0})
    assert kinds(ledger, files(1), 3) == []   # a day has not passed
    old = archive(3, events={0})
    assert kinds(old, files(1), 3 + 26) == ["plain segment deleted before an older event segment"]


def test_each_kind_goes_oldest_first() -> None:
    ledger = archive(3, events={0, 1, 2, 3, 4, 5})
    assert kinds(ledger, files(20), 3) == ["plain segments not deleted oldest first"]
    # (events within their share, so deleting one is wrong twice: too early and not the oldest)
    assert kinds(ledger, files(4), 3) == ["event segment deleted while events were within their share",
                                          "event segments not deleted oldest first"]


def test_the_window_counts_recorded_time_whatever_the_wall_clock_did() -> None:
    stepped = archive(3, wall_step=(300, -3600.0))
    assert window_files(stepped, RULE) == window_files(archive(3), RULE)
    assert len(window_files(stepped, RULE)) == 2 * PER_HOUR


def test_the_share_is_measured_outside_the_window_with_slack() -> None:
    ledger = archive(3, events=set(range(160)) | set(range(300, 360)))   # the window's events do not count
    assert over_share(ledger, RULE, slack_bytes=0).startswith("event segments outside the window take 44.4%")
    assert over_share(ledger, RULE, slack_bytes=40 * SIZE) == ""


def test_the_ledger_forgets_old_deleted_segments_but_not_the_window() -> None:
    ledger = archive(3)
    ledger.remove(files(*range(240)))
    assert len(ledger.by_camera[0]) == PER_HOUR and ledger.total == 2 * PER_HOUR * SIZE
    ledger.remove(files(*range(240, 360)))
    assert len(missing_in_window(ledger, RULE)) == 2 * PER_HOUR   # deleted, still known: the window is missing


def test_a_name_given_again_stays_known_when_its_first_holder_is_forgotten() -> None:
    ledger = archive(1)
    first = files(0, cams=(0,))[0]
    ledger.remove([first])
    again = ledger.add(first, 0, 3600, 1e9 + 3600, SEG_S, SIZE)
    ledger.remove(files(1, cams=(0,)))   # the first holder is forgotten now
    assert ledger.by_file[first] is again and again.present


def test_a_simulated_segment_tells_the_archive_index_its_duration(tmp_path: Path) -> None:
    path = tmp_path / "cam0_20261025_020000.mp4"
    head = mp4_head(29.987, 5000)
    path.write_bytes(head + bytes(5000 - len(head)))
    assert mp4_duration(path) == 29.987


def test_a_change_outside_the_root_is_named() -> None:
    before = {"beside/a.mp4": (1, 2), "outside": (3, 4)}
    assert touched(before, {"outside": (3, 5), "new": (0, 0)}) == [
        "beside/a.mp4: removed", "new: added", "outside: changed"]
    assert touched(before, dict(before)) == []
