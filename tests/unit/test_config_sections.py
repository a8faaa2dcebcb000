"""The configuration's declarations: defaults that their own rules allow, and sections that no
process can change once loaded."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from common.config import SCHEMA, load


def test_every_default_is_a_value_its_key_allows() -> None:
    bad = [f"{s}.{k} = {key.default!r}" for s, keys in SCHEMA.items() for k, key in keys.items()
           if not key.allows(key.default)]
    assert bad == []


def test_sections_cannot_be_changed_after_loading(tmp_path: Path) -> None:
    (tmp_path / "sht.toml").write_text("")
    cfg = load({"SHT_CONFIG": str(tmp_path / "sht.toml")})
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.recorder.segment_seconds = 5  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.camera = cfg.camera  # type: ignore[misc]

