"""Shared state files as a crash, a full disk or a hand edit leave them: what no reader may trip on."""
from __future__ import annotations

BAD = {
    "garbage": b"\x00\x17 not json at all",
    "truncated": b'{"view": "0", "resolution": "72',
    "invalid_utf8": b'{"view": "\xff\xfe"}',
    "wrong_type": b'[1, 2, 3]',
    "wrong_field_types": b'{"view": 7, "resolution": ["720p"], "recording": "yes", "viewers": 5, "workers": []}',
    "bad_values": b'{"view": "garbage", "resolution": "9000p", "recording": {"0": "no"}}',
    "deep": b"[" * 100_000,
}
