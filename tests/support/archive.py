"""What the archive index lists, for tests: refreshed from the disk first, as every reader does."""
from __future__ import annotations

from pathlib import Path

from common.archive.index import ArchiveIndex, Recording


def oldest_first(root: Path) -> list[Recording]:
    """Every finished segment under ``root`` in retention's order (oldest first)."""
    index = ArchiveIndex(root)
    try:
        index.refresh()
        return list(index.oldest_first())
    finally:
        index.close()
