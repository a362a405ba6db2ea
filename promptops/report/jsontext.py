"""JSON text indented by two spaces, exactly as `json.dumps(value, indent=2)` writes it, built without the
standard library's indenting encoder: that one is pure Python and runs a generator per nested value, which for
a report of 10,000 results (about 600,000 values) costs several times the text's own work. Strings go through
the same C function the standard encoder uses, numbers through the same `repr`, so the text is byte-identical
(a property test holds it to `json.dumps` on generated values).

A dataclass is written as the object of its fields in declaration order (tuples as lists), the text of
`json.dumps` of the dict `dataclasses.asdict` would make, without making it: the report's results, cases and
suites are written straight from their objects. The fields declared as scalars (str, int, float, bool, None, a
Literal of them) or as optional (`X | None`) that follow each other are written by the C encoder in one call per
object, when they all hold scalars (else field by field).

A dataclass whose fields hold scalars, empty dicts, other such dataclasses or lists of them (a result and its
checks, a case summary) is written in one go: the C encoder writes all its scalars in one call, and they are
put in a template of the text around them, made once for each shape of object (its classes, how many items each
list holds). `texts_at` makes the indented text and the one-line text of the same object from one such call."""

from __future__ import annotations

import dataclasses
import functools
import json
import operator
import re
import types
import typing
from collections.abc import Callable
from json.encoder import encode_basestring_ascii
from typing import Any

from .. import digest

INDENT = "  "
_INFINITY = float("inf")
_SCALARS = frozenset({str, int, float, bool, type(None)})
_EMPTY = frozenset({dict, list, tuple})  # written "{}" or "[]" when empty, at any depth
_PLAIN_HINTS = frozenset({str, int, float, bool, type(None)})
# A dataclass's fields as segments: (names, getter) where `getter` returns the values of a run of fields
# declared as scalars in one tuple, or None for a field written on its own (a nested value).
Segments = tuple[tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]] | None], ...]


class Raw(str):
    """JSON text made beforehand by `dumps_at` for the depth it is written at: written as it is."""

    __slots__ = ()


def dumps(value: Any) -> str:
    """`json.dumps(value, indent=2)`: the same text (a dataclass as the dict of its fields, a `Raw` as its text); a
    TypeError for a value JSON cannot hold."""
    out: list[str] = []
    _write(value, out, "\n")
    return "".join(out)


def dumps_at(value: Any, depth: int) -> Raw:
    """The text `dumps` writes for `value` as an item `depth` levels down (the items of a list that is the value
    of a top-level key are at depth 2), to be written later as a `Raw`."""
    out: list[str] = []
    _write(value, out, "\n" + INDENT * depth)
    return Raw("".join(out))


def texts_at(value: Any, depth: int) -> tuple[Raw, str]:
    """`dumps_at(value, depth)` and `json.dumps(value)` (the one-line text, a dataclass as its fields), made
    together: for a result, the report's text of it and the text the results store keeps."""
    segments = _segments(type(value))  # type: ignore[arg-type]
    found = _values_of(value, segments) if segments is not None else None
    if found is None:
        text = dumps_at(value, depth)
        return text, compact(text)
    shape, parts = found
    return Raw(_template(shape, "\n" + INDENT * depth) % parts), _template(shape, None) % parts


def compact(text: str) -> str:
    """The text `json.dumps(value)` writes (separators ", " and ": ", one line) for the text `dumps` or `dumps_at`
    wrote: its line breaks and indents taken out. Every line break in it is one the indenting made (a string's
    own are escaped), so this is two searches instead of a second encoding of the value."""
    return _BREAK.sub("", _ITEM_BREAK.sub(", ", text))


_ITEM_BREAK = re.compile(r",\n *")
_BREAK = re.compile(r"\n *")


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value == _INFINITY:
        return "Infinity"
    if value == -_INFINITY:
        return "-Infinity"
    return float.__repr__(value)


