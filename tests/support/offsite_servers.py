"""Real remotes on loopback for the off-site tests: OpenSSH's sshd (SFTP) and ``rclone serve webdav``.

Each server is started by the test on a free port with folders of its own; ``remote`` is the
on-the-fly rclone remote path the uploader is given, ``folder`` where the files land on disk.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.support.procs import die_with_parent, free_port, wait_until

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)
RCLONE = shutil.which("rclone")


def _keypair(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


def _listening(port: int) -> bool:
    import socket
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Server:
    """A server process that can be stopped and started again on the same port."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = free_port()
        self.folder = base / "remote"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        log = open(self.base / "server.log", "ab")
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        log.close()
        wait_until(lambda: _listening(self.port), 20, interval=0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None
        wait_until(lambda: not _listening(self.port), 10, interval=0.1)


class SftpServer(Server):
    """sshd with its own host key, accepting one throw-away key for the current user."""

    def __init__(self, base: Path) -> None:
        super().__init__(base)
        import getpass
        self.user = getpass.getuser()
        host = _keypair(base / "host_key")
        self.key = _keypair(base / "client_key")
        self.wrong_key = _keypair(base / "wrong_key")
        (base / "authorized_keys").write_text((base / "client_key.pub").read_text())
        Path("/run/sshd").mkdir(exist_ok=True)   # sshd's privilege separation folder
        self.config = base / "sshd_config"
        self.config.write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {host}",
            f"AuthorizedKeysFile {base / 'authorized_keys'}", "PasswordAuthentication no",
            "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password", "StrictModes no",
            "UsePAM no", f"PidFile {base / 'sshd.pid'}", "Subsystem sftp internal-sftp", ""]))

    def command(self) -> list[str]:
        return [str(SSHD), "-D", "-e", "-f", str(self.config)]

    def remote(self, key: Path | None = None) -> str:
        return f":sftp,host=127.0.0.1,port={self.port},user={self.user},key_file={key or self.key}:{self.folder}"


class WebdavServer(Server):
    """``rclone serve webdav`` over a folder."""

    def command(self) -> list[str]:
        return [str(RCLONE), "serve", "webdav", f":local:{self.folder}", "--addr", f"127.0.0.1:{self.port}"]

    def remote(self) -> str:
        return f":webdav,url='http://127.0.0.1:{self.port}':"   # quoted: the URL holds colons


def files_under(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


