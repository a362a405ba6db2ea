"""Assertion kinds: a name -> function table, the runner that applies them to one output, and the verdict.

A check takes an `Assertion` and an `Observation` (the output and what is known of the call that made it) and
returns (passed, score from 0 to 1, reason). The reason says what was expected and what was found; long texts are
cut to about 120 characters.

  equals        the output is exactly `value` (a string); any other `value` (mapping, list, number, boolean) is
                compared with the output parsed as JSON (booleans are not numbers, key order does not matter)
  contains      `value` occurs in the output; `icontains` ignores case
  contains-any  at least one string of the list `value` occurs in the output (case-sensitive)
  contains-all  every string of the list `value` occurs; the score is the share found
  regex         `re.search(value, output)` finds a match (inline flags such as `(?i)` work), within 1 s
  starts-with   the output begins with `value`
  is-json       the output, without surrounding whitespace, is strict JSON (no NaN, no Infinity)
  json-schema   the output is JSON valid against the schema `value`, by default the prompt's `output` schema
                (formats are checked); the reason names the violation and its path
  json-path     `path` (JSONPath, RFC 9535; the leading `$` may be left out) selects something in the JSON output;
                with `value`, the selection equals it (one match is compared as itself, several as a list)
  length        the output has at least `min` and at most `max` characters; `value` is shorthand for `max`
  similar       difflib's ratio between the output and `value` (a string, or the best of a list of strings);
                passes at `threshold` (default 0.8); the score is the ratio
  llm-rubric    the judge model grades the output against the rubric `value`; passes at `threshold` (default 0.5)
  python        `value` is "path/to/file.py:function", relative to the repository root (files outside it are
                refused); the function is called as function(output, context) with context
                {"vars", "prompt" (its id), "latency_ms", "cost"} and returns a bool, a score from 0 to 1 (passes
                at `threshold`, default 0.5) or a dict {"pass", "score", "reason"} (either of pass and score)
  latency       the call took at most `value` milliseconds
  cost          the call cost at most `value`

`negate` (a `not-` prefix in the file) flips `passed`, turns the score into 1 - score and prefixes the reason with
"not: ". A check that cannot run (a missing or malformed setting, a regex that does not compile, a python
function that raises, no judge, an unknown latency or cost) is an error: never a pass, and never an exception out
of `run_checks`. `validate` reports the settings problems that can be seen without an output, for lint.
"""

from __future__ import annotations

import asyncio
import copy
import difflib
import functools
import hashlib
import inspect
import json
import math
import re
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any, cast

from . import budget, validation
from .model import Assertion, CheckResult, Prompt, Status

SNIP = 120
DEFAULT_SIMILAR_THRESHOLD = 0.8
DEFAULT_SCORE_THRESHOLD = 0.5  # llm-rubric and python scores


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


@functools.lru_cache(maxsize=64)
def _validator_for(schema_text: str) -> Any:
    from jsonschema import exceptions, validators

    schema = json.loads(schema_text)
    if not isinstance(schema, (dict, bool)):
        raise _CannotRun(f"the schema must be a mapping, got {_kind(schema)}")
    try:
        base = validators.validator_for(schema, default=validators.Draft202012Validator)
        base.check_schema(schema)
        cls = validation.validator_class(base)
    except exceptions.SchemaError as exc:
        raise _CannotRun(f"not a valid JSON Schema: {_where(exc.absolute_path)}: {_snip(exc.message)}") from None
    except Exception as exc:  # a malformed `$schema` makes the lookup itself fail
        raise _CannotRun(f"not a valid JSON Schema: {_snip(str(exc))}") from None
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


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


# -- the checks ----------------------------------------------------------------------------------------------


def check_equals(a: Assertion, obs: Observation) -> Outcome:
    expected = _value(a)
    if isinstance(expected, str):
        if obs.output == expected:
            return True, 1.0, "output equals the expected text"
        at = next((i for i, (x, y) in enumerate(zip(obs.output, expected, strict=False)) if x != y), None)
        at = min(len(obs.output), len(expected)) if at is None else at
        return False, 0.0, f"expected {_show(expected)}, got {_show(obs.output)} (they differ at character {at})"
    want = _as_json(expected)
    got, why = _parse_json(obs.output)
    if why is not None:
        return _not_json(obs.output, why)
    return _result(
        _same(got, want), "output JSON equals the expected value", f"expected {_show(want)}, got {_show(got)}"
    )


def check_contains(a: Assertion, obs: Observation) -> Outcome:
    needle = _text(a)
    return _result(needle in obs.output, f"found {_show(needle)}", f"{_show(needle)} not found in {_show(obs.output)}")


