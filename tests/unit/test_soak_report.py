"""The soak's verdicts from what it recorded: losses inside a killed program's restart window are
expected, the same losses outside it fail the soak."""
from __future__ import annotations

from common.archive.index import Recording
from tests.support.install import PROGRAMS
from tests.support.procstat import Usage
from tests.support.soak_report import Kill, Sample, build_report
from tests.support.viewer_churn import Visit

T0 = 1_800_000_000.0


def usage(files: int = 10, rss: float = 50.0) -> Usage:
    return Usage(rss, rss * 0.6, rss * 0.5, 5.0, files, 0, 1)


def segments(*spans: tuple[float, float]) -> dict[str, Recording]:
    """Segments of camera 0 at (start, duration) seconds after T0."""
    return {f"cam0/{i}": Recording(f"cam0/{i}", 0, T0 + a, d, 1000, T0 + a + d) for i, (a, d) in enumerate(spans)}


def report(kills: list[Kill], samples: list[Sample] = (), rows: dict[str, Recording] | None = None,
           end_files: int = 10, visits: list[Visit] = (), health: str = "ok"):
    first = {name: (100 + i, usage()) for i, name in enumerate(PROGRAMS)}
    last = {name: (100 + i, usage(end_files)) for i, name in enumerate(PROGRAMS)}
    return build_report(3, 1, T0, [0.5, 0.5], first, last, kills, list(samples), [],
                        {0: rows or segments((0, 4), (4.03, 4)), 1: {}}, {}, list(visits),
                        {"status": health, "reasons": []}, {}, 16)


def test_a_hole_in_the_archive_fails_the_soak_unless_a_kill_explains_it() -> None:
    rows = segments((0, 4), (4.03, 4), (12, 4))          # 8 s to 12 s: nothing recorded
    quiet = report([], rows=rows)
    assert [(round(h.start - T0, 2), h.end - T0, h.in_restart) for h in quiet.holes] == [(8.03, 12.0, False)]
    assert quiet.failed(("missing segments outside restarts",))
    killed = report([Kill("rec_cam0", 7, T0 + 8.5, back=T0 + 11.0)], rows=rows)
    assert killed.holes[0].in_restart and not killed.failed(("missing segments outside restarts",))
    assert not report([]).holes   # back-to-back segments are no hole


def test_dropped_frames_are_counted_per_process_and_placed_by_time() -> None:
    samples = [Sample(T0 + 1, 0, 50, 0, 0), Sample(T0 + 2, 0, 50, 3, 0),     # 3 dropped, nothing killed then
               Sample(T0 + 9, 0, 51, 5, 2), Sample(T0 + 10, 0, 51, 5, 4)]   # a new recorder counting from 0
    r = report([Kill("rec_cam0", 50, T0 + 5, back=T0 + 8)], samples)
    assert r.dropped[0] == [3, 5] and r.drops_at == [(2.0, 0, 3)]
    assert r.retention_deleted == 4
    assert r.failed(("frames dropped outside restarts",)) == ["frames dropped outside restarts: 3 (target 0)"]
    text = r.text()
    assert "drops outside restarts (s into the soak, camera, frames): 2/0/3" in text
    assert "FAIL frames dropped outside restarts: 3 (target 0)" in text and "machine load average 0.5 to 0.5" in text


def test_open_files_growing_health_failing_and_a_program_not_back_fail_the_soak() -> None:
    assert report([]).failed(("open files not growing", "health at the end not failing",
                              "killed programs came back")) == []
    assert report([], end_files=13).failed(("open files not growing",))
    assert report([], health="failing").failed(("health at the end not failing",))
    assert report([Kill("motion", 9, T0 + 5)]).failed(("killed programs came back",))
    assert report([], samples=[]).failed(("retention deleted during the soak",))


def test_viewers_refused_or_broken_in_a_restart_are_told_apart() -> None:
    visits = [Visit("/live/0.mp4", "127.0.0.2", T0 + 1, T0 + 4, 200, 5000),
              Visit("/stream?view=dual&res=720p", "127.0.0.3", T0 + 1, T0 + 1, 423),
              Visit("/stream?view=0&res=480p", "127.0.0.4", T0 + 4, T0 + 6, 200, 100, "the server ended the stream"),
              Visit("/stream?view=0&res=480p", "127.0.0.5", T0 + 20, T0 + 22, 0, 0, "ConnectionRefusedError: x")]
    r = report([Kill("streamer", 3, T0 + 5, back=T0 + 7)], visits=visits)
    assert r.visits["low-data"]["watched"] == 1
    assert r.visits["mjpeg view=dual&res=720p"]["refused"] == 1
    assert r.visits["mjpeg view=0&res=480p"] == {"visits": 2, "watched": 0, "refused": 0, "broken": 1,
                                                 "broken in restarts": 1}


def test_a_restarted_program_is_judged_on_its_new_process_after_its_first_minute() -> None:
    """A restarted motion process opens its databases lazily within its first minute: no leak;
    the same process opening more files after that is one."""
    first = {name: (100, usage(8)) for name in PROGRAMS}

    def judged(files_at_end: int, readings: list[tuple[float, int]]) -> int | None:
        last = {**first, "motion": (200, usage(files_at_end))}
        memory = {("motion", 200): [(T0 + t, usage(n)) for t, n in readings]}
        r = build_report(3, 1, T0, [], first, last, [], [], [], {0: {}, 1: {}}, memory, [], {"status": "ok"}, {}, 16)
        return r.programs["motion"].files_grown

    assert judged(12, [(100, 8), (130, 12), (175, 12)]) == 0      # 8 -> 12 while starting: lazy opens
    assert judged(16, [(100, 8), (130, 12), (175, 12)]) == 4      # more after its first minute
    assert judged(12, [(150, 8)]) is None                         # too young to tell


def test_growth_is_the_slope_of_rss_less_the_rings_mapped() -> None:
    """The streamer maps a ring while a viewer of its kind watches: RSS swinging by the rings'
    pages is not growth; private memory rising over the process's life is, however it ends."""
    first = {name: (100, usage()) for name in PROGRAMS}

    def growth(readings: list[tuple[float, float, float]]) -> float | None:
        memory = {("streamer", 100): [(T0 + t, Usage(rss, 0.0, 0.0, shm, 10, 0, 1)) for t, rss, shm in readings]}
        r = build_report(40, 1, T0, [], first, first, [], [], [], {0: {}, 1: {}}, memory, [], {"status": "ok"}, {}, 16)
        return r.programs["streamer"].rss_growth_mb_per_h

    swinging = [(t, 60.0 + shm, shm) for t, shm in zip(range(0, 2400, 60), [4.0, 39.0] * 20)]
    assert abs(growth(swinging)) < 0.01                               # rings mapped and unmapped: flat
    rising = [(t, 60.0 + t / 600 + shm, shm) for t, shm in zip(range(0, 2400, 60), [4.0, 39.0] * 20)]
    assert abs(growth(rising) - 6.0) < 0.01                           # 1 MB per 10 minutes
    spike_at_end = [(t, 60.0, 0.0) for t in range(0, 2400, 60)] + [(2400.0, 64.0, 0.0)]
    assert growth(spike_at_end) < 1.0          # one high reading at the end is not 6 MB/h
    assert growth([(0, 60.0, 0.0), (30, 61.0, 0.0)]) is None          # too short to tell
