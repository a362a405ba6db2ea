"""The report's JSON text is written without the standard library's indenting encoder, and must not differ
from it by a byte: `-o report.json` files are compared and merged by other tools."""

from __future__ import annotations

import json
import math

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
