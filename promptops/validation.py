"""JSON Schema validator classes with two promptops rules: a `number` is finite (JSON has no NaN or
infinity, YAML does), and `pattern` / `patternProperties` run on the budgeted regex engine, so a schema
written in a repository (an output or input schema) cannot hang a run with a catastrophic pattern.

`fastcheck.py` below it compiles schemas into plain checks that pass valid data without jsonschema.

This is the home of jsonschema (imported on first use, never at start-up): the loader, the renderer and the
checks validate through it, and an import-linter contract keeps jsonschema out of every other module.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Iterator
from typing import Any

from .fastcheck import Check as Check
from .fastcheck import _plainly_valid, _search
from .fastcheck import fast_check as fast_check


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


class InvalidSchema(ValueError):
    """A JSON Schema that is not one: `path` is where in the schema (None when its `$schema` itself is bad)."""

    def __init__(self, message: str, path: tuple[Any, ...] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


class UnresolvableRef(ValueError):
    """A `$ref` in a schema that points nowhere."""


def validator(schema: Any) -> Any:
    """A Draft 2020-12 validator (with the rules above) for a schema already known to be valid."""
    return validator_class()(schema)


def schema_problem(schema: Any) -> str | None:
    """Why `schema` is not a valid Draft 2020-12 JSON Schema, or None when it is. A schema made only of the
    common keywords, each with a value of the right kind, is valid without asking the metaschema."""
    if _plainly_valid(schema, 0):
        return None
    from jsonschema import Draft202012Validator, SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return str(exc.message)
    return None


def checked_validator(schema: Any) -> Any:
    """A validator for a schema written by a user, of the draft its `$schema` names (2020-12 when none), with
    format checking on; InvalidSchema when the schema is not valid."""
    from jsonschema import exceptions, validators

    try:
        base = validators.validator_for(schema, default=validators.Draft202012Validator)
        base.check_schema(schema)
        cls = validator_class(base)
    except exceptions.SchemaError as exc:
        raise InvalidSchema(str(exc.message), tuple(exc.absolute_path)) from None
    except Exception as exc:  # a malformed `$schema` makes the lookup itself fail
        raise InvalidSchema(str(exc)) from None
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def best_error(errors: Iterable[Any]) -> Any:
    """The most relevant of a validator's errors (jsonschema's `best_match`), None when there is none. A `$ref`
    that cannot be resolved while validating becomes UnresolvableRef."""
    from jsonschema.exceptions import best_match
    from referencing.exceptions import Unresolvable

    try:
        return best_match(errors)
    except Unresolvable as exc:
        raise UnresolvableRef(str(exc)) from None
