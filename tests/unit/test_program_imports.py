"""Each program imports only what it uses: every module imported stays in memory for the
program's whole life."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WEB = ("fastapi", "starlette", "pydantic", "uvicorn")   # the streamer's alone
NOT_IMPORTED = {
    "capture.__main__": (*WEB, "av", "ssl", "sqlite3"),
    "recorder.__main__": (*WEB, "ssl"),
    "motion.__main__": (*WEB, "av", "ssl", "urllib.request"),   # the HTTP client only with a webhook set
    "streamer.app": ("av", "recorder"),                         # PyAV only once an export is made
}


def _imported(module: str) -> set[str]:
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout))


@pytest.mark.slow
@pytest.mark.parametrize("module", sorted(NOT_IMPORTED))
def test_a_program_does_not_import_what_it_does_not_use(module: str) -> None:
    imported = _imported(module)
    assert module in imported
    assert sorted(set(NOT_IMPORTED[module]) & imported) == []


@pytest.mark.slow
def test_a_webhook_brings_the_http_client() -> None:
    code = ("import sys; from motion.webhook import Webhook; w = Webhook('http://127.0.0.1:9/x'); w.close(); "
            "print('urllib.request' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "True", done.stderr
