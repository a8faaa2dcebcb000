"""What of a JSON value read from disk matches its declared type.

A state file may come from an older version or be edited by hand, so a reader cannot
trust a ``TypedDict`` cast: :func:`conform` walks the value along the declaration and
keeps only what fits.  A key of a ``TypedDict`` whose value has the wrong type is left
out (missing keys stay missing: the reader's ``.get`` default stands for them), a bad item
of a list or of a ``dict[str, ...]`` is left out, and keys the declaration does not name
are kept as they are.  Only the types status documents use are understood: ``int``,
``float`` (integers too), ``str``, ``bool``, ``None``, unions, ``Literal``, ``list``,
``dict`` and nested ``TypedDict``.

Each declaration is turned into one checking function, once: a status document is read
several times a second, and a recorder's holds some 150 values.
"""
from __future__ import annotations

import functools
import types
from collections.abc import Callable
from typing import Any, Literal, Union, cast, get_args, get_origin, get_type_hints, is_typeddict

MAX_PROBLEMS = 3   # kept for the log line; a bad file may hold thousands

Where = tuple[Any, str | int] | None   # the path to a value, (parent path, key or index); None: the document
Fit = Callable[[object, list[str], Where], object]   # the value as far as it fits, or UNFIT


class _Unfit:
    """The marker for a value that does not match its type."""


UNFIT = _Unfit()


def conform(value: object, kind: Any, problems: list[str]) -> object:
    """``value`` as far as it matches ``kind``, or :data:`UNFIT`; what was left out, and
    where, goes into ``problems`` (at most :data:`MAX_PROBLEMS` of them)."""
    kept = _fit(kind)(value, problems, None)
    if kept is UNFIT:
        _note(problems, None, value, kind)
    return kept


def _note(problems: list[str], where: Where, value: object, kind: Any) -> None:
    if len(problems) >= MAX_PROBLEMS:
        return
    path = ""
    while where is not None:
        where, key = where
        path = (f"[{key}]" if isinstance(key, int) else f".{key}") + path
    name = getattr(kind, "__name__", None) or str(kind).replace("typing.", "")
    problems.append(f"{path.lstrip('.') or 'the document'}: {value!r:.40} is not {name}")


def _exactly(*kinds: type) -> Fit:
    # JSON gives exact types; ``type(v) is int`` also keeps True out of an int (and 1 out of a bool).
    return lambda v, problems, where: v if type(v) in kinds else UNFIT


@functools.cache   # one entry per declared type: a few dozen
def _fit(kind: Any) -> Fit:
    origin, args = get_origin(kind), get_args(kind)
    if kind is Any or kind is object:
        return lambda v, problems, where: v
    if kind is None or kind is type(None):
        return lambda v, problems, where: v if v is None else UNFIT
    if kind is float:
        return _exactly(float, int)
    if kind in (int, str, bool):
        return _exactly(kind)
    if origin is Literal:
        allowed = {(type(a), a) for a in args}
        return lambda v, problems, where: v if type(v) in (str, int, bool) and (type(v), v) in allowed else UNFIT
    if origin is Union or origin is types.UnionType:
        return _union([_fit(a) for a in args])
    if origin is list:
        return _items(list, args[0])
    if origin is dict:
        return _items(dict, args[1])
    if is_typeddict(kind):
        return _typeddict(kind)
    raise TypeError(f"conform: {kind!r} is not a type status documents use")


def _union(options: list[Fit]) -> Fit:
    def fit(v: object, problems: list[str], where: Where) -> object:
        for option in options:
            kept = option(v, problems, where)
            if kept is not UNFIT:
                return kept
        return UNFIT
    return fit


def _items(container: type[list[Any]] | type[dict[Any, Any]], item: Any) -> Fit:
    """A list, or a ``dict[str, ...]``: the items that fit, in a new one."""
    check = _fit(item)

    def fit(v: object, problems: list[str], where: Where) -> object:
        if type(v) is not container:
            return UNFIT
        pairs = enumerate(cast(list[Any], v)) if container is list else cast(dict[str, Any], v).items()
        kept: dict[str | int, object] = {}
        for key, x in pairs:
            y = check(x, problems, (where, key))
            if y is UNFIT:
                _note(problems, (where, key), x, item)
            else:
                kept[key] = y
        return list(kept.values()) if container is list else kept
    return fit


def _typeddict(kind: type) -> Fit:
    # get_type_hints drops Required/NotRequired: every key present is checked alike.
    keys = [(key, _fit(key_kind), key_kind) for key, key_kind in get_type_hints(kind).items()]

    def fit(v: object, problems: list[str], where: Where) -> object:
        if type(v) is not dict:
            return UNFIT
        kept = dict(v)
        for key, check, key_kind in keys:
            if key in kept:
                x = kept[key]
                y = check(x, problems, (where, key))
                if y is UNFIT:
                    _note(problems, (where, key), x, key_kind)
                    del kept[key]
                else:
                    kept[key] = y
        return kept
    return fit
