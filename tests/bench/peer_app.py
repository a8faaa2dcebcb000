"""The naive MJPEG server, for comparison: what most camera servers written in Python do.

One FastAPI streaming generator per viewer.  For every frame and every viewer it takes the
newest frame, converts I420 to BGR and JPEG-encodes it with OpenCV (the pattern of the
system this replaces and of Frigate's MJPEG feed).  It reads the same rings as our
streamer, so both serve the very same frames.

    python -m tests.bench.peer_app --port 8123      # ring prefix from the configuration
"""
from __future__ import annotations

import argparse

import cv2
import numpy as np
import uvicorn
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

from common.config import load_or_exit
from common.ipc.frame_reader import RingReader
from common.ipc.names import ring_name

BOUNDARY = "frame"
QUALITY = 80


def create_app(prefix: str) -> FastAPI:
    app = FastAPI()

    def frames(cams: list[int], stream: str):
        readers = [RingReader(ring_name(prefix, cam, stream)) for cam in cams]
        try:
            while True:
                frame = readers[0].next_frame(1.0)
                if frame is None:
                    continue
                pictures = [cv2.cvtColor(frame.data, cv2.COLOR_YUV2BGR_I420)]
                for reader in readers[1:]:
                    other = reader.latest()
                    pictures.append(cv2.cvtColor(other.data, cv2.COLOR_YUV2BGR_I420) if other is not None
                                    else np.zeros_like(pictures[0]))
                picture = cv2.hconcat(pictures) if len(pictures) > 1 else pictures[0]
                ok, jpeg = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
                if not ok:
                    continue
                body = jpeg.tobytes()
                yield (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(body)}\r\n\r\n"
                       .encode() + body + b"\r\n")
        finally:
            for reader in readers:
                reader.close()

    @app.get("/stream")
    def stream(view: str = "dual", res: str = "720p") -> StreamingResponse:
        cams = [0, 1] if view == "dual" else [int(view)]
        return StreamingResponse(frames(cams, "hd" if res == "720p" else "sd"),
                                 media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}")

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.peer_app")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    cfg = load_or_exit()
    uvicorn.run(create_app(cfg.ring.prefix), host="127.0.0.1", port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
