"""A TCP relay that makes a local browser reach the server from another loopback address.

The kernel picks 127.0.0.1 as the source of every loopback connection, whatever
127.x.y.z is dialled, so "a viewer from another machine" needs the outgoing socket bound
to that address explicitly: this relay listens on 127.0.0.1 and connects to the server
from ``source`` (e.g. 127.0.0.3), which is the client address the server sees.
"""
from __future__ import annotations

import socket
import threading


class AddressRelay:
    def __init__(self, target_port: int, source: str, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.source = source
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name=f"relay-{source}").start()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                upstream.bind((self.source, 0))
                upstream.connect(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        # Either side ending ends both, so the server sees a viewer leave at once.
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
            with self._lock:
                self._open.discard(s)

    def close(self) -> None:
        self._closed = True
        self.listener.close()
        with self._lock:
            sockets = list(self._open)
            self._open.clear()
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
