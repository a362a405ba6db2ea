"""JSON Schema without jsonschema, for the common case: `fast_check` compiles a schema into plain Python checks
that pass valid data, and `_plainly_valid` recognises a schema that is valid without the metaschema.

Both answer only "yes" or "ask jsonschema": validation.py runs the full validator, which words the errors, only
on a "no". Patterns run on the budgeted regex engine, as in validation.py's validator classes, except plain
anchored ones (`_PLAIN`), which match alike on the standard library's `re` and cannot backtrack for long.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from typing import Any

from . import budget

# A pattern anchored at the start, with no group, alternation, escape, nested or combined set, and at most one
# quantifier, matches alike on both engines and cannot backtrack for long: the standard library runs it, so
# checking a file against our published schemas does not import the `regex` engine. Any other pattern (and one
# the standard library refuses) takes the budgeted engine.
_ATOM = r"(?:[^\\()|\[\]{}*+?^$.]|\[\^?[^\\\[\]]+\])"
_PLAIN = re.compile(rf"\^(?:{_ATOM}+[*+?])?{_ATOM}*\$?")


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any:
    if _PLAIN.fullmatch(pattern) and not any(op in pattern for op in ("--", "&&", "~~", "||")):
        try:
            return re.compile(pattern)
        except re.error:
            pass
    return budget.compile_regex(pattern)


def _search(pattern: str, text: str) -> bool:
    """True when the pattern matches; a pattern the engine refuses matches nothing (check_schema reports it)."""
    try:
        compiled = _compiled(pattern)
    except ValueError:
        return False
    if isinstance(compiled, re.Pattern):
        return compiled.search(text) is not None
    return budget.search(compiled, text) is not None


# -- the fast path -------------------------------------------------------------------------------------------
# Most files are valid, and jsonschema's iter_errors costs tens of microseconds per object even then (a dataset
# of thousands of rows pays it per assertion). `fast_check` compiles a schema once into plain Python checks
# for the keywords our published schemas use; it answers only "valid" or "look closer", and the full validator
# runs only on the second answer, to find the errors and word them. A schema with any other keyword gets no
# fast check (None) and always takes the full path. Every compiled keyword answers exactly as jsonschema's
# does, in both directions (`not` and `oneOf` turn a "no" into a "yes"); a property test holds them equal.

Check = Callable[[Any], bool]
_ANNOTATIONS = frozenset(
    {"description", "title", "default", "examples", "$schema", "$id", "$comment", "$defs", "definitions", "deprecated"}
)


class _Unsupported(Exception):
    """A keyword (or a `$ref`) the fast path does not know: the schema is left to jsonschema."""


def fast_check(schema: Any, root: Any = None) -> Check | None:
    """A compiled check that is True only for instances valid under `schema` (Draft 2020-12, finite numbers,
    budgeted patterns, formats not asserted); False means "not known valid". None when the schema uses a
    keyword this does not compile. Local `$ref`s resolve against `root` (default: the schema itself)."""
    try:
        return _compile(schema, schema if root is None else root, {})
    except (_Unsupported, AttributeError, TypeError):  # a keyword we do not compile, or one of an odd shape
        return None


def _compile(schema: Any, root: Any, refs: dict[str, list[Check]]) -> Check:
    if schema is True or schema == {}:
        return _anything
    if schema is False:
        return _nothing
    if not isinstance(schema, dict):
        raise _Unsupported(repr(schema))
    checks = [
        _KEYWORDS[key](value, schema, root, refs) if key in _KEYWORDS else _unsupported(key)
        for key, value in schema.items()
        if key not in _ANNOTATIONS
    ]
    if len(checks) == 1:
        return checks[0]
    return lambda v: all(c(v) for c in checks)


def _anything(value: Any) -> bool:
    return True


def _nothing(value: Any) -> bool:
    return False


def _unsupported(key: str) -> Check:
    raise _Unsupported(key)


_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: not isinstance(v, bool) and (isinstance(v, int) or (isinstance(v, float) and math.isfinite(v))),
    "integer": lambda v: not isinstance(v, bool) and (isinstance(v, int) or (isinstance(v, float) and v.is_integer())),
}


def _type(value: Any, schema: Any, root: Any, refs: dict[str, list[Check]]) -> Check:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or any(n not in _TYPES for n in names):
        raise _Unsupported(f"type {value!r}")
    tests = [_TYPES[n] for n in names]
    return tests[0] if len(tests) == 1 else (lambda v: any(t(v) for t in tests))


def _properties(value: Any, schema: Any, root: Any, refs: dict[str, list[Check]]) -> Check:
    props = {k: _compile(s, root, refs) for k, s in value.items()}
    return lambda v: not isinstance(v, dict) or all(c(v[k]) for k, c in props.items() if k in v)


def _additional(value: Any, schema: Any, root: Any, refs: dict[str, list[Check]]) -> Check:
    if "patternProperties" in schema:
        raise _Unsupported("additionalProperties with patternProperties")
    known = frozenset(schema.get("properties", ()))
    if value is False:
        return lambda v: not isinstance(v, dict) or known.issuperset(v)
    rest = _compile(value, root, refs)
    return lambda v: not isinstance(v, dict) or all(rest(x) for k, x in v.items() if k not in known)


def _required(value: Any, schema: Any, root: Any, refs: dict[str, list[Check]]) -> Check:
    names = tuple(value)
    return lambda v: not isinstance(v, dict) or all(n in v for n in names)


def _dependent_required(value: Any, schema: Any, root: Any, refs: dict[str, list[Check]]) -> Check:
    rules = {k: tuple(v) for k, v in value.items()}
    return lambda v: not isinstance(v, dict) or all(all(n in v for n in names) for k, names in rules.items() if k in v)


def _enum(value: Any, schema: Any, root: Any, refs: dict[str, list[Check]]) -> Check:
    options = list(value)
    return lambda v: any(_equal(v, o) for o in options)


def _const(value: Any, schema: Any, root: Any, refs: dict[str, list[Check]]) -> Check:
    return lambda v: _equal(v, value)


def _items(value: Any, schema: Any, root: Any, refs: dict[str, list[Check]]) -> Check:
    if "prefixItems" in schema:
        raise _Unsupported("items with prefixItems")
    each = _compile(value, root, refs)
    return lambda v: not isinstance(v, list) or all(each(x) for x in v)


def _bound(test: Callable[[Any, Any], bool], applies: Check) -> Callable[..., Check]:
    def make(value: Any, schema: Any, root: Any, refs: dict[str, list[Check]]) -> Check:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Unsupported(f"bound {value!r}")
        return lambda v: not applies(v) or test(v, value)

    return make


def _is_num(v: Any) -> bool:
    """What the bounds apply to: a `number` of our validator class (a finite one); -inf is not below 0."""
    return _TYPES["number"](v)


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _is_list(v: Any) -> bool:
    return isinstance(v, list)


def _is_dict(v: Any) -> bool:
    return isinstance(v, dict)


def _pattern_check(value: Any, schema: Any, root: Any, refs: dict[str, list[Check]]) -> Check:
    if not isinstance(value, str):
        raise _Unsupported("pattern")
    return lambda v: not isinstance(v, str) or _search(value, v)


def _property_names(value: Any, schema: Any, root: Any, refs: dict[str, list[Check]]) -> Check:
    names = _compile(value, root, refs)
    return lambda v: not isinstance(v, dict) or all(names(k) for k in v)


def _any_of(value: Any, schema: Any, root: Any, refs: dict[str, list[Check]]) -> Check:
    options = [_compile(s, root, refs) for s in value]
    return lambda v: any(c(v) for c in options)


def _one_of(value: Any, schema: Any, root: Any, refs: dict[str, list[Check]]) -> Check:
    options = [_compile(s, root, refs) for s in value]
    return lambda v: sum(1 for c in options if c(v)) == 1


def _all_of(value: Any, schema: Any, root: Any, refs: dict[str, list[Check]]) -> Check:
    options = [_compile(s, root, refs) for s in value]
    return lambda v: all(c(v) for c in options)


def _not(value: Any, schema: Any, root: Any, refs: dict[str, list[Check]]) -> Check:
    inner = _compile(value, root, refs)
    return lambda v: not inner(v)


def _unique(value: Any, schema: Any, root: Any, refs: dict[str, list[Check]]) -> Check:
    if value is not True:
        return _anything
    return lambda v: not isinstance(v, list) or all(not _equal(a, b) for i, a in enumerate(v) for b in v[i + 1 :])


def _ref(value: Any, schema: Any, root: Any, refs: dict[str, list[Check]]) -> Check:
    """A local `$ref` (`#/...`), compiled once; a recursive one reaches its check through a cell."""
    if not isinstance(value, str) or not value.startswith("#"):
        raise _Unsupported(f"$ref {value!r}")
    if value not in refs:
        cell: list[Check] = []
        refs[value] = cell
        target = root
        for part in value[1:].split("/")[1:] if value != "#" else ():
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or part not in target:
                raise _Unsupported(f"$ref {value!r}")
            target = target[part]
        cell.append(_compile(target, root, refs))
    cell = refs[value]
    return lambda v: cell[0](v)


def _equal(one: Any, two: Any) -> bool:
    """jsonschema's equality for enum, const and uniqueItems: booleans are not numbers (1 is not true)."""
    if one is two:
        return True
    if isinstance(one, bool) or isinstance(two, bool):
        return one is two
    if isinstance(one, str) or isinstance(two, str):
        return one == two
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(_equal(a, b) for a, b in zip(one, two, strict=True))
    if isinstance(one, dict) and isinstance(two, dict):
        return one.keys() == two.keys() and all(_equal(one[k], two[k]) for k in one)
    if isinstance(one, (list, dict)) or isinstance(two, (list, dict)):
        return False
    return bool(one == two)


