"""Assertion kinds: a name -> function table, the runner that applies them to one output, and the verdict.

A check takes an `Assertion` and an `Observation` (the output and what is known of the call that made it) and
returns (passed, score from 0 to 1, reason). The reason says what was expected and what was found; long texts are
cut to about 120 characters.

  equals        the output is exactly `value` (a string); any other `value` (mapping, list, number, boolean) is
                compared with the output parsed as JSON (booleans are not numbers, key order does not matter)
  contains      `value` occurs in the output; `icontains` ignores case
  contains-any  at least one string of the list `value` occurs in the output (case-sensitive)
  contains-all  every string of the list `value` occurs; the score is the share found
  icontains-any, icontains-all
                as contains-any and contains-all, ignoring case
  regex         `re.search(value, output)` finds a match (inline flags such as `(?i)` work), within 1 s
  starts-with   the output begins with `value`; `ends-with`: it ends with `value`
  is-json       the output, without surrounding whitespace, is strict JSON (no NaN, no Infinity); with a schema as
                `value`, it is also valid against that schema
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
"not: ". A `transform` (transforms.py) first turns the output into what the check judges. A `metric` names the
score an assertion counts in for the reports. A check that cannot run (a missing or malformed setting, a regex
that does not compile, a python function that raises, no judge, an unknown latency or cost) is an error: never a
pass, and never an exception out of `run_checks`. `validate` reports the settings problems that can be seen
without an output, for lint.

The checks live by family: text.py (comparisons of the text), structured.py (JSON), user_code.py (python),
call.py (latency, cost); settings.py reads an assertion's settings for them and for `validate`. This module holds
the table, the runner and the verdict.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import replace

from ..model import Assertion, CheckResult, Prompt, Status
from .call import check_cost, check_latency
from .settings import (
    DEFAULT_SCORE_THRESHOLD,
    DEFAULT_SIMILAR_THRESHOLD,
    SNIP,
    Check,
    Judge,
    Observation,
    Outcome,
    _bounds,
    _candidates,
    _CannotRun,
    _label,
    _num,
    _number,
    _path,
    _python_target,
    _regex,
    _schema_valid,
    _snip,
    _text,
    _texts,
    _threshold,
    _value,
)
from .structured import check_is_json, check_json_path, check_json_schema
from .text import (
    check_contains,
    check_contains_all,
    check_contains_any,
    check_ends_with,
    check_equals,
    check_icontains,
    check_icontains_all,
    check_icontains_any,
    check_length,
    check_regex,
    check_similar,
    check_starts_with,
)
from .transforms import TransformFailed, apply, steps_of, transform_of
from .user_code import _score, check_python

__all__ = ["CHECKS", "KINDS", "Check", "Judge", "Observation", "Outcome", "run_checks", "validate", "verdict"]

CHECKS: dict[str, Check] = {
    "equals": check_equals,
    "contains": check_contains,
    "icontains": check_icontains,
    "contains-any": check_contains_any,
    "contains-all": check_contains_all,
    "icontains-any": check_icontains_any,
    "icontains-all": check_icontains_all,
    "regex": check_regex,
    "starts-with": check_starts_with,
    "ends-with": check_ends_with,
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
    import asyncio  # here, not at the top: lint reads assertions' settings without loading the event loop

    try:
        if transform_of(a) is not None:
            obs = replace(obs, output=apply(transform_of(a), obs))
        if a.type == "llm-rubric":
            passed, score, reason = await check_llm_rubric(a, obs, judge)
        elif a.type in CHECKS:
            passed, score, reason = CHECKS[a.type](a, obs)
        else:
            raise _CannotRun(f"unknown assertion type {a.type!r} (known: {', '.join(KINDS)})")
        score = _score(score, a.type)
    except (asyncio.CancelledError, KeyboardInterrupt):
        raise
    except TransformFailed as exc:  # the output has the wrong shape: a failure, whichever way the check points
        return CheckResult(
            type=a.type, passed=False, score=0.0, reason=str(exc), weight=a.weight, negate=a.negate, metric=a.metric
        )
    except BaseException as exc:  # a python check may raise anything, SystemExit included: an error, never a pass
        return CheckResult(
            type=a.type,
            passed=False,
            score=0.0,
            reason=f"check failed to run: {_describe(exc)}",
            weight=a.weight,
            negate=a.negate,
            error=True,
            metric=a.metric,
        )
    if a.negate:
        passed, score, reason = not passed, 1.0 - score, f"not: {reason}"
    return CheckResult(
        type=a.type, passed=passed, score=score, reason=reason, weight=a.weight, negate=a.negate, metric=a.metric
    )


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
    top = max(r.weight for r in results)
    # Weights near the float maximum would overflow the sums, weights near its minimum underflow the products:
    # there the same mean is taken with every weight scaled by the largest (ordinary weights are left exact).
    score = _weighted_mean(results, top if top > 1e150 or 0 < top < 1e-150 else 1.0)
    status: Status = "error" if any(r.error for r in results) else "pass" if all(r.passed for r in results) else "fail"
    return status, score


def _weighted_mean(results: Sequence[CheckResult], scale: float) -> float:
    total = math.fsum(r.weight / scale for r in results)
    if total > 0:
        return math.fsum(r.weight / scale * r.score for r in results) / total
    # every weight is 0: the checks still count for the verdict, and equally for the score
    return math.fsum(r.score for r in results) / len(results)


# -- static validation, for lint -----------------------------------------------------------------------------

_SETTINGS: dict[str, Callable[[Assertion, Prompt | None], object]] = {
    "equals": lambda a, p: _value(a),
    "contains": lambda a, p: _text(a),
    "icontains": lambda a, p: _text(a),
    "contains-any": lambda a, p: _texts(a),
    "contains-all": lambda a, p: _texts(a),
    "icontains-any": lambda a, p: _texts(a),
    "icontains-all": lambda a, p: _texts(a),
    "regex": lambda a, p: _regex(a),
    "starts-with": lambda a, p: _text(a),
    "ends-with": lambda a, p: _text(a),
    "is-json": lambda a, p: _schema_valid(a, p) if a.value is not None else None,
    "json-schema": lambda a, p: _schema_valid(a, p) if a.value is not None or p is not None else None,
    "json-path": lambda a, p: _path(a) if not _plain_path(a) else None,
    "length": lambda a, p: _bounds(a),
    "similar": lambda a, p: (_candidates(a), _threshold(a, DEFAULT_SIMILAR_THRESHOLD)),
    "llm-rubric": lambda a, p: (_rubric(a), _threshold(a, DEFAULT_SCORE_THRESHOLD)),
    "python": lambda a, p: (_python_target(a), _threshold(a, DEFAULT_SCORE_THRESHOLD)),
    "latency": lambda a, p: _number(a),
    "cost": lambda a, p: _number(a),
}


# `$.name.name...`: valid JSONPath whatever the names, so checking it needs no parser (the jsonpath package
# costs about 0.1 s to import, on every lint); anything else is compiled.
_PLAIN_PATH = re.compile(r"\$(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


def _plain_path(a: Assertion) -> bool:
    path = a.config.get("path")
    return isinstance(path, str) and _PLAIN_PATH.fullmatch(path) is not None


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
        if transform_of(assertion) is not None:
            steps_of(transform_of(assertion))
        settings(assertion, prompt)
    except _CannotRun as exc:
        return str(exc)
    return None
