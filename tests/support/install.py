"""A second installation of the whole tree under a real supervisord, in a temporary folder:
a copy of the code, the repository's supervisord.conf and its own sht.toml (another ring
prefix and port), so it runs beside any other installation."""
from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path

from supervisor.xmlrpc import SupervisorTransport

from tests.support.procs import REPO, die_with_parent, free_port, unique_prefix

PROGRAMS = ("capture_cam0", "capture_cam1", "rec_cam0", "rec_cam1", "motion", "streamer")


@dataclass
class Install:
    root: Path
    port: int
    prefix: str
    env: dict[str, str]
    daemon: subprocess.Popen | None = None

    @property
    def conf(self) -> str:
        return str(self.root / "supervisord.conf")

    def ctl(self, *args: str) -> str:
        out = subprocess.run([sys.executable, "-m", "supervisor.supervisorctl", "-c", self.conf, *args],
                             env=self.env, capture_output=True, text=True, timeout=30)
        return out.stdout

    def status(self) -> dict[str, tuple[str, int]]:
        """program -> (state, pid; 0 when not running), asked over supervisord's socket (no
        supervisorctl process per question: a soak asks every second); {} while it does not answer."""
        transport = SupervisorTransport(None, None, f"unix://{self.root}/run/supervisor.sock")
        proxy = xmlrpc.client.ServerProxy("http://localhost", transport=transport)
        try:
            infos = proxy.supervisor.getAllProcessInfo()
        except (OSError, xmlrpc.client.Error):
            return {}
        finally:
            transport.close()
        return {i["name"]: (i["statename"], int(i["pid"])) for i in infos if i["name"] in PROGRAMS}

    def all_running(self) -> dict[str, tuple[str, int]] | None:
        st = self.status()
        ok = len(st) == len(PROGRAMS) and all(state == "RUNNING" for state, _ in st.values())
        return st if ok else None

    def recordings(self, camera: int) -> list[Path]:
        return sorted(self.root.glob(f"videos/cam_rec/cam{camera}/*/cam{camera}_*.mp4"))


def make_install(tmp: Path, extra_toml: str = "") -> Install:
    root = tmp / "install"
    for folder in ("capture", "common", "doctor", "motion", "offsite", "recorder", "streamer"):
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "supervisord.conf", root / "supervisord.conf")
    (root / "run").mkdir()
    (root / "logs").mkdir()
    port, prefix = free_port(), unique_prefix()
    (root / "sht.toml").write_text(
        f'[ring]\nprefix = "{prefix}"\n\n[streamer]\nport = {port}\n\n'
        f'[recorder]\nsegment_seconds = 4\n{extra_toml}')
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHT")}
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return Install(root, port, prefix, env)


def start_daemon(inst: Install) -> None:
    inst.daemon = subprocess.Popen([sys.executable, "-m", "supervisor.supervisord", "-n", "-c", inst.conf],
                                   env=inst.env, cwd=inst.root, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True,
                                   preexec_fn=die_with_parent)


def stop_daemon(inst: Install) -> None:
    if inst.daemon is None:
        return
    if inst.daemon.poll() is None:
        inst.ctl("stop", "all")
        inst.daemon.send_signal(signal.SIGTERM)
        try:
            inst.daemon.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(inst.daemon.pid, signal.SIGKILL)
            inst.daemon.wait()
    for path in glob.glob(f"/dev/shm/{inst.prefix}*"):
        os.unlink(path)