_KEYWORDS: dict[str, Callable[[Any, Any, Any, dict[str, list[Check]]], Check]] = {
    "type": _type,
    "properties": _properties,
    "additionalProperties": _additional,
    "required": _required,
    "dependentRequired": _dependent_required,
    "enum": _enum,
    "const": _const,
    "items": _items,
    "minimum": _bound(lambda v, b: v >= b, _is_num),
    "maximum": _bound(lambda v, b: v <= b, _is_num),
    "exclusiveMinimum": _bound(lambda v, b: v > b, _is_num),
    "exclusiveMaximum": _bound(lambda v, b: v < b, _is_num),
    "minLength": _bound(lambda v, b: len(v) >= b, _is_str),
    "maxLength": _bound(lambda v, b: len(v) <= b, _is_str),
    "minItems": _bound(lambda v, b: len(v) >= b, _is_list),
    "maxItems": _bound(lambda v, b: len(v) <= b, _is_list),
    "minProperties": _bound(lambda v, b: len(v) >= b, _is_dict),
    "maxProperties": _bound(lambda v, b: len(v) <= b, _is_dict),
    "pattern": _pattern_check,
    "propertyNames": _property_names,
    "anyOf": _any_of,
    "oneOf": _one_of,
    "allOf": _all_of,
    "not": _not,
    "uniqueItems": _unique,
    "$ref": _ref,
}


