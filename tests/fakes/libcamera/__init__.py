"""A stand-in for the parts of libcamera's Python binding that the project and the fake
``picamera2`` use: ``ColorSpace`` (with its presets and fields), ``Transform`` and
``controls.AfModeEnum``.

The real binding is C++ (pybind11) and exists only on a Raspberry Pi; the names used here
are the ones picamera2's own source uses (``ColorSpace.Sycc()``, ``.range``,
``ColorSpace.Range.Full``, ``.ycbcrEncoding`` ...), which the contract test checks.
"""
from __future__ import annotations

import enum

from . import controls

__all__ = ["ColorSpace", "Transform", "controls"]


class ColorSpace:
    class Primaries(enum.Enum):
        Raw = 0
        Smpte170m = 1
        Rec709 = 2
        Rec2020 = 3

    class TransferFunction(enum.Enum):
        Linear = 0
        Srgb = 1
        Rec709 = 2

    class YcbcrEncoding(enum.Enum):
        Null = 0
        Rec601 = 1
        Rec709 = 2
        Rec2020 = 3

    class Range(enum.Enum):
        Full = 0
        Limited = 1

    def __init__(self, primaries=None, transferFunction=None, ycbcrEncoding=None, range=None) -> None:
        if isinstance(primaries, ColorSpace):  # the copy constructor
            primaries, transferFunction, ycbcrEncoding, range = (primaries.primaries, primaries.transferFunction,
                                                                 primaries.ycbcrEncoding, primaries.range)
        self.primaries, self.transferFunction = primaries, transferFunction
        self.ycbcrEncoding, self.range = ycbcrEncoding, range

    @staticmethod
    def Raw() -> ColorSpace:
        C = ColorSpace
        return C(C.Primaries.Raw, C.TransferFunction.Linear, C.YcbcrEncoding.Null, C.Range.Full)

    @staticmethod
    def Sycc() -> ColorSpace:
        C = ColorSpace
        return C(C.Primaries.Rec709, C.TransferFunction.Srgb, C.YcbcrEncoding.Rec601, C.Range.Full)

    @staticmethod
    def Smpte170m() -> ColorSpace:
        C = ColorSpace
        return C(C.Primaries.Smpte170m, C.TransferFunction.Rec709, C.YcbcrEncoding.Rec601, C.Range.Limited)

    @staticmethod
    def Rec709() -> ColorSpace:
        C = ColorSpace
        return C(C.Primaries.Rec709, C.TransferFunction.Rec709, C.YcbcrEncoding.Rec709, C.Range.Limited)

    def _key(self) -> tuple:
        return self.primaries, self.transferFunction, self.ycbcrEncoding, self.range

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ColorSpace) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def toString(self) -> str:
        for name in ("Sycc", "Smpte170m", "Rec709", "Raw"):
            if self == getattr(ColorSpace, name)():
                return name
        return "/".join(str(getattr(x, "name", x)) for x in self._key())

    def __repr__(self) -> str:
        return f"<libcamera.ColorSpace '{self.toString()}'>"


class Transform:
    def __init__(self, hflip: int = 0, vflip: int = 0, transpose: int = 0) -> None:
        self.hflip, self.vflip, self.transpose = hflip, vflip, transpose
