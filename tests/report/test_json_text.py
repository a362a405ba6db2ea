"""The report's JSON text is written without the standard library's indenting encoder, and must not differ
from it by a byte: `-o report.json` files are compared and merged by other tools."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptops.report import jsontext

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),  # any code point, surrogates and control characters included
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(st.text(max_size=8), inner, max_size=4),
        st.dictionaries(st.one_of(st.integers(), st.floats(), st.booleans(), st.none()), inner, max_size=3),
    ),
    max_leaves=30,
)


@given(values)
def test_the_text_is_the_standard_encoders_byte_for_byte(value: object) -> None:
    assert jsontext.dumps(value) == json.dumps(value, indent=2)


def test_values_json_cannot_hold_are_refused_like_the_standard_encoder() -> None:
    for bad in ({"a": {1, 2}}, [object()], {("a",): 1}):
        with pytest.raises(TypeError):
            json.dumps(bad, indent=2)
        with pytest.raises(TypeError):
            jsontext.dumps(bad)


def test_subclasses_of_scalars_are_written_as_their_values() -> None:
    class Label(str):
        pass

    class Count(int):
        pass

    value = {"label": Label("x"), "n": Count(3), "f": [math.inf, -math.inf]}
    assert jsontext.dumps(value) == json.dumps(value, indent=2)


@dataclasses.dataclass(frozen=True)
class Inner:
    kind: Literal["a", "b"]
    weight: float
    note: str | None = None


@dataclasses.dataclass(frozen=True)
class Outer:
    name: str
    count: int
    items: tuple[Inner, ...]
    ratio: float
    axes: dict[str, str]
    loose: Any  # declared as anything: written as the value it holds
    last: bool | None = None
    extra: Inner | None = None  # most often None: written with the scalars around it, else on its own
    after: int = 0


@dataclasses.dataclass(frozen=True)
class Nothing:
    pass


def _as_dict(value: Any) -> Any:
    """What the report's JSON holds for a value: a dataclass as the dict of its fields, tuples as lists."""
    if dataclasses.is_dataclass(value):
        return {f.name: _as_dict(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_as_dict(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_dict(v) for k, v in value.items()}
    return value


inners = st.builds(Inner, kind=st.sampled_from(["a", "b"]), weight=st.floats(), note=st.none() | st.text(max_size=8))
outers = st.builds(
    Outer,
    name=st.text(max_size=8),
    count=st.integers(),
    items=st.lists(inners, max_size=3).map(tuple),
    ratio=st.floats(),
    axes=st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=2),
    loose=values,
    last=st.none() | st.booleans(),
    extra=st.none() | inners,
    after=st.integers(),
)


@given(st.lists(st.one_of(outers, inners, st.just(Nothing()), scalars), max_size=4), st.one_of(outers, inners))
def test_dataclasses_are_written_as_the_dicts_of_their_fields(items: list[Any], alone: Any) -> None:
    # The report's results, cases and suites are written from their objects, never made into dicts first.
    value = {"items": items, "alone": alone, "nested": {"deeper": [alone]}}
    assert jsontext.dumps(value) == json.dumps(_as_dict(value), indent=2)
    assert jsontext.dumps(alone) == json.dumps(_as_dict(alone), indent=2)


def test_a_field_holding_a_value_unlike_its_declared_type_is_written_as_that_value() -> None:
    odd = Outer("n", 1, (), 0.5, {}, None, last="not a bool")  # type: ignore[arg-type]
    assert jsontext.dumps(odd) == json.dumps(_as_dict(odd), indent=2)
    with pytest.raises(TypeError):
        jsontext.dumps(Outer("n", 1, (), 0.5, {}, {1, 2}))


@given(st.lists(st.one_of(outers, values), max_size=4), st.lists(st.booleans(), max_size=4))
def test_text_made_beforehand_for_its_depth_is_written_as_the_value_would_be(
    items: list[Any], early: list[bool]
) -> None:
    # A report's results are written as they arrive (dumps_at) and joined into the document afterwards.
    made = [jsontext.dumps_at(v, 2) if i < len(early) and early[i] else v for i, v in enumerate(items)]
    assert jsontext.dumps({"results": made, "n": 1}) == jsontext.dumps({"results": items, "n": 1})
    assert jsontext.dumps({"results": made}) == json.dumps({"results": _as_dict(items)}, indent=2)


@given(st.one_of(values, outers), st.integers(min_value=0, max_value=4))
def test_compact_text_is_the_standard_one_line_text(value: Any, depth: int) -> None:
    # The results store keeps `json.dumps` of a result: a JSON report's text of it, on one line.
    assert jsontext.compact(jsontext.dumps(value)) == json.dumps(_as_dict(value))
    assert jsontext.compact(jsontext.dumps_at(value, depth)) == json.dumps(_as_dict(value))


@given(st.one_of(outers, inners, values), st.integers(min_value=0, max_value=4))
def test_a_value_written_for_the_report_and_for_the_store_at_once_is_both_texts(value: Any, depth: int) -> None:
    # A result's indented text (the report) and one-line text (the store) come from one pass over its values.
    text, line = jsontext.texts_at(value, depth)
    assert text == jsontext.dumps_at(value, depth)
    assert line == json.dumps(_as_dict(value))


def test_a_value_of_each_shape_is_written_from_its_own_template() -> None:
    # Objects of one class but of different shapes (lists of other lengths, a field holding a value of another
    # kind) never share a text: each shape has its own template.
    few = Outer("a", 1, (Inner("a", 0.5),), 1.0, {}, None)
    many = Outer("b", 2, (Inner("a", 0.5), Inner("b", 2.0, "x%s")), 1.0, {}, None, extra=Inner("b", 1.0))
    odd = Outer("c%d", 3, (), math.nan, {"k": "v"}, [1, {"x": None}], last=True)
    for value in (few, many, odd, few, many, odd):
        assert jsontext.dumps(value) == json.dumps(_as_dict(value), indent=2)
        assert jsontext.texts_at(value, 2)[1] == json.dumps(_as_dict(value))
