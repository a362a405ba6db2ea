"""The compiled fast check of a published schema agrees with jsonschema: it passes exactly the valid data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLE
from hypothesis import given, settings
from hypothesis import strategies as st

from promptops import formats, validation, yamltext
from promptops.datasets import validate_assertion
from promptops.errors import InputError


def subschemas(node: Any, found: list[Any]) -> list[Any]:
    """Every schema inside a schema: the places where data of one shape is checked."""
    if isinstance(node, dict):
        found.append(node)
        for key, value in node.items():
            if key in ("properties", "$defs", "patternProperties"):
                for sub in value.values():
                    subschemas(sub, found)
            elif key in ("items", "additionalProperties", "not", "propertyNames") and isinstance(value, dict):
                subschemas(value, found)
            elif key in ("anyOf", "oneOf", "allOf"):
                for sub in value:
                    subschemas(sub, found)
    return found


def words(node: Any, found: set[Any]) -> set[Any]:
    """Property names and enum/const values of a schema: data built from them often fits it."""
    if isinstance(node, dict):
        found.update(k for k in node.get("properties", {}) if isinstance(k, str))
        for key, value in node.items():
            if key == "enum":
                found.update(v for v in value if not isinstance(v, (dict, list)))
            elif key == "const" and not isinstance(value, (dict, list)):
                found.add(value)
            else:
                words(value, found)
    elif isinstance(node, list):
        for item in node:
            words(item, found)
    return found


SCHEMAS = {name: formats.schema(name) for name in formats.schema_names()}
TARGETS = [(name, sub) for name, root in SCHEMAS.items() for sub in subschemas(root, [])]
VOCABULARY = sorted(set().union(*(words(root, set()) for root in SCHEMAS.values())), key=repr)
scalars = (
    st.sampled_from(VOCABULARY)
    | st.none()
    | st.booleans()
    | st.integers(-3, 300)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
)
keys = st.sampled_from([w for w in VOCABULARY if isinstance(w, str)]) | st.text(max_size=5)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5), max_leaves=12
)


@settings(max_examples=150, deadline=None)
@given(target=st.sampled_from(TARGETS), value=values)
def test_the_fast_check_passes_exactly_what_jsonschema_passes(target: tuple[str, Any], value: Any) -> None:
    name, sub = target
    root = SCHEMAS[name]
    fast = validation.fast_check(sub, root)
    assert fast is not None, f"a published schema ({name}) uses a keyword the fast path does not compile"
    full = validation.validator(root).evolve(schema=sub)
    assert fast(value) == full.is_valid(value)


@pytest.mark.parametrize(
    "path", sorted(p for p in EXAMPLE.rglob("*.yaml") if "recordings" not in p.parts and "data" not in p.parts)
)
def test_every_file_of_the_example_passes_the_fast_check(path: Path) -> None:
    rel = path.relative_to(EXAMPLE).as_posix()
    name = {"promptops.yaml": "config", "routing.yaml": "routing"}.get(rel, "eval")
    data, _ = yamltext.parse(path.read_text(), rel)
    assert validation.fast_check(SCHEMAS[name])(data)  # type: ignore[misc]


def test_a_schema_keyword_the_fast_path_does_not_know_leaves_the_schema_to_jsonschema() -> None:
    assert validation.fast_check({"type": "string", "format": "email"}) is None
    assert validation.fast_check({"$ref": "https://example.test/schema.json"}) is None


def test_an_invalid_assertion_is_still_worded_by_the_full_validator() -> None:
    with pytest.raises(InputError) as caught:
        validate_assertion({"type": "contains", "wieght": 2}, "evals/data/rows.jsonl", 7)
    assert caught.value.file == "evals/data/rows.jsonl" and caught.value.line == 7
    assert "wieght" in str(caught.value)


# Schemas a prompt's author may write, from the keywords the fast path compiles.
leaf_schemas = st.one_of(
    st.builds(lambda t: {"type": t}, st.sampled_from(["string", "integer", "number", "boolean", "null", "array"])),
    st.builds(
        lambda ts: {"type": ts},
        st.lists(st.sampled_from(["string", "integer", "null"]), min_size=1, max_size=2, unique=True),
    ),
    st.builds(lambda v: {"enum": v}, st.lists(scalars, min_size=1, max_size=3)),
    st.builds(lambda v: {"const": v}, scalars),
    st.builds(lambda n: {"type": "string", "minLength": n}, st.integers(0, 3)),
    st.builds(lambda n: {"maxLength": n}, st.integers(0, 3)),
    st.builds(lambda n: {"minimum": n}, st.integers(-2, 2) | st.floats(-2, 2)),
    st.builds(lambda n: {"exclusiveMaximum": n}, st.integers(-2, 2)),
    st.builds(lambda p: {"type": "string", "pattern": p}, st.sampled_from(["^a", "[0-9]+", "^$", "x|y"])),
    st.builds(lambda u: {"type": "array", "uniqueItems": u}, st.booleans()),
)
user_schemas = st.recursive(
    leaf_schemas,
    lambda inner: st.one_of(
        st.builds(
            lambda props, required, extra: {
                "type": "object",
                "properties": props,
                "required": sorted(set(required) & set(props)),
                **({"additionalProperties": extra} if extra is not None else {}),
            },
            st.dictionaries(keys, inner, max_size=3),
            st.lists(keys, max_size=2),
            st.none() | st.booleans() | inner,
        ),
        st.builds(lambda s: {"type": "array", "items": s}, inner),
        st.builds(lambda xs: {"anyOf": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda xs: {"oneOf": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda s: {"not": s}, inner),
    ),
    max_leaves=6,
)


@settings(max_examples=200, deadline=None)
@given(schema=user_schemas, value=values)
def test_the_fast_check_of_an_inputs_schema_agrees_with_jsonschema(schema: dict[str, Any], value: Any) -> None:
    assert validation.schema_problem(schema) is None
    fast = validation.fast_check(schema)
    assert fast is not None
    assert fast(value) == validation.validator(schema).is_valid(value)


KEYWORDS = [
    "type", "enum", "const", "default", "description", "minimum", "maxLength", "minItems", "required",
    "uniqueItems", "properties", "items", "additionalProperties", "not", "anyOf", "pattern", "format", "$ref",
]  # fmt: skip
odd_schemas = st.recursive(
    st.booleans() | st.dictionaries(st.sampled_from(KEYWORDS), values, max_size=3),
    lambda inner: st.dictionaries(st.sampled_from(KEYWORDS), inner | st.lists(inner, max_size=2), max_size=3),
    max_leaves=8,
)


@settings(max_examples=100, deadline=None)
@given(schema=odd_schemas | user_schemas)
def test_a_schema_taken_as_plainly_valid_passes_the_metaschema(schema: Any) -> None:
    from jsonschema import Draft202012Validator

    from promptops.fastcheck import _plainly_valid

    if _plainly_valid(schema, 0):
        Draft202012Validator.check_schema(schema)  # raises SchemaError if the shortcut was wrong


@settings(max_examples=50, deadline=None)
@given(schema=user_schemas)
def test_a_common_inputs_schema_needs_no_metaschema(schema: Any) -> None:
    from promptops.fastcheck import _plainly_valid

    assert _plainly_valid(schema, 0)


@settings(max_examples=150, deadline=None)
@given(schema=odd_schemas | user_schemas | st.builds(lambda s: {"$schema": "nowhere", **s}, user_schemas))
def test_lint_accepts_a_json_schema_assertion_exactly_when_its_validator_builds(schema: Any) -> None:
    """lint takes a plain schema as valid without building its validator; the answer stays the validator's."""
    from promptops.checks import validate
    from promptops.model import Assertion

    try:
        validation.checked_validator(schema)
        builds = True
    except validation.InvalidSchema:
        builds = False
    for kind in ("json-schema", "is-json"):
        assert (validate(Assertion(type=kind, value=schema), None) is None) == builds
