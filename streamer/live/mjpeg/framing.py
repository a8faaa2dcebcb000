"""The bytes of a live stream: multipart/x-mixed-replace parts and their HTTP/1.1 chunks.

A picture is one part: a head (boundary and headers), the JPEG, CRLF.  On HTTP/1.1 the
body is in chunked transfer coding and each part travels as exactly one chunk, so the
coding costs one short prefix per picture.  Parts are sequences of buffers for one
``writev``: the JPEG is referenced, never copied.
"""
from __future__ import annotations

from collections.abc import Sequence

BOUNDARY = b"frame"
MEDIA_TYPE = "multipart/x-mixed-replace; boundary=" + BOUNDARY.decode()
CRLF = b"\r\n"
_CHUNK_END = CRLF + CRLF     # the part's closing CRLF, then the chunk's
_HEAD = (b"--" + BOUNDARY + b"\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n"
         b"X-Timestamp: %d.%06d\r\nX-Frame-Index: %d\r\nX-Capture-Monotonic-Ns: %d\r\n\r\n")

Buffer = bytes | memoryview


def part_head(jpeg_size: int, index: int, wall_ns: int, mono_ns: int) -> bytes:
    """Boundary and headers of a part; X-Timestamp is wall-clock seconds to the microsecond."""
    seconds, micros = divmod(wall_ns // 1000, 1_000_000)
    return _HEAD % (jpeg_size, seconds, micros, index, mono_ns)


def plain(head: bytes, jpeg: bytes) -> tuple[bytes, bytes, bytes]:
    """The part as it is (a body without transfer coding)."""
    return head, jpeg, CRLF


def chunk_coded(head: bytes, jpeg: bytes) -> tuple[bytes, bytes, bytes]:
    """The part ``head + jpeg + CRLF`` as one HTTP/1.1 chunk: size line and head, JPEG, CRLFs."""
    return b"%x\r\n%b" % (len(head) + len(jpeg) + 2, head), jpeg, _CHUNK_END


def cut(pieces: Sequence[Buffer], size: int) -> list[Buffer]:
    """``pieces`` as writes of at most ``size`` bytes: long ones as views of themselves."""
    out: list[Buffer] = []
    for piece in pieces:
        if len(piece) <= size:
            out.append(piece)
        else:
            view = memoryview(piece)
            out.extend(view[at:at + size] for at in range(0, len(view), size))
    return out


def rest(pieces: Sequence[Buffer], sent: int) -> list[Buffer]:
    """What is left of ``pieces`` after their first ``sent`` bytes went out (views, no copies)."""
    for i, piece in enumerate(pieces):
        size = len(piece)
        if sent < size:
            return [memoryview(piece)[sent:] if sent else piece, *pieces[i + 1:]]
        sent -= size
    return []
