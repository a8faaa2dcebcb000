"""The message catalogues and the placeholder grammar of their messages."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LANGUAGES = ("en", "ko")
DEFAULT = "en"
# A parameter in a message: {name}.  The page builds its own expression from this one.
PLACEHOLDER = r"\{([a-z_][a-z0-9_]*)\}"
_PLACEHOLDER = re.compile(PLACEHOLDER)
# The one parameter a translation may leave out: technical words in English (an exception's
# text, a path, a tool's output) that English shows and an owner's Korean says plainly instead.
DETAIL = "detail"


@dataclass(frozen=True)
class Term:
    """A parameter that is itself a message (``Term("capstate.no_signal")``): it is said in
    the language of the message it fills."""
    key: str
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, key: str, **params: Any) -> Term:
        return cls(key, tuple(params.items()))


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

    def fill(m: re.Match[str]) -> str:
        if m[1] not in params:
            return m[0]
        value = params[m[1]]
        return text(lang, value.key, **dict(value.params)) if isinstance(value, Term) else str(value)
    return _PLACEHOLDER.sub(fill, message)


class Said:
    """Messages kept twice: in English (``english``: logs, scripts and older readers keep
    reading those) and in the reader's language ``lang`` (``local``)."""

    def __init__(self, lang: str = DEFAULT) -> None:
        self.lang = lang
        self.english: list[str] = []
        self.local: list[str] = []

    def __call__(self, key: str, **params: Any) -> None:
        self.english.append(text(DEFAULT, key, **params))
        self.local.append(text(self.lang, key, **params))

    def __bool__(self) -> bool:
        return bool(self.english)
