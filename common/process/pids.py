"""Process liveness, for owners recorded by pid in shared files and segments."""
from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """True when a process with this pid exists (signal 0 checks without sending)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
