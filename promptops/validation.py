"""JSON Schema validator classes with two promptops rules: a `number` is finite (JSON has no NaN or
infinity, YAML does), and `pattern` / `patternProperties` run on the budgeted regex engine, so a schema
written in a repository (an output or input schema) cannot hang a run with a catastrophic pattern.

jsonschema is imported on first use, never at start-up.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from typing import Any

from . import budget


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any:
    return budget.compile_regex(pattern)


def _search(pattern: str, text: str) -> bool:
    """True when the pattern matches; a pattern the engine refuses matches nothing (check_schema reports it)."""
    try:
        compiled = _compiled(pattern)
    except ValueError:
        return False
    return budget.search(compiled, text) is not None


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    from jsonschema.exceptions import ValidationError

    if validator.is_type(instance, "string") and isinstance(pattern, str) and not _search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator: Any, properties: Any, instance: Any, schema: Any) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in properties.items():
        for key, value in instance.items():
            if _search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


@functools.lru_cache(maxsize=16)
def validator_class(base: Any = None) -> Any:
    """`base` (default: Draft 2020-12) with finite numbers and budgeted patterns. Validation raises
    budget.OverBudget when a pattern runs past its time budget."""
    from jsonschema import validators

    base = base or validators.Draft202012Validator

    def is_number(checker: Any, value: Any) -> bool:
        return base.TYPE_CHECKER.is_type(value, "number") and (not isinstance(value, float) or math.isfinite(value))

    return validators.extend(
        base,
        validators={"pattern": _pattern, "patternProperties": _pattern_properties},
        type_checker=base.TYPE_CHECKER.redefine("number", is_number),
    )