def check_icontains(a: Assertion, obs: Observation) -> Outcome:
    needle = _text(a)
    found = needle.casefold() in obs.output.casefold()
    return _result(found, f"found {_show(needle)} (ignoring case)", f"{_show(needle)} not found in {_show(obs.output)}")


def check_contains_any(a: Assertion, obs: Observation) -> Outcome:
    needles = _texts(a)
    found = [n for n in needles if n in obs.output]
    if found:
        return True, 1.0, f"found {_show(found[0])}"
    return False, 0.0, f"none of {_show(needles)} found in {_show(obs.output)}"


def check_contains_all(a: Assertion, obs: Observation) -> Outcome:
    needles = _texts(a)
    missing = [n for n in needles if n not in obs.output]
    score = 1 - len(missing) / len(needles)
    if not missing:
        return True, score, f"found all {len(needles)}"
    return False, score, f"missing {len(missing)} of {len(needles)}: {_show(missing)} in {_show(obs.output)}"


def check_regex(a: Assertion, obs: Observation) -> Outcome:
    pattern = _regex(a)
    try:
        match = budget.search(pattern, obs.output)
    except budget.OverBudget as exc:
        raise _CannotRun(f"{exc}; simplify the pattern") from None
    if match:
        return True, 1.0, f"matched {_show(match.group(0))} at character {match.start()}"
    return False, 0.0, f"no match for {_show(pattern.pattern)} in {_show(obs.output)}"


def check_starts_with(a: Assertion, obs: Observation) -> Outcome:
    prefix = _text(a)
    ok = obs.output.startswith(prefix)
    return _result(
        ok, f"starts with {_show(prefix)}", f"expected to start with {_show(prefix)}, got {_show(obs.output)}"
    )


def check_is_json(a: Assertion, obs: Observation) -> Outcome:
    value, why = _parse_json(obs.output)
    if why is not None:
        return _not_json(obs.output, why)
    return True, 1.0, f"output is JSON ({_kind(value)})"


def check_json_schema(a: Assertion, obs: Observation) -> Outcome:
    validator = _schema(a, obs.prompt)
    data, why = _parse_json(obs.output)
    if why is not None:
        return _not_json(obs.output, why)
    try:
        errors = list(validator.iter_errors(data))
    except budget.OverBudget as exc:
        raise _CannotRun(f"a `pattern` of the schema: {exc}") from None
    if not errors:
        return True, 1.0, "output matches the schema"
    from jsonschema.exceptions import best_match

    first = best_match(errors)
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return False, 0.0, f"{_where(first.absolute_path)}: {_snip(first.message)}{more}"


def check_json_path(a: Assertion, obs: Observation) -> Outcome:
    path, query = _path(a)
    data, why = _parse_json(obs.output)
    if why is not None:
        return _not_json(obs.output, why)
    if isinstance(data, str):
        # The library would parse a string document again as JSON; a string has no members, only the root.
        matches: list[Any] = [data] if path.strip() in ("$", "") else []
    else:
        matches = list(query.findall(data))
    if not matches:
        return False, 0.0, f"{path} selects nothing in {_show(obs.output)}"
    selected = matches[0] if len(matches) == 1 else matches
    if a.value is None:
        return True, 1.0, f"{path} selects {_show(selected)}"
    want = _as_json(a.value)
    ok = _same(selected, want)
    return _result(ok, f"{path} is {_show(selected)}", f"expected {path} to be {_show(want)}, got {_show(selected)}")


def check_length(a: Assertion, obs: Observation) -> Outcome:
    low, high = _bounds(a)
    n = len(obs.output)
    if low is not None and n < low:
        return False, 0.0, f"{_chars(n)}, expected at least {_num(low)}"
    if high is not None and n > high:
        return False, 0.0, f"{_chars(n)}, expected at most {_num(high)}"
    expected = [f"at least {_num(low)}"] if low is not None else []
    expected += [f"at most {_num(high)}"] if high is not None else []
    return True, 1.0, f"{_chars(n)} ({' and '.join(expected)})"


def _chars(n: int) -> str:
    return f"{n} character{'' if n == 1 else 's'}"


def check_similar(a: Assertion, obs: Observation) -> Outcome:
    candidates = _candidates(a)
    threshold = _threshold(a, DEFAULT_SIMILAR_THRESHOLD)
    ratio, best = max((difflib.SequenceMatcher(None, obs.output, c).ratio(), c) for c in candidates)
    ok = ratio >= threshold
    found = "" if ok else f"; got {_show(obs.output)}"
    return ok, ratio, f"similarity {ratio:.2f} to {_show(best)} (threshold {_num(threshold)}){found}"


