"""What every check works with: the Observation it judges, the Outcome it returns, the error for a check
that cannot run, and the reading of an assertion's settings (shared by the checks and by `validate`, for lint)."""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .. import budget, validation
from ..model import Assertion, Prompt
from ..quickinit import quick_init

SNIP = 120
DEFAULT_SIMILAR_THRESHOLD = 0.8
DEFAULT_SCORE_THRESHOLD = 0.5  # llm-rubric and python scores


@quick_init
@dataclass(frozen=True)
class Observation:
    """One output and what is known of the call that produced it."""

    output: str
    prompt: Prompt
    vars: Mapping[str, Any] = field(default_factory=dict)
    latency_ms: float | None = None
    cost: float | None = None
    root: Path | None = None  # the repository root, where python checks are loaded from


Outcome = tuple[bool, float, str]
Check = Callable[[Assertion, Observation], Outcome]
# (rubric, output, vars) -> (score from 0 to 1, reason); the engine provides it and calls the judge model.
Judge = Callable[[str, str, Mapping[str, Any]], Awaitable[tuple[float, str]]]


class _CannotRun(Exception):
    """A check's settings or circumstances keep it from running; the message is shown as it is."""


# -- small helpers -------------------------------------------------------------------------------------------


def _snip(text: str, limit: int = SNIP) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _show(value: Any) -> str:
    """A value as a reason shows it: quoted text or compact JSON, at most about SNIP characters."""
    if isinstance(value, str):
        return _snip(repr(value[: SNIP + 1]))
    return _snip(json.dumps(value, ensure_ascii=False, sort_keys=True, default=str))


