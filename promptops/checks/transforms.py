"""Transforms: steps that turn a model's output into the text an assertion judges, without writing code.

A transform is one step or a list of them, applied in order:

  strip                    surrounding whitespace removed
  lower                    lower case (Unicode case folding)
  {json-path: PATH}        the output parsed as JSON and PATH selected; a string stays itself, anything else
                           becomes compact JSON (several matches: a JSON list)
  {regex: PATTERN, group: G}
                           the first match of PATTERN; `group` (a number or a name) picks the group, by default
                           group 1 when the pattern has one, else the whole match
  {python: FILE:FUNCTION}  function(output, context) from the repository returns the new text (anything not a
                           string becomes JSON)

A case's `transform` runs before each assertion's own. A transform that finds nothing to select (no JSON, no
match) fails the assertion, negated or not: a `not-` check must not pass because the output had the wrong shape.
A step that cannot run (a bad setting, a function that raises) is an error, as any check that cannot run.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from typing import Any

from .. import budget
from ..model import Assertion
from .settings import Observation, _CannotRun, _parse_json, _path, _python_target, _regex, _show

STEPS = ("strip", "lower", "json-path", "regex", "python")


class TransformFailed(Exception):
    """The output has no part the transform selects: the assertion fails (never passes, even negated)."""


def steps_of(spec: Any) -> list[tuple[str, Any]]:
    """A transform setting as (step, setting) pairs; _CannotRun naming what is wrong with it."""
    items = spec if isinstance(spec, list) else [spec]
    steps: list[tuple[str, Any]] = []
    for item in items:
        if isinstance(item, str) and item in ("strip", "lower"):
            steps.append((item, None))
        elif isinstance(item, dict) and len(set(item) & {"json-path", "regex", "python"}) == 1:
            name = next(k for k in item if k in ("json-path", "regex", "python"))
            extra = set(item) - {name, "group"} if name == "regex" else set(item) - {name}
            if extra or not isinstance(item[name], str) or not item[name].strip():
                raise _CannotRun(f"transform step {_show(item)}: `{name}` needs a non-empty string and nothing else")
            steps.append((name, _compiled(name, item)))
        else:
            raise _CannotRun(
                f"transform step {_show(item)} is not one of: strip, lower, {{json-path: PATH}}, "
                "{regex: PATTERN, group: N}, {python: FILE:FUNCTION}"
            )
    return steps


def _compiled(name: str, item: dict[str, Any]) -> Any:
    if name == "json-path":
        return _path(Assertion(type="transform", config={"path": item[name]}))
    if name == "python":
        return _python_target(Assertion(type="transform", value=item[name]))
    group = item.get("group")
    if group is not None and (isinstance(group, bool) or not isinstance(group, (int, str))):
        raise _CannotRun(f"transform regex: `group` must be a number or a name, got {_show(group)}")
    pattern = _regex(Assertion(type="transform regex", value=item[name]))
    missing = group > pattern.groups if isinstance(group, int) else group not in pattern.groupindex
    if group is not None and missing:
        raise _CannotRun(f"transform regex {_show(item[name])} has no group {_show(group)}")
    return pattern, group


def transform_of(a: Assertion) -> Any:
    return a.config.get("transform")


def apply(spec: Any, obs: Observation) -> str:
    """The output after every step of `spec`."""
    text = obs.output
    for name, setting in steps_of(spec):
        text = _step(name, setting, text, obs)
    return text


def _step(name: str, setting: Any, text: str, obs: Observation) -> str:
    if name == "strip":
        return text.strip()
    if name == "lower":
        return text.casefold()
    if name == "json-path":
        return _json_path(setting, text)
    if name == "regex":
        return _regex_group(setting, text)
    return _python(setting, text, obs)


def _json_path(setting: tuple[str, Any], text: str) -> str:
    path, query = setting
    data, why = _parse_json(text)
    if why is not None:
        raise TransformFailed(f"transform json-path {path}: output is not JSON: {_show(text)}")
    matches: Sequence[Any] = [data] if isinstance(data, str) else list(query.findall(data))
    if isinstance(data, str) and path.strip() not in ("$", ""):
        matches = []
    if not matches:
        raise TransformFailed(f"transform json-path {path} selects nothing in {_show(text)}")
    selected = matches[0] if len(matches) == 1 else list(matches)
    return selected if isinstance(selected, str) else json.dumps(selected, ensure_ascii=False)


def _regex_group(setting: tuple[Any, Any], text: str) -> str:
    pattern, group = setting
    try:
        match = budget.search(pattern, text)
    except budget.OverBudget as exc:
        raise _CannotRun(f"transform regex: {exc}; simplify the pattern") from None
    if match is None:
        raise TransformFailed(f"transform regex {_show(pattern.pattern)} found no match in {_show(text)}")
    chosen = group if group is not None else (1 if pattern.groups else 0)
    found = match.group(chosen)
    return found if found is not None else ""


def _python(setting: tuple[str, str], text: str, obs: Observation) -> str:
    from .user_code import _load_function

    file, name = setting
    function = _load_function(obs.root, file, name)
    context = {"vars": copy.deepcopy(dict(obs.vars)), "prompt": obs.prompt.id}
    out = function(text, context)
    return out if isinstance(out, str) else json.dumps(out, ensure_ascii=False, default=str)
