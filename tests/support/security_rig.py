"""A streamer system for the access-control tests: clients from chosen loopback addresses,
accounts made with the real CLI, and the app's own OpenAPI schema."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.procs import REPO, ProcessSystem, Procs, isolated_env, wait_until


class SecureSystem(ProcessSystem):
    def __init__(self, tmp: Path, cameras: tuple[int, ...] = (0, 1), **overrides: object) -> None:
        self.env = isolated_env(tmp / "sht", **overrides)
        self.port = int(self.env["SHT__STREAMER__PORT"])
        self.run_dir = Path(self.env["SHT__PATHS__RUN_DIR"])
        self.procs = Procs(self.env, tmp / "logs")
        self.cameras = cameras

    def start(self, recorders: tuple[int, ...] = (), headers: dict[str, str] | None = None) -> SecureSystem:
        for cam in self.cameras:
            self.procs.capture(cam)
        for cam in recorders:
            self.procs.start(f"recorder{cam}", "-m", "recorder", "--camera", str(cam))
        self.procs.start("streamer", "-m", "streamer")

        def up() -> bool:
            try:
                return self.get("/stream?view=0&res=480p", method="HEAD", headers=headers).status_code == 200
            except httpx.HTTPError:
                return False
        wait_until(up, 40, interval=0.2)
        return self

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, source: str = "127.0.0.1", **kw: object) -> httpx.Client:
        return httpx.Client(base_url=self.origin, timeout=10,
                            transport=httpx.HTTPTransport(local_address=source), **kw)

    def get(self, path: str, source: str = "127.0.0.1", method: str = "GET", **kw: object) -> httpx.Response:
        with self.client(source) as c:
            return c.request(method, path, **kw)

    def users(self, *args: str, password: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "streamer.users", *args], cwd=REPO, env=self.env,
                              input=None if password is None else password + "\n", capture_output=True,
                              text=True, timeout=30)

    def add_user(self, name: str, password: str, role: str) -> None:
        done = self.users("add", name, "--role", role, "--password-stdin", password=password)
        assert done.returncode == 0, done.stderr

    def log(self) -> str:
        return self.procs.log("streamer")


def openapi(env: dict[str, str]) -> dict:
    """The app's OpenAPI document, built in a process with the system's configuration."""
    code = "import json, sys; from streamer.app import create_app; sys.stdout.write(json.dumps(create_app().openapi()))"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def raw_request(port: int, request: bytes, source: str = "127.0.0.1", timeout: float = 5.0) -> bytes:
    """Send raw bytes, return everything the server answers until it closes or goes quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0)) as s:
        s.sendall(request)
        data = b""
        try:
            while chunk := s.recv(65536):
                data += chunk
                if b"\r\n\r\n" in data and len(data) > 4096:
                    break
        except TimeoutError:
            pass
        return data
