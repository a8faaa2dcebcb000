"""Text burned into I420 planes: camera name, date-time, "NO SIGNAL".

A built-in 5x7 bitmap font, scaled by whole pixels.  A label is rendered once into a
small Y patch (white text on a dark box) and pasted each frame with one slice copy per
plane; the chroma under the box is set to neutral so the text stays white on colour.
"""
from __future__ import annotations

import numpy as np

# 5x7 glyphs, seven rows of five per character; '#' is ink.
_GLYPH_ROWS = {
    "0": ".###. #...# #..## #.#.# ##..# #...# .###.", "1": "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.",
    "2": ".###. #...# ....# ...#. ..#.. .#... #####", "3": "##### ...#. ..#.. ...#. ....# #...# .###.",
    "4": "...#. ..##. .#.#. #..#. ##### ...#. ...#.", "5": "##### #.... ####. ....# ....# #...# .###.",
    "6": "..##. .#... #.... ####. #...# #...# .###.", "7": "##### ....# ...#. ..#.. .#... .#... .#...",
    "8": ".###. #...# #...# .###. #...# #...# .###.", "9": ".###. #...# #...# .#### ....# ...#. .##..",
    "A": ".###. #...# #...# ##### #...# #...# #...#", "B": "####. #...# #...# ####. #...# #...# ####.",
    "C": ".###. #...# #.... #.... #.... #...# .###.", "D": "###.. #..#. #...# #...# #...# #..#. ###..",
    "E": "##### #.... #.... ####. #.... #.... #####", "F": "##### #.... #.... ####. #.... #.... #....",
    "G": ".###. #...# #.... #.### #...# #...# .####", "H": "#...# #...# #...# ##### #...# #...# #...#",
    "I": ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.", "J": "..### ...#. ...#. ...#. ...#. #..#. .##..",
    "K": "#...# #..#. #.#.. ##... #.#.. #..#. #...#", "L": "#.... #.... #.... #.... #.... #.... #####",
    "M": "#...# ##.## #.#.# #.#.# #...# #...# #...#", "N": "#...# #...# ##..# #.#.# #..## #...# #...#",
    "O": ".###. #...# #...# #...# #...# #...# .###.", "P": "####. #...# #...# ####. #.... #.... #....",
    "Q": ".###. #...# #...# #...# #.#.# #..#. .##.#", "R": "####. #...# #...# ####. #.#.. #..#. #...#",
    "S": ".#### #.... #.... .###. ....# ....# ####.", "T": "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",
    "U": "#...# #...# #...# #...# #...# #...# .###.", "V": "#...# #...# #...# #...# #...# .#.#. ..#..",
    "W": "#...# #...# #...# #.#.# #.#.# #.#.# .#.#.", "X": "#...# #...# .#.#. ..#.. .#.#. #...# #...#",
    "Y": "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..", "Z": "##### ....# ...#. ..#.. .#... #.... #####",
    " ": "..... ..... ..... ..... ..... ..... .....", ":": "..... .##.. .##.. ..... .##.. .##.. .....",
    "-": "..... ..... ..... .###. ..... ..... .....", "/": "....# ...#. ...#. ..#.. .#... .#... #....",
    ".": "..... ..... ..... ..... ..... .##.. .##..", "%": "##..# ##.#. ...#. ..#.. .#... .#.## #..##",
    "_": "..... ..... ..... ..... ..... ..... #####",
}
_GLYPHS = {ch: rows.replace(" ", "") for ch, rows in _GLYPH_ROWS.items()}
GLYPH_W, GLYPH_H = 5, 7
Y_INK, Y_BOX = 235, 16


def _glyph(ch: str) -> np.ndarray:
    rows = _GLYPHS.get(ch.upper(), _GLYPHS["_"]).ljust(35, ".")[:35]
    return np.array([c == "#" for c in rows], dtype=bool).reshape(GLYPH_H, GLYPH_W)


_FONT = {ch: _glyph(ch) for ch in _GLYPHS}


