"""POST a JSON document for each event start, off the detection path.

A daemon thread sends from a small queue (newest kept: a dead receiver cannot make the
queue grow); each POST has a 2 s timeout and up to 3 retries with backoff.
"""
from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from typing import Any

log = logging.getLogger("motion")
TIMEOUT_S = 2.0
RETRIES = 3
BACKOFF_S = (0.5, 1.0, 2.0)
QUEUE = 16


class Webhook:
    def __init__(self, url: str) -> None:
        self.url = url
        self.sent = 0
        self.failed = 0
        self._queue: deque[dict[str, Any]] = deque(maxlen=QUEUE)
        self._wake = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="webhook", daemon=True)
        self._thread.start()

    def post(self, doc: dict[str, Any]) -> None:
        """Never blocks: queues ``doc`` (dropping the oldest one when full)."""
        self._queue.append(doc)
        self._wake.set()

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        self._thread.join(timeout=1.0)

    def _run(self) -> None:
        while not self._stop:
            self._wake.wait()
            self._wake.clear()
            while self._queue and not self._stop:
                self._send(self._queue.popleft())

    def _send(self, doc: dict[str, Any]) -> None:
        body = json.dumps(doc).encode()
        for attempt in range(RETRIES + 1):
            req = urllib.request.Request(self.url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
                    resp.read(1024)
                self.sent += 1
                return
            except (urllib.error.URLError, OSError, ValueError) as exc:
                if attempt == RETRIES or self._stop:
                    self.failed += 1
                    log.warning("webhook %s: event %s not delivered: %s", self.url, doc.get("id"), exc)
                    return
                time.sleep(BACKOFF_S[attempt])
