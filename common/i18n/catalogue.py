"""The message catalogues and the placeholder grammar of their messages."""
from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LANGUAGES = ("en", "ko")
DEFAULT = "en"
# A parameter in a message: {name}.  The page builds its own expression from this one.
PLACEHOLDER = r"\{([a-z_][a-z0-9_]*)\}"
_PLACEHOLDER = re.compile(PLACEHOLDER)


@cache
def catalogue(lang: str) -> dict[str, str]:
    """Every message of ``lang`` (one of LANGUAGES), key -> message."""
    if lang not in LANGUAGES:
        raise ValueError(f"no catalogue for language {lang!r}")
    data = json.loads((HERE / f"{lang}.json").read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in data.items()}


def placeholders(message: str) -> set[str]:
    return set(_PLACEHOLDER.findall(message))


def text(lang: str, key: str, **params: Any) -> str:
    """The message ``key`` in ``lang`` with its parameters filled in.  A key missing in ``lang``
    falls back to English, then to the key itself; a parameter not given stays as written."""
    message = catalogue(lang if lang in LANGUAGES else DEFAULT).get(key) or catalogue(DEFAULT).get(key, key)
    return _PLACEHOLDER.sub(lambda m: str(params[m[1]]) if m[1] in params else m[0], message)
