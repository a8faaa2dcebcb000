"""POST a JSON document for each event start, off the detection path.

A daemon thread sends from a small queue (newest kept: a dead receiver cannot make the
queue grow); each POST has a 2 s timeout and up to 3 retries with backoff.

The URL may carry credentials (``https://user:secret@host/...``, sent as HTTP Basic) or
a token in its path or query; the log names only its scheme, host and port.
"""
from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections import deque
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

log = logging.getLogger("motion")
TIMEOUT_S = 2.0
RETRIES = 3
BACKOFF_S = (0.5, 1.0, 2.0)
QUEUE = 16


def shown(url: str) -> str:
    """The URL as the log may show it: scheme, host and port, no credentials, path or query."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(an unreadable URL)"
    return f"{parts.scheme}://{'[' + host + ']' if ':' in host else host}{port}/..."


def split_credentials(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its user:password part, and the Authorization header that carries it."""
    try:
        parts = urlsplit(url)
        if parts.username is None:
            return url, {}
    except ValueError:
        return url, {}      # sending fails, and says so without the URL
    netloc = parts.netloc.rpartition("@")[2]
    secret = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
    return urlunsplit(parts._replace(netloc=netloc)), {"Authorization": "Basic " + base64.b64encode(secret).decode()}


class Webhook:
    def __init__(self, url: str) -> None:
        # Imported only with a webhook set: the HTTP client and TLS hold about 3.5 MB.
        import urllib.request
        self._http = urllib.request
        self.url, self._auth = split_credentials(url)
        self.shown = shown(url)
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
            req = self._http.Request(self.url, data=body, method="POST",
                                      headers={"Content-Type": "application/json", **self._auth})
            try:
                with self._http.urlopen(req, timeout=TIMEOUT_S) as resp:
                    resp.read(1024)
                self.sent += 1
                return
            except (OSError, ValueError) as exc:   # URLError is an OSError
                if attempt == RETRIES or self._stop:
                    self.failed += 1
                    log.warning("webhook %s: event %s not delivered: %s", self.shown, doc.get("id"),
                                str(exc).replace(self.url, self.shown))
                    return
                time.sleep(BACKOFF_S[attempt])
