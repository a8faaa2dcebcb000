"""Remotes on loopback for the off-site tests: OpenSSH's sshd (SFTP), ``rclone serve webdav``,
and S3 as served by moto (``moto[server]``, the standard local S3 test server from PyPI).

Each server is started by the test on a free port with folders of its own; ``remote`` is the
on-the-fly rclone remote path the uploader is given, :meth:`Server.files` what the remote holds
(for SFTP and WebDAV the files in ``folder``; for S3 the objects, read back over S3).
"""
from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.procs import die_with_parent, free_port, wait_until

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)
RCLONE = shutil.which("rclone")
MOTO = importlib.util.find_spec("moto") is not None


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

    def files(self) -> dict[str, bytes]:
        """What the remote holds: path under the remote to contents."""
        return files_under(self.folder)

    def size_of(self, path: str) -> int | None:
        """The size of ``path`` under the remote; None when it holds no such file."""
        file = self.folder / path
        return file.stat().st_size if file.is_file() else None

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


class S3Server(Server):
    """moto's S3 server, in memory; the copies go to ``bucket/cctv``."""

    BUCKET, PREFIX = "cctv-test", "cctv"
    KEY = "test"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]

    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def remote(self) -> str:
        return (f":s3,provider=Other,env_auth=false,access_key_id={self.KEY},secret_access_key={self.KEY},"
                f"endpoint='{self.endpoint()}',force_path_style=true:{self.BUCKET}/{self.PREFIX}")

    def _client(self) -> Any:
        import boto3  # moto's own dependency
        return boto3.client("s3", endpoint_url=self.endpoint(), aws_access_key_id=self.KEY,
                            aws_secret_access_key=self.KEY, region_name="us-east-1")

    def _bucket_made(self, s3: Any) -> bool:
        return any(b["Name"] == self.BUCKET for b in s3.list_buckets().get("Buckets", []))

    def size_of(self, path: str) -> int | None:
        s3 = self._client()
        found = s3.list_objects_v2(Bucket=self.BUCKET, Prefix=f"{self.PREFIX}/{path}") if self._bucket_made(s3) else {}
        return next((int(o["Size"]) for o in found.get("Contents", []) if o["Key"] == f"{self.PREFIX}/{path}"), None)

    def files(self) -> dict[str, bytes]:
        s3 = self._client()
        if not self._bucket_made(s3):
            return {}
        out = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.BUCKET, Prefix=f"{self.PREFIX}/"):
            for obj in page.get("Contents", []):
                body = s3.get_object(Bucket=self.BUCKET, Key=obj["Key"])["Body"].read()
                out[obj["Key"][len(self.PREFIX) + 1:]] = body
        return out


def without_ca_bundle(env: dict[str, str]) -> dict[str, str]:
    """``env`` without AWS_CA_BUNDLE: rclone's S3 client refuses to start with a CA bundle on a
    plain-HTTP endpoint (moto's), where there is nothing to verify."""
    return {k: v for k, v in env.items() if k != "AWS_CA_BUNDLE"}


def files_under(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