def check_python(a: Assertion, obs: Observation) -> Outcome:
    file, name = _python_target(a)
    threshold = _threshold(a, DEFAULT_SCORE_THRESHOLD)
    function = _load_function(obs.root, file, name)
    context = {
        "vars": copy.deepcopy(dict(obs.vars)),  # a check must not change what the next check sees
        "prompt": obs.prompt.id,
        "latency_ms": obs.latency_ms,
        "cost": obs.cost,
    }
    return _python_outcome(function(obs.output, context), threshold, f"{file}:{name}")


def _python_outcome(returned: Any, threshold: float, where: str) -> Outcome:
    if isinstance(returned, bool):
        return returned, float(returned), f"{where} returned {returned}"
    if _is_number(returned):
        score = _score(returned, where)
        return score >= threshold, score, f"{where} scored {score:.2f} (threshold {_num(threshold)})"
    if isinstance(returned, Mapping):
        passed, given, reason = returned.get("pass"), returned.get("score"), returned.get("reason")
        if passed is None and given is None:
            raise _CannotRun(f"{where} returned a dict with neither `pass` nor `score`")
        if passed is not None and not isinstance(passed, bool):
            raise _CannotRun(f"{where} returned `pass` as {_kind(passed)}; expected a boolean")
        value = float(bool(passed)) if given is None else _score(given, where)
        ok = value >= threshold if passed is None else passed
        return ok, value, _snip(str(reason), 2 * SNIP) if reason else f"{where} returned pass={ok}"
    if inspect.isawaitable(returned):
        if inspect.iscoroutine(returned):
            returned.close()  # never awaited: close it so Python does not warn later
        raise _CannotRun(f"{where} is async; python checks must be plain functions")
    raise _CannotRun(f"{where} returned {_kind(returned)}; expected a bool, a score from 0 to 1, or a dict")


def _score(x: Any, who: str) -> float:
    if not _is_number(x) or not 0 <= x <= 1:
        raise _CannotRun(f"{who} gave the score {_show(x)}; scores are from 0 to 1")
    return float(x)


_MODULES: dict[Path, tuple[tuple[int, int], ModuleType]] = {}


def _load_function(root: Path | None, file: str, name: str) -> Callable[..., Any]:
    if root is None:
        raise _CannotRun("python checks need the repository root, and none was given")
    base = root.resolve()
    path = (base / file).resolve()
    if not path.is_relative_to(base):
        raise _CannotRun(f"refusing to load {file!r}: it resolves outside the repository")
    if not path.is_file():
        raise _CannotRun(f"{file} not found in the repository")
    function = getattr(_load_module(path), name, None)
    if not callable(function):
        raise _CannotRun(f"{file} has no function {name!r}")
    return cast("Callable[..., Any]", function)


def _load_module(path: Path) -> ModuleType:
    """Execute a check file once per version of it; no bytecode is written into the user's repository."""
    stat = path.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _MODULES.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    name = "promptops_check_" + hashlib.sha256(f"{path}:{stamp}".encode()).hexdigest()[:16]
    module = ModuleType(name)
    module.__file__ = str(path)
    code = compile(path.read_bytes(), str(path), "exec")
    sys.modules[name] = module  # dataclasses and pickle look a class's module up by name
    try:
        exec(code, module.__dict__)
    except BaseException:
        del sys.modules[name]
        raise
    if cached is not None:
        sys.modules.pop(cached[1].__name__, None)
    _MODULES[path] = (stamp, module)
    return module


def check_latency(a: Assertion, obs: Observation) -> Outcome:
    limit = _number(a)
    if obs.latency_ms is None:
        raise _CannotRun("the latency of this output is unknown")
    took = f"took {obs.latency_ms:.0f} ms"
    return _result(obs.latency_ms <= limit, f"{took} (limit {limit:g} ms)", f"{took}, limit {limit:g} ms")


def check_cost(a: Assertion, obs: Observation) -> Outcome:
    limit = _number(a)
    if obs.cost is None:
        raise _CannotRun("the cost of this output is unknown")
    return _result(obs.cost <= limit, f"cost {obs.cost:.6g} (limit {limit:g})", f"cost {obs.cost:.6g}, limit {limit:g}")


CHECKS: dict[str, Check] = {
    "equals": check_equals,
    "contains": check_contains,
    "icontains": check_icontains,
    "contains-any": check_contains_any,
    "contains-all": check_contains_all,
    "regex": check_regex,
    "starts-with": check_starts_with,
    "is-json": check_is_json,
    "json-schema": check_json_schema,
    "json-path": check_json_path,
    "length": check_length,
    "similar": check_similar,
    "python": check_python,
    "latency": check_latency,
    "cost": check_cost,
}
ASYNC_KINDS = ("llm-rubric",)
KINDS = (*CHECKS, *ASYNC_KINDS)


