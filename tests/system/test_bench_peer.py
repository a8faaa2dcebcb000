"""The benchmark's naive peer server serves real rings and is measured."""

from __future__ import annotations

import socket

from tests.support.multipart import Dechunk


# -- the naive peer on real rings --------------------------------------------------------
def test_naive_peer_serves_dual_720p_and_is_measured() -> None:

    import numpy as np
    import simplejpeg

    from tests.bench.rig import Rig
    from tests.bench.viewers import measure

    with Rig() as rig:
        rig.cameras()
        port = rig.peer()
        load = measure(rig.pid("peer"), port, "/stream?view=dual&res=720p", 2, 1.0, warmup_s=0.2)
        assert len(load.fps) == 2 and all(fps > 0 for fps in load.fps)
        assert load.cpu_s > 0 and load.cpu_ms_per_frame > 0 and load.avg_bytes > 5000
        # One picture, both cameras side by side.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /stream?view=dual&res=720p HTTP/1.1\r\nHost: x\r\n\r\n")
            raw = b""
            while b"\r\n\r\n" not in raw:
                raw += sock.recv(65536)
            head, _, rest = raw.partition(b"\r\n\r\n")
            dechunk = Dechunk() if b"chunked" in head.lower() else None
            data = dechunk.feed(rest) if dechunk else rest
            while b"\xff\xd9" not in data:
                more = sock.recv(65536)
                data += dechunk.feed(more) if dechunk else more
        start = data.index(b"\xff\xd8")
        picture = simplejpeg.decode_jpeg(data[start:data.index(b"\xff\xd9", start) + 2])
        assert picture.shape == (720, 2560, 3) and np.asarray(picture).std() > 5
