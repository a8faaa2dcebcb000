"""Password guessers: many connections from chosen loopback addresses, sending their guesses
at the same moment (a burst) or one after another for a while (a siege)."""
from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

CHECKED = (200, 401)    # answers for which a password was checked


def login_request(user: str, password: str, headers: dict[str, str] | None = None) -> bytes:
    body = json.dumps({"user": user, "password": password}).encode()
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    return (f"POST /login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n{extra}\r\n").encode() + body


def status_of(sock: socket.socket) -> int:
    """The status of the answer on ``sock`` (0: closed or silent without one)."""
    data = b""
    try:
        while b"\r\n" not in data:
            more = sock.recv(4096)
            if not more:
                break
            data += more
    except OSError:
        return 0
    parts = data.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def burst(port: int, requests: list[tuple[str, bytes]], timeout: float = 60.0) -> Counter[int]:
    """Open a connection per (source address, request), then send them all at once: answers by status."""
    socks = []
    for source, _ in requests:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))
        socks.append(s)
    start = threading.Barrier(len(requests))
    codes: list[int] = [0] * len(requests)

    def one(i: int) -> None:
        start.wait()
        try:
            socks[i].sendall(requests[i][1])
            codes[i] = status_of(socks[i])
        except OSError:
            codes[i] = 0
        finally:
            socks[i].close()

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 5)
    return Counter(codes)


@dataclass
class Siege:
    """Connections that each send a guess, read the answer and go again, for ``seconds``."""

    port: int
    sources: list[str]
    user: str                    # may name the guess's number, "{i}": another account each time
    per_source: int = 1
    pause: float = 0.5           # between one connection's guesses: a steady attack, not a CPU flood
    codes: Counter[int] = field(default_factory=Counter)
    checked_at: list[float] = field(default_factory=list)    # when each checked answer came

    def run(self, seconds: float) -> Counter[int]:
        until = time.monotonic() + seconds
        lock = threading.Lock()

        def guesser(source: str, n: int) -> None:
            i = 0
            while time.monotonic() < until:
                i += 1
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=30,
                                                  source_address=(source, 0)) as s:
                        s.sendall(login_request(self.user.format(i=i), f"guess {source} {n} {i}"))
                        code = status_of(s)
                except OSError:
                    code = 0
                with lock:
                    self.codes[code] += 1
                    if code in CHECKED:
                        self.checked_at.append(time.monotonic())
                time.sleep(self.pause)

        threads = [threading.Thread(target=guesser, args=(src, n), daemon=True)
                   for src in self.sources for n in range(self.per_source)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(seconds + 40)
        return self.codes

    @property
    def checked(self) -> int:
        return sum(self.codes[c] for c in CHECKED)

    def most_checked_within(self, seconds: float) -> int:
        """The most guesses checked within any ``seconds`` of the siege."""
        times, most, first = sorted(self.checked_at), 0, 0
        for last, t in enumerate(times):
            while t - times[first] >= seconds:
                first += 1
            most = max(most, last - first + 1)
        return most
