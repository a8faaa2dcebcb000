"""How many exports run at once: one per address, ``streamer.max_exports`` in all, across workers.

A running export holds one of ``max_exports`` slot files in the run folder under an
exclusive ``flock`` and writes its address into it.  The kernel drops the lock of a worker
that dies, kill -9 included, so a slot is never lost; what a free slot's file still says
is not read.  Slots are looked at and taken under one more lock, so two workers can
neither both take the last slot nor both let one address in twice.  The files are the
same few whatever happens.
"""
from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path

from common.state.jsonfile import FileLock

PER_ADDRESS = "address"     # why a slot was refused: this address runs an export already
ALL_TAKEN = "full"          # ... every slot is taken


class ExportSlots:
    def __init__(self, run_dir: Path, count: int) -> None:
        self.run_dir = Path(run_dir)
        self.count = count
        self._guard = FileLock(self.run_dir / "export.lock")

    def _slot(self, k: int) -> Path:
        return self.run_dir / f"export-{k}.lock"

    def take(self, address: str) -> ExitStack | str:
        """A held slot (close it to give the slot back), or why none is given
        (:data:`PER_ADDRESS`, :data:`ALL_TAKEN`)."""
        found: ExitStack | None = None
        with self._guard.held():
            for k in range(self.count):
                stack = ExitStack()
                if stack.enter_context(FileLock(self._slot(k)).try_held()):
                    if found is None:
                        found, path = stack, self._slot(k)
                    else:
                        stack.close()
                    continue
                stack.close()
                if self._holder(k) == address:
                    if found is not None:
                        found.close()
                    return PER_ADDRESS
            if found is None:
                return ALL_TAKEN
            try:
                path.write_text(address)
            except OSError:
                found.close()
                raise
        return found

    def _holder(self, k: int) -> str:
        try:
            with open(self._slot(k), encoding="utf-8", errors="replace") as f:
                return f.read(256)
        except OSError:
            return ""

    def running(self) -> int:
        """How many slots are held now."""
        held = 0
        for k in range(self.count):
            if not os.path.exists(self._slot(k)):
                continue
            with FileLock(self._slot(k)).try_held() as free:
                held += not free
        return held
