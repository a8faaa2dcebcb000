"""What the page's files show a user: the text and labels of the HTML bodies, and the string
literals of the scripts, for the check that every word comes from the message catalogue."""
from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

SHOWN_ATTRIBUTES = ("title", "aria-label", "alt", "placeholder", "label")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
TWO_WORDS = re.compile(r"[A-Za-z]{2,}[.,;:!?]?\s+[A-Za-z]{2,}")
CAPITALISED = re.compile(r"^[A-Z][a-z]+\W*$")
CAPITALS = re.compile(r"^[A-Z]{3,}$")
# Machine words, not shown as such: heartbeat states, HTTP methods; REC is shown in every language.
CODE_WORDS = {"LIVE", "DELAY", "OFFLINE", "ERROR", "REC", "HEAD", "POST", "GET"}
CLASS_CONTEXT = re.compile(r"(class:|className\s*=|classList\.\w+\()\s*$")
OBJECT_KEY_BEFORE = re.compile(r"[{,]\s*$")


@dataclass(frozen=True)
class Shown:
    file: str
    line: int
    text: str


class _Body(HTMLParser):
    """Text nodes and shown attributes outside elements that carry a ``lang`` of their own
    (a language's own name in the switch) and outside ``<script>``."""

    def __init__(self, name: str, marker: re.Pattern[str]) -> None:
        super().__init__(convert_charrefs=True)
        self.name, self.marker = name, marker
        self.stack: list[tuple[str, bool]] = []
        self.found: list[Shown] = []

    def _other_language(self) -> bool:
        return any(own for _, own in self.stack)

    def _check(self, text: str) -> None:
        bare = self.marker.sub("", text)
        if not self._other_language() and (LATIN_WORD.search(bare) or HANGUL.search(bare)):
            self.found.append(Shown(self.name, self.getpos()[0], text.strip()))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag not in VOID:
            self.stack.append((tag, "lang" in names or tag == "script"))
        for attr in SHOWN_ATTRIBUTES:
            if names.get(attr):
                self._check(names[attr] or "")

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if data.strip():
            self._check(data)


def html_words(path: Path, marker: re.Pattern[str]) -> list[Shown]:
    """Text in ``path`` that is not a catalogue marker (``marker``): words written into the page."""
    parser = _Body(path.name, marker)
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.found


def _literals(source: str) -> list[tuple[int, str, str, str]]:
    """(line, text, what precedes it, what follows it) of each string literal; a template's
    ${...} parts are left out of its text and scanned for literals of their own."""
    out: list[tuple[int, str, str, str]] = []
    i, n = 0, len(source)

    def scan(i: int, stop: str | None) -> int:
        depth = 0
        while i < n:
            c = source[i]
            if source.startswith("//", i):
                end = source.find("\n", i)
                i = n if end < 0 else end
                continue
            if source.startswith("/*", i):
                i = source.index("*/", i) + 2
                continue
            if stop == "}" and c == "{":
                depth += 1
            elif stop == "}" and c == "}":
                if depth == 0:
                    return i + 1
                depth -= 1
            elif c in "'\"`":
                i = string(i)
                continue
            i += 1
        return i

    def string(i: int) -> int:
        quote, start, text = source[i], i, []
        i += 1
        while i < n and source[i] != quote:
            if source[i] == "\\":
                text.append(source[i:i + 2])
                i += 2
            elif quote == "`" and source.startswith("${", i):
                i = scan(i + 2, "}")
                text.append(" ")
            else:
                text.append(source[i])
                i += 1
        out.append((source.count("\n", 0, start) + 1, "".join(text), source[max(0, start - 24):start],
                    source[i + 1:i + 8]))
        return i + 1

    scan(i, None)
    return out


def script_words(path: Path) -> list[Shown]:
    """String literals in the script ``path`` that read as words shown to a user."""
    found = []
    for line, text, before, after in _literals(path.read_text(encoding="utf-8")):
        bare = text.strip()
        key = OBJECT_KEY_BEFORE.search(before) and after.lstrip().startswith(":")   # a state code as a key
        if bare == "use strict" or CLASS_CONTEXT.search(before) or key:
            continue
        if (HANGUL.search(bare) or TWO_WORDS.search(bare) or CAPITALISED.match(bare)
                or (CAPITALS.match(bare) and bare not in CODE_WORDS)):
            found.append(Shown(path.name, line, bare))
    return found