def _num(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    names = {str: "a string", dict: "a mapping", list: "a list", type(None): "nothing"}
    return names.get(type(value), type(value).__name__)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _result(ok: bool, if_pass: str, if_fail: str) -> Outcome:
    return ok, float(ok), if_pass if ok else if_fail


def _label(a: Assertion) -> str:
    return f"not-{a.type}" if a.negate else a.type


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse_json(output: str) -> tuple[Any, str | None]:
    """(the parsed output, None), or (None, why it is not strict JSON)."""
    try:
        return json.loads(output.strip(), parse_constant=_reject_constant), None
    except ValueError as exc:  # JSONDecodeError, a rejected constant, an integer too long to convert
        return None, str(exc)
    except RecursionError:
        return None, "nested too deeply"


def _as_json(value: Any) -> Any:
    """A value from YAML as JSON sees it: dates become strings, mapping keys become strings."""
    return json.loads(json.dumps(value, default=str))


def _same(a: Any, b: Any) -> bool:
    """JSON equality: booleans are not numbers, 1 equals 1.0, key order does not matter."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def _not_json(output: str, why: str) -> Outcome:
    return False, 0.0, f"output is not JSON ({_snip(why, 60)}): {_show(output)}"


# -- reading settings (shared by the checks and by `validate`) ------------------------------------------------


def _value(a: Assertion) -> Any:
    if a.value is None:
        raise _CannotRun(f"{_label(a)} needs a `value`")
    return a.value


def _as_text(x: Any) -> str | None:
    """A string, or a number written as text (YAML reads `14` as a number); anything else is not text."""
    if isinstance(x, str):
        return x
    return str(x) if _is_number(x) else None


def _text(a: Assertion) -> str:
    value = _value(a)
    text = _as_text(value)
    if text is None:
        raise _CannotRun(f"{_label(a)} needs a string `value`, got {_kind(value)}")
    return text


def _texts(a: Assertion) -> list[str]:
    value = _value(a)
    texts = [_as_text(x) for x in value] if isinstance(value, list) else []
    if not texts or any(t is None for t in texts):
        bad = next((x for x in value if _as_text(x) is None), None) if texts else value
        got = f"a list holding {_kind(bad)}" if texts else "an empty list" if value == [] else _kind(value)
        raise _CannotRun(f"{_label(a)} needs a non-empty list of strings as `value`, got {got}")
    return [t for t in texts if t is not None]


def _candidates(a: Assertion) -> list[str]:
    """similar: one string or a list of them."""
    return [_text(a)] if not isinstance(a.value, list) else _texts(a)


def _number(a: Assertion) -> float:
    value = _value(a)
    if not _is_number(value) or value < 0:
        raise _CannotRun(f"{_label(a)} needs a number of at least 0 as `value`, got {_show(value)}")
    return float(value)


def _threshold(a: Assertion, default: float) -> float:
    t = a.threshold
    if t is None:
        return default
    if not _is_number(t) or not 0 <= t <= 1:
        raise _CannotRun(f"`threshold` of {_label(a)} must be between 0 and 1, got {_show(t)}")
    return float(t)


def _regex(a: Assertion) -> Any:
    """The pattern, compiled by the budgeted engine (the standard library's syntax)."""
    pattern = _text(a)
    try:
        return budget.compile_regex(pattern)
    except ValueError as exc:
        raise _CannotRun(f"regex {_show(pattern)} does not compile: {exc}") from None


def _path(a: Assertion) -> tuple[str, Any]:
    """json-path: the path text and the compiled query."""
    path = a.config.get("path")
    if not isinstance(path, str) or not path.strip():
        raise _CannotRun(f"{_label(a)} needs a `path`, such as `$.answer.status`")
    import jsonpath

    try:
        return path, jsonpath.compile(path)
    except Exception as exc:  # JSONPathError and its kin; a lint run must not crash on a parser's surprise
        raise _CannotRun(f"invalid JSONPath {path!r}: {str(exc).splitlines()[0] if str(exc) else exc}") from None


def _bounds(a: Assertion) -> tuple[float | None, float | None]:
    """length: (min, max) in characters, either may be None."""
    low, high = a.config.get("min"), a.config.get("max")
    if high is not None and a.value is not None:
        raise _CannotRun(f"{_label(a)}: give the maximum as `max` or as `value`, not both")
    high = a.value if high is None else high
    if low is None and high is None:
        raise _CannotRun(f"{_label(a)} needs `min`, `max` or `value` (a maximum number of characters)")
    for name, bound in (("min", low), ("max", high)):
        if bound is not None and (not _is_number(bound) or bound < 0):
            raise _CannotRun(f"{_label(a)}: `{name}` must be a number of at least 0, got {_show(bound)}")
    if low is not None and high is not None and low > high:
        raise _CannotRun(f"{_label(a)}: `min` {_num(low)} is above `max` {_num(high)}")
    return low, high


def _python_target(a: Assertion) -> tuple[str, str]:
    """python: (file relative to the root, function name)."""
    value = _value(a)
    file, _, name = value.rpartition(":") if isinstance(value, str) else ("", "", "")
    if not file.endswith(".py") or not name.isidentifier():
        raise _CannotRun(f"{_label(a)} needs `value` as 'path/to/file.py:function', got {_show(value)}")
    parts = PurePosixPath(file.replace("\\", "/"))
    if parts.is_absolute() or re.match(r"[A-Za-z]:", file) or ".." in parts.parts:
        raise _CannotRun(f"{_label(a)}: {file!r} must be a path inside the repository, relative to its root")
    return file, name


def _schema(a: Assertion, prompt: Prompt | None) -> Any:
    """json-schema: a validator for `value`, or for the prompt's output schema."""
    if a.value is not None:
        return _validator_for(json.dumps(_as_json(a.value), sort_keys=True))
    if prompt is None or prompt.output is None:
        where = f"prompt {prompt.id!r} declares" if prompt is not None else "the prompt declares"
        raise _CannotRun(f"{_label(a)} has no schema: give one as `value` ({where} no `output` schema)")
    return _validator_for(json.dumps(_as_json(prompt.output), sort_keys=True))


def _schema_valid(a: Assertion, prompt: Prompt | None) -> None:
    """What lint asks of a json-schema (or is-json) schema: that `_schema` would accept it. A schema that names
    no draft and is valid Draft 2020-12 is, without building its validator (a plain one without jsonschema)."""
    schema = _as_json(a.value) if a.value is not None else prompt.output if prompt is not None else None
    if isinstance(schema, dict) and "$schema" not in schema and validation.schema_problem(schema) is None:
        return
    _schema(a, prompt)


@functools.lru_cache(maxsize=64)
def _validator_for(schema_text: str) -> Any:
    schema = json.loads(schema_text)
    if not isinstance(schema, (dict, bool)):
        raise _CannotRun(f"the schema must be a mapping, got {_kind(schema)}")
    try:
        return validation.checked_validator(schema)
    except validation.InvalidSchema as exc:
        where = "" if exc.path is None else f"{_where(exc.path)}: "
        raise _CannotRun(f"not a valid JSON Schema: {where}{_snip(exc.message)}") from None


def _where(path: Sequence[Any]) -> str:
    """A location in a JSON document, written as a JSONPath: $.items[0].name."""
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and part.isidentifier():
            out += f".{part}"
        else:
            out += f"[{json.dumps(part)}]"
    return out
