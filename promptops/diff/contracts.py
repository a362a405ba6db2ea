"""Breaking changes to a prompt's contract: its inputs and its output, both JSON Schemas.

A change breaks callers when the new input schema refuses a value the old one accepted, and breaks
consumers when the new output schema allows an answer the old one did not (`_admits_more`).
"""

from __future__ import annotations

import json
from typing import Any

from ..model import Prompt
from .model import Change, _plain


def _inputs(old: Prompt, new: Prompt) -> list[Change]:
    out = []
    for name in sorted(set(old.inputs) | set(new.inputs)):
        a, b = old.inputs.get(name), new.inputs.get(name)
        if _plain(a) == _plain(b):
            continue
        reasons: list[str] = []
        if a is not None and b is not None:
            # Callers break when the new schema rejects a value the old one accepted.
            reasons = _admits_more(_plain(b), _plain(a), f"inputs.{name}", forward=False, tolerant=False)
        out.append(
            Change(
                "frontmatter", f"inputs.{name}", _plain(a), _plain(b), True, bool(reasons), False, "; ".join(reasons)
            )
        )
    return out


def _output_breaks(old: Any, new: Any) -> list[str]:
    """Why a consumer of the JSON answer may break: the new schema allows answers the old one did not."""
    if old is None:
        return ["the answer becomes JSON checked against a schema (it was free text)"]
    if new is None:
        return ["the answer is no longer JSON checked against a schema"]
    return _admits_more(_plain(old), _plain(new), "output", forward=True, tolerant=True)


_ANNOTATIONS = frozenset(
    {"description", "title", "examples", "$comment", "default", "deprecated", "readOnly", "writeOnly"}
)
_LOWER = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties", "minContains")
_UPPER = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties", "maxContains")
_SUBSCHEMA = ("items", "additionalProperties", "contains", "propertyNames", "unevaluatedProperties")
_ALL_TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})
_NONE = object()


def _admits_more(narrow: Any, wide: Any, at: str, *, forward: bool, tolerant: bool) -> list[str]:
    """Reasons `wide` may accept a value `narrow` rejects, worded as the change before -> after.

    `forward`: narrow is the old schema (an output: new answers may surprise its consumer); otherwise narrow
    is the new one (an input: values callers sent may now be refused). `tolerant`: the consumer ignores
    properties it does not know, so new properties break nothing. Every keyword is a constraint, so one
    only `wide` has cannot loosen it; a keyword this cannot compare counts as a reason (conservative).
    """
    if narrow == wide or narrow is True or narrow == {} or wide is False:
        return []
    if not isinstance(narrow, dict) or not isinstance(wide, dict):
        return [f"{at}: {_moved(narrow, wide, forward)}"]
    reasons: list[str] = []
    for key in sorted((set(narrow) | set(wide)) - _ANNOTATIONS):
        a, b = narrow.get(key, _NONE), wide.get(key, _NONE)
        if a == b or (a is _NONE and key != "properties"):
            continue
        where = f"{at}.{key}"
        if key == "type":
            if _types(b) - _types(a) - ({"integer"} if "number" in _types(a) else set()):
                old_t, new_t = (a, b) if forward else (b, a)
                reasons.append(f"{at}: type {_type_names(old_t)} → {_type_names(new_t)}")
        elif key in ("enum", "const"):
            allowed = a if key == "enum" else [a]
            values = None if b is _NONE else b if key == "enum" else [b]
            extra = None if values is None else [v for v in values if v not in allowed]
            if extra is None:
                reasons.append(f"{where}: {_moved(a, b, forward)}")
            elif extra:
                reasons.append(f"{at}: {'now allows' if forward else 'no longer allows'} {_show(extra)}")
        elif key == "required":
            for name in sorted(set(a) - set(b if b is not _NONE else [])):
                reasons.append(f"{at}: {name!r} is {'no longer' if forward else 'now'} required")
        elif key == "properties":
            reasons += _properties(narrow, wide, at, forward=forward, tolerant=tolerant)
        elif key in _SUBSCHEMA:
            if not (key == "additionalProperties" and tolerant):
                reasons += _admits_more(a, True if b is _NONE else b, where, forward=forward, tolerant=tolerant)
        elif key in _LOWER or key in _UPPER:
            numbers = isinstance(a, int | float) and isinstance(b, int | float)
            if b is _NONE or (numbers and (b < a if key in _LOWER else b > a)):
                reasons.append(f"{where}: {_moved(a, b, forward)}")
        elif key != "uniqueItems" or a is True:
            reasons.append(f"{where}: {_moved(a, b, forward)}")
    return reasons


def _moved(narrow: Any, wide: Any, forward: bool) -> str:
    before, after = (narrow, wide) if forward else (wide, narrow)
    return f"{_show(before)} → {_show(after)}"


def _properties(narrow: dict[str, Any], wide: dict[str, Any], at: str, *, forward: bool, tolerant: bool) -> list[str]:
    a, b = narrow.get("properties", {}), wide.get("properties", {})
    if not isinstance(a, dict) or not isinstance(b, dict):
        return [f"{at}.properties: changed"]
    reasons = []
    for name in sorted(set(a) | set(b)):
        if name in a and name in b:
            reasons += _admits_more(a[name], b[name], f"{at}.{name}", forward=forward, tolerant=tolerant)
        elif name in a and wide.get("additionalProperties", True) is not False:
            # The property is no longer described: anything goes under its name.
            reasons.append(f"{at}.{name}: {'removed' if forward else 'added'}")
        elif name in b and not tolerant and narrow.get("additionalProperties", True) is False:
            reasons.append(f"{at}.{name}: {'added' if forward else 'removed'}")
    return reasons


def _types(value: Any) -> set[str]:
    if value is _NONE:
        return set(_ALL_TYPES)
    return {value} if isinstance(value, str) else {str(v) for v in value} if isinstance(value, list) else set()


def _type_names(value: Any) -> str:
    if value is _NONE:
        return "any"
    return value if isinstance(value, str) else "|".join(str(v) for v in value)


def _show(value: Any) -> str:
    if value is _NONE:
        return "(none)"
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
