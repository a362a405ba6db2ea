"""JSON text indented by two spaces, exactly as `json.dumps(value, indent=2)` writes it, built without the
standard library's indenting encoder: that one is pure Python and runs a generator per nested value, which for
a report of 10,000 results (about 600,000 values) costs several times the text's own work. Strings go through
the same C function the standard encoder uses, numbers through the same `repr`, so the text is byte-identical
(a property test holds it to `json.dumps` on generated values)."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

INDENT = "  "
_INFINITY = float("inf")
_SCALARS = frozenset({str, int, float, bool, type(None)})
_EMPTY = frozenset({dict, list, tuple})  # written "{}" or "[]" when empty, at any depth


def dumps(value: Any) -> str:
    """`json.dumps(value, indent=2)`: the same text; a TypeError for a value JSON cannot hold."""
    out: list[str] = []
    _write(value, out, "\n")
    return "".join(out)


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
    if c_make_encoder is None:  # an interpreter without the C accelerator
        return json.JSONEncoder(separators=("," + inner, ": ")).encode
    encode = c_make_encoder(None, _refuse, encode_basestring_ascii, None, ": ", "," + inner, False, False, True)
    return lambda value: "".join(encode(value, 0))


def _refuse(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _write(value: Any, out: list[str], newline: str) -> None:
    """Append the text of `value`, whose first line is already indented; `newline` ends a line at its level."""
    text = _scalar(value)
    if text is not None:
        out.append(text)
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
            text = _scalar(item)
            if text is None:
                out.append(lead)
                _write(item, out, inner)
            else:
                out.append(lead + text)
            lead = "," + inner
        out.append(newline + "]")
        return
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
