"""The JSON made once per call or task (cache keys, plan digests, request bodies, stored answers) is made by an
encoder built once: the very text of `json.JSONEncoder.encode`, for any value, and the same refusals."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import json_values

from promptops import digest
from promptops.evaluate.store import to_json
from promptops.providers import Completion

ENCODERS = {
    "canonical": json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False),
    "canonical ascii": json.JSONEncoder(sort_keys=True, ensure_ascii=True, separators=(",", ":"), allow_nan=False),
    "json.dumps": json.JSONEncoder(),
}


@pytest.mark.parametrize("name", ENCODERS)
@given(value=json_values)
def test_the_text_is_the_standard_encoders(name: str, value: object) -> None:
    encoder = ENCODERS[name]
    assert digest.encoding(encoder)(value) == encoder.encode(value)


@given(value=json_values, ascii=st.booleans())
def test_canonical_json_is_the_canonical_encoders_text(value: object, ascii: bool) -> None:
    assert digest.canonical_json(value, ascii=ascii) == digest.encoder(ascii=ascii).encode(value)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), {"a": [float("-inf")]}])
def test_a_number_json_cannot_hold_is_refused_as_by_the_standard_encoder(bad: object) -> None:
    with pytest.raises(ValueError):
        digest.canonical_json(bad)
    assert digest.encoding(ENCODERS["json.dumps"])(bad) == json.dumps(bad)  # NaN, Infinity: what json.dumps writes


def test_a_value_json_lacks_goes_to_the_encoders_default() -> None:
    @dataclass
    class Other:
        x: int

    with pytest.raises(TypeError, match="not JSON serializable"):
        digest.canonical_json({"a": Other(1)})
    answer = Completion(text="yes ü \u2028", prompt_tokens=3, cost=0.5, model="m")
    assert to_json(answer) == json.dumps(
        {
            "text": "yes ü \u2028",
            "prompt_tokens": 3,
            "completion_tokens": 0,
            "cost": 0.5,
            "latency_ms": 0.0,
            "model": "m",
        }
    )