def _scalar(value: Any) -> str | None:
    """The text of a value that holds no other (None when it is a container or not JSON)."""
    kind = type(value)
    if kind is str:
        return encode_basestring_ascii(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if kind is int:
        return int.__repr__(value)
    if kind is float:
        return _float(value)
    if isinstance(value, str):  # subclasses, as the standard encoder takes them
        return encode_basestring_ascii(value)
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return _float(value)
    return None


def _key(key: Any) -> str:
    if isinstance(key, str):
        return encode_basestring_ascii(key)
    if isinstance(key, (bool, int, float)) or key is None:
        # Keys that are not strings become the string of their JSON text ("1", "true", "NaN").
        return encode_basestring_ascii(json.dumps(key))
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


@functools.cache
def _flat(inner: str) -> Callable[[Any], str]:
    """The C encoder of a mapping or list of scalars whose items start lines with `inner` (newline, indent):
    it writes them `{"a": 1,<inner>"b": 2}`, the standard text but for the line breaks at the brackets."""
    return digest.encoding(json.JSONEncoder(separators=("," + inner, ": "), default=_refuse))


def _refuse(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


@functools.cache
def _segments(cls: type) -> Segments | None:
    """How a dataclass is written (None for any other type): its runs of scalar fields, then the others."""
    if not dataclasses.is_dataclass(cls):
        return None
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # an annotation that does not resolve: every field is then written on its own
        hints = {}
    runs: list[tuple[list[str], bool]] = []
    for f in dataclasses.fields(cls):
        scalar = _plain_hint(hints.get(f.name))
        if scalar and runs and runs[-1][1]:
            runs[-1][0].append(f.name)
        else:
            runs.append(([f.name], scalar))
    return tuple((tuple(names), _getter(names) if scalar else None) for names, scalar in runs)


def _plain_hint(hint: Any) -> bool:
    """Whether a field's declared type holds scalars, or may be None (an override, most often absent): such fields
    are written in runs, and a run holding another value at the time is written field by field."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        arms = typing.get_args(hint)
        return type(None) in arms or all(_plain_hint(arm) for arm in arms)
    if origin is typing.Literal:
        return all(type(arg) in _SCALARS for arg in typing.get_args(hint))
    return hint in _PLAIN_HINTS


def _getter(names: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    if len(names) == 1:
        name = names[0]
        return lambda obj: (getattr(obj, name),)
    return operator.attrgetter(*names)


# The scalars of a dataclass (nested ones included), written in one call to the C encoder as the items of a list
# separated by a NUL, which no JSON text of a scalar holds (a string's own is escaped): split there, they are the
# texts of the values, in order.
_SEPARATOR = "\x00"
_VALUES = digest.encoding(json.JSONEncoder(separators=(_SEPARATOR, ": "), default=_refuse))
Shape = tuple[Any, ...]  # (class, shapes of its fields written on their own), ("list", item shapes), or a mark
_SCALAR, _EMPTY_DICT = "scalar", "{}"


def _values_of(obj: Any, segments: Segments) -> tuple[Shape, tuple[str, ...]] | None:
    """The shape of a dataclass and the texts of its scalars in the order they are written, or None when it holds
    a value of another kind (a dict with items, a float subclass, ...), which the general writer then writes."""
    values: list[Any] = []
    shape = _flatten(obj, segments, values)
    if shape is None:
        return None
    if not values:
        return shape, ()
    return shape, tuple(_VALUES(values)[1:-1].split(_SEPARATOR))


def _flatten(obj: Any, segments: Segments, values: list[Any]) -> Shape | None:
    fields: list[Any] = []
    for names, getter in segments:
        if getter is not None:
            run = getter(obj)
            if not _SCALARS.issuperset(map(type, run)):
                return None
            values.extend(run)
            continue
        shape = _shape_of(getattr(obj, names[0]), values)
        if shape is None:
            return None
        fields.append(shape)
    return type(obj), tuple(fields)


def _shape_of(value: Any, values: list[Any]) -> Shape | str | None:
    """The shape of a value written on its own (appending its scalars to `values`), or None (see `_values_of`)."""
    kind = type(value)
    if kind in _SCALARS:
        values.append(value)
        return _SCALAR
    if kind is tuple or kind is list:
        items = []
        for item in value:
            shape = _shape_of(item, values)
            if shape is None:
                return None
            items.append(shape)
        return "list", tuple(items)
    if kind is dict and not value:
        return _EMPTY_DICT
    segments = _segments(kind)  # type: ignore[arg-type]
    return _flatten(value, segments, values) if segments is not None else None


@functools.lru_cache(maxsize=1024)
def _template(shape: Shape, newline: str | None) -> str:
    """The text of an object of this shape with `%s` for each scalar: indented as `_write` writes it when
    `newline` is given (the line break and indent of its level), else on one line as `json.dumps` writes it."""
    out: list[str] = []
    _shape_text(shape, newline, out)
    return "".join(out)


def _shape_text(shape: Any, newline: str | None, out: list[str]) -> None:
    if shape == _SCALAR:
        out.append("%s")
    elif shape == _EMPTY_DICT:
        out.append("{}")
    elif shape[0] == "list":
        items = shape[1]
        if not items:
            out.append("[]")
            return
        inner = None if newline is None else newline + INDENT
        lead = "[" if inner is None else "[" + inner
        for item in items:
            out.append(lead)
            _shape_text(item, inner, out)
            lead = ", " if inner is None else "," + inner
        out.append("]" if newline is None else newline + "]")
    else:
        cls, own = shape
        segments = _segments(cls)
        assert segments is not None
        if not segments:
            out.append("{}")
            return
        inner = None if newline is None else newline + INDENT
        lead = "{" if inner is None else "{" + inner
        fields = iter(own)
        for names, getter in segments:
            for name in names:
                out.append(lead + encode_basestring_ascii(name).replace("%", "%%") + ": ")
                if getter is not None:
                    out.append("%s")
                else:
                    _shape_text(next(fields), inner, out)
                lead = ", " if inner is None else "," + inner
        out.append("}" if newline is None else newline + "}")


def _write_fields(obj: Any, segments: Segments, out: list[str], newline: str) -> None:
    """Append the text of a dataclass: the object of its fields, as `_write` writes a dict."""
    if not segments:
        out.append("{}")
        return
    found = _values_of(obj, segments)
    if found is not None:
        shape, parts = found
        out.append(_template(shape, newline) % parts)
        return
    inner = newline + INDENT
    flat = _flat(inner)
    lead = "{" + inner
    for names, getter in segments:
        if getter is not None:
            values = getter(obj)
            if _SCALARS.issuperset(map(type, values)):
                out.append(lead + flat(dict(zip(names, values, strict=True)))[1:-1])
                lead = "," + inner
                continue
        for name in names:  # a nested value, or a run holding a value that is not of a plain scalar type
            out.append(f"{lead}{encode_basestring_ascii(name)}: ")
            _write(getattr(obj, name), out, inner)
            lead = "," + inner
    out.append(newline + "}")


def _write(value: Any, out: list[str], newline: str) -> None:
    """Append the text of `value`, whose first line is already indented; `newline` ends a line at its level."""
    if type(value) is Raw:
        out.append(value)
        return
    text = _scalar(value)
    if text is not None:
        out.append(text)
        return
    segments = _segments(type(value))  # type: ignore[arg-type]
    if segments is not None:
        _write_fields(value, segments, out, newline)
        return
    if isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        inner = newline + INDENT
        flat = _flat(inner)
        lead = "{" + inner
        run: dict[Any, Any] = {}  # consecutive items the C encoder writes in one call
        for key, item in value.items():
            kind = type(item)
            if kind in _SCALARS or (not item and kind in _EMPTY):
                run[key] = item
                continue
            if run:
                out.append(lead + flat(run)[1:-1])
                lead, run = "," + inner, {}
            out.append(f"{lead}{_key(key)}: ")
            _write(item, out, inner)
            lead = "," + inner
        if run:
            out.append(lead + flat(run)[1:-1])
        out.append(newline + "}")
        return
    if isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        inner = newline + INDENT
        lead = "[" + inner
        for item in value:
            if type(item) in _SCALARS:
                out.append(lead + str(_scalar(item)))
            elif type(item) is Raw:  # a result written while the run went on
                out.append(lead + item)
            elif (segments := _segments(type(item))) is not None:  # type: ignore[arg-type]  # results, cases
                out.append(lead)
                _write_fields(item, segments, out, inner)
            elif (text := _scalar(item)) is None:
                out.append(lead)
                _write(item, out, inner)
            else:
                out.append(lead + text)
            lead = "," + inner
        out.append(newline + "]")
        return
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
