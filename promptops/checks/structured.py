"""Checks on the output as JSON: is-json (with an optional schema), json-schema and json-path."""

from __future__ import annotations

from typing import Any

from .. import budget, validation
from ..model import Assertion
from .settings import (
    Observation,
    Outcome,
    _as_json,
    _CannotRun,
    _kind,
    _not_json,
    _parse_json,
    _path,
    _result,
    _same,
    _schema,
    _show,
    _snip,
    _where,
)


def check_is_json(a: Assertion, obs: Observation) -> Outcome:
    """Strict JSON; with a schema as `value`, also valid against it (as json-schema with that value)."""
    validator = _schema(a, obs.prompt) if a.value is not None else None  # a bad schema errors, whatever the output
    value, why = _parse_json(obs.output)
    if why is not None:
        return _not_json(obs.output, why)
    if validator is None:
        return True, 1.0, f"output is JSON ({_kind(value)})"
    return _schema_outcome(validator, value)


def check_json_schema(a: Assertion, obs: Observation) -> Outcome:
    validator = _schema(a, obs.prompt)
    data, why = _parse_json(obs.output)
    if why is not None:
        return _not_json(obs.output, why)
    return _schema_outcome(validator, data)


def _schema_outcome(validator: Any, data: Any) -> Outcome:
    try:
        errors = list(validator.iter_errors(data))
    except budget.OverBudget as exc:
        raise _CannotRun(f"a `pattern` of the schema: {exc}") from None
    if not errors:
        return True, 1.0, "output matches the schema"
    first = validation.best_error(errors)
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
