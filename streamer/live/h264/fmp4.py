"""Fragmented MP4 for live H.264, written by hand: an init segment, then one small
fragment (``moof`` + ``mdat``) per access unit.

The boxes are the few a Media Source Extensions player needs (ISO/IEC 14496-12 and -15):
``ftyp`` and ``moov`` (one video track, ``avc1`` with its ``avcC``, ``mvex``) once, then per
frame ``moof`` (``mfhd``, ``traf`` with ``tfhd``, ``tfdt``, ``trun``) and ``mdat``.  Samples
are the encoder's Annex B access units with start codes turned into 4-byte lengths.
"""
from __future__ import annotations

import struct

TIMESCALE = 90000
TRACK_ID = 1
_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
_SYNC_FLAGS = 0x02000000       # depends on no other sample
_NON_SYNC_FLAGS = 0x01010000   # depends on others, not a sync sample
_OUT_OF_BAND = (7, 8, 9)       # SPS, PPS and delimiters: they live in avcC, not in samples


def box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I4s", 8 + len(body), kind) + body


def full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    return box(kind, struct.pack(">I", (version << 24) | flags), *payload)


def nal_units(annexb: bytes) -> list[bytes]:
    """The NAL units of an Annex B byte stream (3- or 4-byte start codes)."""
    units = []
    i = annexb.find(b"\x00\x00\x01")
    while i >= 0:
        start = i + 3
        i = annexb.find(b"\x00\x00\x01", start)
        unit = annexb[start:] if i < 0 else annexb[start:i]
        unit = unit.rstrip(b"\x00")   # a 4-byte start code's leading zero, trailing zero words
        if unit:
            units.append(unit)
    return units


def sample(annexb: bytes) -> bytes:
    """An access unit as an MP4 sample: each NAL unit prefixed with its 4-byte length."""
    return b"".join(struct.pack(">I", len(u)) + u for u in nal_units(annexb) if u[0] & 0x1F not in _OUT_OF_BAND)


def parameter_sets(extradata: bytes) -> tuple[list[bytes], list[bytes]]:
    """(SPS list, PPS list) of the encoder's Annex B parameter sets."""
    units = nal_units(extradata)
    return [u for u in units if u[0] & 0x1F == 7], [u for u in units if u[0] & 0x1F == 8]


def codec_string(sps: bytes) -> str:
    """RFC 6381 name, e.g. ``avc1.42C01F`` (profile, constraint flags, level from the SPS)."""
    return f"avc1.{sps[1]:02X}{sps[2]:02X}{sps[3]:02X}"


def _avcc(sps_list: list[bytes], pps_list: list[bytes]) -> bytes:
    sps = sps_list[0]
    out = [bytes([1, sps[1], sps[2], sps[3], 0xFF, 0xE0 | len(sps_list)])]
    out += [struct.pack(">H", len(s)) + s for s in sps_list]
    out.append(bytes([len(pps_list)]))
    out += [struct.pack(">H", len(p)) + p for p in pps_list]
    if sps[1] in (100, 110, 122, 144):
        out.append(bytes([0xFC | 1, 0xF8, 0xF8, 0]))  # 4:2:0, 8-bit (the recorder encodes yuv420p)
    return box(b"avcC", *out)


def init_segment(extradata: bytes, width: int, height: int) -> bytes:
    """``ftyp`` + ``moov`` for one H.264 track; ValueError when SPS or PPS is missing."""
    sps_list, pps_list = parameter_sets(extradata)
    if not sps_list or not pps_list or len(sps_list[0]) < 4:
        raise ValueError("the parameter sets hold no SPS or no PPS")
    ftyp = box(b"ftyp", b"isom", struct.pack(">I", 0x200), b"isom", b"iso6", b"avc1", b"mp41")
    mvhd = full_box(b"mvhd", 0, 0, struct.pack(">IIII", 0, 0, 1000, 0), struct.pack(">IH", 0x10000, 0x100),
                    bytes(10), _MATRIX, bytes(24), struct.pack(">I", TRACK_ID + 1))
    tkhd = full_box(b"tkhd", 0, 3, struct.pack(">IIIII", 0, 0, TRACK_ID, 0, 0), bytes(8),
                    struct.pack(">hhhH", 0, 0, 0, 0), _MATRIX, struct.pack(">II", width << 16, height << 16))
    mdhd = full_box(b"mdhd", 0, 0, struct.pack(">IIII", 0, 0, TIMESCALE, 0), struct.pack(">HH", 0x55C4, 0))
    hdlr = full_box(b"hdlr", 0, 0, bytes(4), b"vide", bytes(12), b"Live\x00")
    avc1 = box(b"avc1", bytes(6), struct.pack(">H", 1), bytes(16), struct.pack(">HH", width, height),
               struct.pack(">II", 0x480000, 0x480000), bytes(4), struct.pack(">H", 1), bytes(32),
               struct.pack(">Hh", 0x18, -1), _avcc(sps_list, pps_list))
    stbl = box(b"stbl", full_box(b"stsd", 0, 0, struct.pack(">I", 1), avc1),
               full_box(b"stts", 0, 0, bytes(4)), full_box(b"stsc", 0, 0, bytes(4)),
               full_box(b"stsz", 0, 0, bytes(8)), full_box(b"stco", 0, 0, bytes(4)))
    dinf = box(b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1), full_box(b"url ", 0, 1)))
    minf = box(b"minf", full_box(b"vmhd", 0, 1, bytes(8)), dinf, stbl)
    trak = box(b"trak", tkhd, box(b"mdia", mdhd, hdlr, minf))
    mvex = box(b"mvex", full_box(b"trex", 0, 0, struct.pack(">IIIII", TRACK_ID, 1, 0, 0, 0)))
    return ftyp + box(b"moov", mvhd, trak, mvex)


# A fragment of one sample has a fixed layout: only the numbers change.
_TRUN_FLAGS = 0x000001 | 0x000100 | 0x000200 | 0x000400   # data offset, duration, size, flags per sample
_MOOF_SIZE = 8 + 16 + 8 + 16 + 20 + 12 + 4 + 4 + 12
_FRAGMENT = struct.Struct(">I4s" "I4sII" "I4s" "I4sII" "I4sIQ" "I4sIIiIII" "I4s")


def fragment(sequence: int, decode_time: int, duration: int, data: bytes, keyframe: bool) -> bytes:
    """``moof`` + ``mdat`` holding one sample (``data``: its length-prefixed NAL units)."""
    head = _FRAGMENT.pack(
        _MOOF_SIZE, b"moof",
        16, b"mfhd", 0, sequence & 0xFFFFFFFF,
        8 + 16 + 20 + 12 + 4 + 4 + 12, b"traf",
        16, b"tfhd", 0x020000, TRACK_ID,                      # default-base-is-moof
        20, b"tfdt", 1 << 24, decode_time,                    # version 1: 64-bit time
        12 + 4 + 4 + 12, b"trun", _TRUN_FLAGS, 1, _MOOF_SIZE + 8,
        duration, len(data), _SYNC_FLAGS if keyframe else _NON_SYNC_FLAGS,
        8 + len(data), b"mdat")
    return head + data