async def check_llm_rubric(a: Assertion, obs: Observation, judge: Judge | None) -> Outcome:
    rubric = _rubric(a)
    threshold = _threshold(a, DEFAULT_SCORE_THRESHOLD)
    if judge is None:
        raise _CannotRun("llm-rubric needs a judge model (set `judge` in routing.yaml)")
    score, why = await judge(rubric, obs.output, obs.vars)
    score = _score(score, "the judge")
    return score >= threshold, score, f"judge scored {score:.2f} (threshold {_num(threshold)}): {_snip(str(why))}"


# -- running and judging -------------------------------------------------------------------------------------


async def run_checks(asserts: Sequence[Assertion], obs: Observation, judge: Judge | None) -> list[CheckResult]:
    """Every assertion applied to one output, in order. Never raises, except on cancellation or Ctrl-C."""
    return [await _run_one(a, obs, judge) for a in asserts]


async def _run_one(a: Assertion, obs: Observation, judge: Judge | None) -> CheckResult:
    try:
        if a.type == "llm-rubric":
            passed, score, reason = await check_llm_rubric(a, obs, judge)
        elif a.type in CHECKS:
            passed, score, reason = CHECKS[a.type](a, obs)
        else:
            raise _CannotRun(f"unknown assertion type {a.type!r} (known: {', '.join(KINDS)})")
        score = _score(score, a.type)
    except (asyncio.CancelledError, KeyboardInterrupt):
        raise
    except BaseException as exc:  # a python check may raise anything, SystemExit included: an error, never a pass
        return CheckResult(
            type=a.type,
            passed=False,
            score=0.0,
            reason=f"check failed to run: {_describe(exc)}",
            weight=a.weight,
            negate=a.negate,
            error=True,
        )
    if a.negate:
        passed, score, reason = not passed, 1.0 - score, f"not: {reason}"
    return CheckResult(type=a.type, passed=passed, score=score, reason=reason, weight=a.weight, negate=a.negate)


def _describe(exc: BaseException) -> str:
    try:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    except Exception:  # an exception whose __str__ fails must not escape either
        text = ""
    if isinstance(exc, _CannotRun):
        return _snip(text, 2 * SNIP)
    return _snip(f"{type(exc).__name__}: {text}" if text else type(exc).__name__, 2 * SNIP)


def verdict(results: Sequence[CheckResult]) -> tuple[Status, float]:
    """("error" if any check errored, else "pass" if all passed, else "fail"; the weighted mean score)."""
    if not results:
        return "pass", 1.0
    total = math.fsum(r.weight for r in results)
    if total > 0:
        score = math.fsum(r.weight * r.score for r in results) / total
    else:  # every weight is 0: the checks still count for the verdict, and equally for the score
        score = math.fsum(r.score for r in results) / len(results)
    status: Status = "error" if any(r.error for r in results) else "pass" if all(r.passed for r in results) else "fail"
    return status, score


# -- static validation, for lint -----------------------------------------------------------------------------

_SETTINGS: dict[str, Callable[[Assertion, Prompt | None], object]] = {
    "equals": lambda a, p: _value(a),
    "contains": lambda a, p: _text(a),
    "icontains": lambda a, p: _text(a),
    "contains-any": lambda a, p: _texts(a),
    "contains-all": lambda a, p: _texts(a),
    "regex": lambda a, p: _regex(a),
    "starts-with": lambda a, p: _text(a),
    "is-json": lambda a, p: None,
    "json-schema": lambda a, p: _schema(a, p) if a.value is not None or p is not None else None,
    "json-path": lambda a, p: _path(a),
    "length": lambda a, p: _bounds(a),
    "similar": lambda a, p: (_candidates(a), _threshold(a, DEFAULT_SIMILAR_THRESHOLD)),
    "llm-rubric": lambda a, p: (_rubric(a), _threshold(a, DEFAULT_SCORE_THRESHOLD)),
    "python": lambda a, p: (_python_target(a), _threshold(a, DEFAULT_SCORE_THRESHOLD)),
    "latency": lambda a, p: _number(a),
    "cost": lambda a, p: _number(a),
}


def _rubric(a: Assertion) -> str:
    rubric = _text(a)
    if not rubric.strip():
        raise _CannotRun(f"{_label(a)} needs the rubric as `value`, and it is blank")
    return rubric


def validate(assertion: Assertion, prompt: Prompt | None) -> str | None:
    """A problem with the assertion's settings that shows without running it, or None.

    `prompt` is the suite's prompt (its output schema is json-schema's default); None when it is unknown, in which
    case a json-schema without `value` is not reported (the unknown prompt is its own finding).
    """
    settings = _SETTINGS.get(assertion.type)
    if settings is None:
        return f"unknown assertion type {assertion.type!r} (known: {', '.join(KINDS)})"
    try:
        settings(assertion, prompt)
    except _CannotRun as exc:
        return str(exc)
    return None
