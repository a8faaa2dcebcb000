"""Viewers of every kind joining and leaving a streamer, from several loopback addresses.

A :class:`Churn` starts a viewer every few seconds: a random kind (MJPEG dual or single at
480p or 720p, or the low-data ``/live/N.mp4``), from a random address among 127.0.0.2..7
(the streamer counts viewers by address), watching for a random few seconds, then leaving.
Each visit is kept as a :class:`Visit`: what it asked, what it got (status, bytes), how it
ended.  A refusal (423: the resolution or the low-data view is full; 429: the address has
its most streams) is the streamer keeping its limits, not a failure.
"""
from __future__ import annotations

import http.client
import random
import threading
import time
from dataclasses import dataclass

PATHS = ("/stream?view=dual&res=480p", "/stream?view=dual&res=720p", "/stream?view=0&res=480p",
         "/stream?view=1&res=720p", "/live/0.mp4", "/live/1.mp4")
ADDRESSES = tuple(f"127.0.0.{n}" for n in range(2, 8))
REFUSED = (423, 429)
READ = 65536


@dataclass
class Visit:
    path: str
    address: str
    started: float        # time.time()
    ended: float = 0.0    # 0 while it watches
    status: int = 0       # HTTP status; 0 when no answer came
    bytes: int = 0
    error: str = ""       # why it ended before its time ("" when it left by itself or was refused)

    @property
    def kind(self) -> str:
        return "low-data" if self.path.startswith("/live/") else "mjpeg " + self.path.partition("?")[2]

    @property
    def refused(self) -> bool:
        return self.status in REFUSED

    @property
    def broken(self) -> bool:
        """Ended badly: no answer, an unexpected status, a stream that broke off or brought nothing."""
        return not self.refused and (self.status != 200 or bool(self.error) or self.bytes == 0)


class Churn(threading.Thread):
    """Visits to ``127.0.0.1:port``: one every ``every_s`` (on average), each ``stay_s`` long
    (a random span), at most ``most`` at once."""

    def __init__(self, port: int, seed: int, every_s: float = 3.0, stay_s: tuple[float, float] = (3.0, 15.0),
                 most: int = 6) -> None:
        super().__init__(name="viewer-churn", daemon=True)
        self.port = port
        self.rng = random.Random(seed)
        self.every_s, self.stay_s, self.most = every_s, stay_s, most
        self.visits: list[Visit] = []
        self._watching: list[threading.Thread] = []
        self._halt = threading.Event()      # no new visits
        self._leave = threading.Event()     # every visit ends now
        self._paused = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.rng.uniform(0.5, 1.5) * self.every_s):
            self._watching = [t for t in self._watching if t.is_alive()]
            if self._paused.is_set() or len(self._watching) >= self.most:
                continue
            visit = Visit(self.rng.choice(PATHS), self.rng.choice(ADDRESSES), time.time())
            self.visits.append(visit)
            watcher = threading.Thread(target=self._watch, args=(visit, self.rng.uniform(*self.stay_s)), daemon=True)
            self._watching.append(watcher)
            watcher.start()

    def pause(self, timeout: float = 30.0) -> None:
        """No new visits, and return once the open ones have ended by themselves."""
        self._paused.set()
        self._wait_watchers(timeout)

    def resume(self) -> None:
        self._paused.clear()

    def stop(self, timeout: float = 30.0) -> None:
        """No new visits; the open ones end at once."""
        self._halt.set()
        self._leave.set()
        self.join(timeout)
        self._wait_watchers(timeout)

    def _wait_watchers(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for watcher in list(self._watching):
            watcher.join(max(0.0, deadline - time.monotonic()))

    def _watch(self, visit: Visit, stay_s: float) -> None:
        until = time.monotonic() + stay_s
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5.0, source_address=(visit.address, 0))
        try:
            conn.request("GET", visit.path)
            resp = conn.getresponse()
            visit.status = resp.status
            if resp.status != 200:
                resp.read(READ)
                return
            while time.monotonic() < until and not self._leave.is_set():
                data = resp.read1(READ)
                if not data:
                    visit.error = "the server ended the stream"
                    return
                visit.bytes += len(data)
        except (OSError, http.client.HTTPException) as exc:
            visit.error = f"{type(exc).__name__}: {exc}"
        finally:
            visit.ended = time.time()
            conn.close()
