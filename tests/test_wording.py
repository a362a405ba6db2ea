"""How counts and rates read in every message and report."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from promptops.wording import count, percent, plural


def test_one_is_singular_and_every_other_count_plural() -> None:
    assert count(1, "case") == "1 case"
    assert count(0, "case") == "0 cases"
    assert count(2, "crash trace") == "2 crash traces"
    assert plural(3, "shard") == "shards"


@given(st.integers(min_value=0, max_value=10**9), st.sampled_from(["case", "eval case", "error", "run"]))
def test_count_starts_with_the_number_and_ends_with_the_word(n: int, word: str) -> None:
    text = count(n, word)
    assert text.startswith(f"{n} {word}")
    assert text.endswith("s") == (n != 1)


def test_percent_drops_a_trailing_zero_decimal_and_shows_a_missing_rate_as_a_dash() -> None:
    assert percent(1.0) == "100%"
    assert percent(0.875) == "87.5%"
    assert percent(0.0) == "0%"
    assert percent(None) == "-"


@given(st.floats(min_value=0, max_value=1))
def test_percent_round_trips_to_within_a_twentieth_of_a_point(x: float) -> None:
    assert abs(float(percent(x).rstrip("%")) / 100 - x) <= 0.0005 + 1e-12
