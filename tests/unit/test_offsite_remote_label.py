"""The remote as the page names it: where the copies go, never a password or key."""
from __future__ import annotations

import pytest

from offsite.remote_label import remote_label


@pytest.mark.parametrize("remote, label", [
    ("nas:cctv", "nas:cctv"),
    (":local:/mnt/usb/cctv", ":local:/mnt/usb/cctv"),
    ("/mnt/usb/cctv", "/mnt/usb/cctv"),
    (":sftp,host=nas.local,user=cam,pass=s3cret,key_file=/root/.ssh/id:cctv", ":sftp,host=nas.local:cctv"),
    (":webdav,url='http://cam:s3cret@127.0.0.1:8080/dav',pass=s3cret:", ":webdav,url=http://127.0.0.1:8080/dav:"),
    (":s3,provider=Other,access_key_id=AK,secret_access_key=s3cret,endpoint='http://127.0.0.1:5000':bucket/cctv",
     ":s3,endpoint=http://127.0.0.1:5000:bucket/cctv"),
    ("nas,password=\"a:s3cret,b\":cctv", "nas:cctv"),
])
def test_label_keeps_where_and_drops_secrets(remote: str, label: str) -> None:
    assert remote_label(remote) == label
    assert "s3cret" not in remote_label(remote)