def render_mask(text: str, scale: int) -> np.ndarray:
    """Boolean ink mask of ``text``: one glyph cell is 6x8 font pixels, each scale x scale."""
    cell_w = GLYPH_W + 1
    mask = np.zeros((GLYPH_H + 1, cell_w * len(text)), dtype=bool)
    for i, ch in enumerate(text):
        mask[:GLYPH_H, i * cell_w:i * cell_w + GLYPH_W] = _FONT.get(ch.upper(), _FONT["_"])
    return np.kron(mask, np.ones((scale, scale), dtype=bool))


class Label:
    """A text patch ready to paste; even offsets and sizes keep the chroma aligned."""

    height: int
    width: int

    def __init__(self, text: str, scale: int, pad: int | None = None) -> None:
        self.text = text
        pad = scale * 2 if pad is None else pad
        mask = render_mask(text, scale)
        h = mask.shape[0] + 2 * pad
        w = mask.shape[1] + 2 * pad
        h += h % 2
        w += w % 2
        self.patch = np.full((h, w), Y_BOX, dtype=np.uint8)
        self.patch[pad:pad + mask.shape[0], pad:pad + mask.shape[1]][mask] = Y_INK
        self.height, self.width = h, w

    def draw(self, y: np.ndarray, u: np.ndarray, v: np.ndarray, x0: int, y0: int) -> None:
        """Paste at (x0, y0) of the Y plane, clipped to the picture."""
        x0 -= x0 % 2
        y0 -= y0 % 2
        h = min(self.height, y.shape[0] - y0)
        w = min(self.width, y.shape[1] - x0)
        if h <= 0 or w <= 0 or x0 < 0 or y0 < 0:
            return
        y[y0:y0 + h, x0:x0 + w] = self.patch[:h, :w]
        u[y0 // 2:(y0 + h) // 2, x0 // 2:(x0 + w) // 2] = 128
        v[y0 // 2:(y0 + h) // 2, x0 // 2:(x0 + w) // 2] = 128


def drawable(name: str, camera: int) -> str:
    """``name`` as the built-in font draws it: a name with letters the font lacks (a Korean
    name, say) is burned in as ``CAM {camera}``, readable in any video player, rather than as
    a row of underscores; the page shows the name itself."""
    return name if all(ch.upper() in _GLYPHS for ch in name) else f"CAM {camera}"


def scale_for(height: int) -> int:
    """Font scale that reads well at a picture height: 2 at 480 lines, 3 at 720."""
    return max(1, height // 240)


def stamp_rows(height: int) -> int:
    """Rows at the top of a picture that :class:`FrameStamp` may draw into."""
    scale = scale_for(height)
    return 2 * scale + Label("0", scale).height


class FrameStamp:
    """Camera name on the left, date and time on the right (the layout CCTV users know).

    The time label is re-rendered only when its text changes, once a second.
    """

    def __init__(self, name: str, width: int, height: int) -> None:
        self.scale = scale_for(height)
        self.name_label = Label(name, self.scale)
        self.width, self.height = width, height
        self._time_text = ""
        self._time_label = Label("", self.scale)   # the text "" until the first draw()
        self.margin = 2 * self.scale

    def draw(self, y: np.ndarray, u: np.ndarray, v: np.ndarray, time_text: str) -> None:
        self.name_label.draw(y, u, v, self.margin, self.margin)
        if time_text != self._time_text:
            self._time_text = time_text
            self._time_label = Label(time_text, self.scale)
        label = self._time_label
        label.draw(y, u, v, self.width - label.width - self.margin, self.margin)


def no_signal(y: np.ndarray, u: np.ndarray, v: np.ndarray, name: str) -> None:
    """Fill a picture with dark grey and "<name> NO SIGNAL" in the middle."""
    y.fill(40)
    u.fill(128)
    v.fill(128)
    label = Label(f"{name} NO SIGNAL", scale_for(y.shape[0]) + 1)
    label.draw(y, u, v, (y.shape[1] - label.width) // 2, (y.shape[0] - label.height) // 2)
