"""The bytes of a live stream: part heads, the one-chunk coding, cutting and resuming writes."""
from __future__ import annotations

import os

import pytest

from streamer.live.mjpeg import framing
from tests.support.multipart import Dechunk, Multipart, parse_parts

SIZES = [0, 1, 2, 15, 16, 17, 100, 4093, 16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1, 200_000]


def _jpeg(size: int) -> bytes:
    return os.urandom(size)


def _source(piece: bytes | memoryview) -> int:
    """Identity of the object a piece's bytes live in."""
    return id(piece.obj if isinstance(piece, memoryview) else piece)


def test_part_head_carries_length_index_and_both_times():
    head = framing.part_head(104, 7, 1_700_000_000_123_456_789, 42)
    assert head.startswith(b"--" + framing.BOUNDARY + b"\r\n") and head.endswith(b"\r\n\r\n")
    part = next(parse_parts([head, bytes(104), framing.CRLF, b"--frame\r\n"]))
    assert part.headers == {"content-type": "image/jpeg", "content-length": "104",
                            "x-timestamp": "1700000000.123456", "x-frame-index": "7",
                            "x-capture-monotonic-ns": "42"}
    # Microseconds keep their leading zeros; a NO SIGNAL picture has index -1.
    assert b"X-Timestamp: 5.000007\r\n" in framing.part_head(1, -1, 5_000_007_000, 0)
    assert b"X-Frame-Index: -1\r\n" in framing.part_head(1, -1, 5_000_007_000, 0)
    assert framing.MEDIA_TYPE == "multipart/x-mixed-replace; boundary=frame"


@pytest.mark.parametrize("size", SIZES)
def test_chunk_coding_reproduces_the_part_and_references_the_jpeg(size):
    jpeg = _jpeg(size)
    head = framing.part_head(size, 3, 1_000_000_000, 5)
    pieces = framing.chunk_coded(head, jpeg)
    assert pieces[1] is jpeg                      # referenced, not copied
    assert sum(len(p) for i, p in enumerate(pieces) if i != 1) < len(head) + 16
    wire = b"".join(pieces)
    dechunk = Dechunk()
    assert dechunk.feed(wire + b"0\r\n\r\n") == head + jpeg + framing.CRLF
    assert dechunk.finished and dechunk.left == 0 and not dechunk.pending
    assert b"".join(framing.plain(head, jpeg)) == head + jpeg + framing.CRLF
    assert framing.plain(head, jpeg)[1] is jpeg


@pytest.mark.parametrize("step", [1, 7, 4096, 65536])
def test_a_stream_of_chunk_coded_parts_reads_back_split_anywhere(step):
    jpegs = [_jpeg(size) for size in SIZES if size]
    wire = b"".join(b"".join(framing.chunk_coded(framing.part_head(len(j), i, 10**9, i), j))
                    for i, j in enumerate(jpegs)) + b"0\r\n\r\n"
    dechunk, mp = Dechunk(), Multipart(keep=True)
    parts = []
    for at in range(0, len(wire), step):
        mp.feed(dechunk.feed(wire[at:at + step]))
        parts += mp.take()
    assert dechunk.finished
    assert [p.jpeg for p in parts] == jpegs and [p.index for p in parts] == list(range(len(jpegs)))


@pytest.mark.parametrize("size", [1, 2, 1000, 16 * 1024, 32 * 1024])
@pytest.mark.parametrize("jpeg_size", [0, 5, 16 * 1024, 16 * 1024 + 3, 100_000])
def test_cut_makes_bounded_writes_of_views(size, jpeg_size):
    jpeg = _jpeg(jpeg_size)
    pieces = framing.chunk_coded(framing.part_head(jpeg_size, 0, 0, 0), jpeg)
    cut = framing.cut(pieces, size)
    assert b"".join(cut) == b"".join(pieces)
    assert all(len(p) <= size or p is pieces[0] or p is pieces[2] for p in cut)
    assert all(_source(p) in map(id, pieces) for p in cut)   # no copies


@pytest.mark.parametrize("jpeg_size", [0, 1, 1000, 70_000])
def test_rest_is_what_a_short_write_left(jpeg_size):
    jpeg = _jpeg(jpeg_size)
    pieces = framing.chunk_coded(framing.part_head(jpeg_size, 0, 0, 0), jpeg)
    wire = b"".join(pieces)
    for sent in sorted({0, 1, len(pieces[0]) - 1, len(pieces[0]), len(pieces[0]) + 1, len(wire) // 2,
                        len(wire) - 3, len(wire) - 1, len(wire)}):
        if not 0 <= sent <= len(wire):
            continue
        rest = framing.rest(pieces, sent)
        assert b"".join(rest) == wire[sent:]
        assert all(_source(p) in map(id, pieces) for p in rest)   # no copies
    assert framing.rest(pieces, len(wire)) == []