# -- schemas that are plainly valid --------------------------------------------------------------------------
# Checking a prompt's inputs schema against the Draft 2020-12 metaschema costs the jsonschema import and a
# walk of the metaschema. Most schemas use a few keywords; `_plainly_valid` says yes only when every keyword
# is one of these and its value is of a kind the metaschema accepts (stricter where that is simpler), and
# leaves everything else to the metaschema. A yes is always right; a no only means "ask jsonschema".

_SIMPLE_TYPES = frozenset(_TYPES)
_COUNT_KEYWORDS = frozenset({"minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"})
_NUMBER_KEYWORDS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})
_TEXT_KEYWORDS = frozenset({"description", "title", "$comment"})
_SCHEMA_KEYWORDS = frozenset({"items", "additionalProperties", "not", "propertyNames"})
_LIST_KEYWORDS = frozenset({"anyOf", "oneOf", "allOf"})


def _plainly_valid(schema: Any, depth: int) -> bool:
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, dict) or depth > 32:
        return False
    return all(_plain_keyword(key, value, depth) for key, value in schema.items())


def _plain_keyword(key: str, value: Any, depth: int) -> bool:
    if key in _TEXT_KEYWORDS:
        return isinstance(value, str)
    if key in ("default", "const", "enum"):
        return key != "enum" or isinstance(value, list)
    if key == "type":
        names = [value] if isinstance(value, str) else value
        return (
            isinstance(names, list)
            and bool(names)
            and all(isinstance(n, str) and n in _SIMPLE_TYPES for n in names)
            and len(set(names)) == len(names)
        )
    if key in _COUNT_KEYWORDS:
        return type(value) is int and value >= 0
    if key in _NUMBER_KEYWORDS:
        return type(value) in (int, float) and math.isfinite(value)
    if key in ("required",):
        return isinstance(value, list) and all(isinstance(v, str) for v in value) and len(set(value)) == len(value)
    if key == "uniqueItems":
        return isinstance(value, bool)
    if key == "properties":
        return isinstance(value, dict) and all(_plainly_valid(v, depth + 1) for v in value.values())
    if key in _SCHEMA_KEYWORDS:
        return _plainly_valid(value, depth + 1)
    if key in _LIST_KEYWORDS:
        return isinstance(value, list) and bool(value) and all(_plainly_valid(v, depth + 1) for v in value)
    if key == "pattern":
        return isinstance(value, str) and _compiles(value)
    return False


def _compiles(pattern: str) -> bool:
    """The metaschema's `format: regex`, which jsonschema checks with Python's `re`."""

    try:
        re.compile(pattern)
    except (re.error, RecursionError, OverflowError):
        return False
    return True
