"""Checks on the output as text: equals, contains, icontains, contains-any, contains-all, icontains-any,
icontains-all, regex, starts-with, ends-with, length and similar."""

from __future__ import annotations

import difflib

from .. import budget
from ..model import Assertion
from .settings import (
    DEFAULT_SIMILAR_THRESHOLD,
    Observation,
    Outcome,
    _as_json,
    _bounds,
    _candidates,
    _CannotRun,
    _not_json,
    _num,
    _parse_json,
    _regex,
    _result,
    _same,
    _show,
    _text,
    _texts,
    _threshold,
    _value,
)


def check_equals(a: Assertion, obs: Observation) -> Outcome:
    expected = _value(a)
    if isinstance(expected, str):
        if obs.output == expected:
            return True, 1.0, "output equals the expected text"
        at = next((i for i, (x, y) in enumerate(zip(obs.output, expected, strict=False)) if x != y), None)
        at = min(len(obs.output), len(expected)) if at is None else at
        return False, 0.0, f"expected {_show(expected)}, got {_show(obs.output)} (they differ at character {at})"
    want = _as_json(expected)
    got, why = _parse_json(obs.output)
    if why is not None:
        return _not_json(obs.output, why)
    return _result(
        _same(got, want), "output JSON equals the expected value", f"expected {_show(want)}, got {_show(got)}"
    )


# The most used checks word only the reason they give (a run of 10,000 cases wrote 20,000 it did not keep).


def check_contains(a: Assertion, obs: Observation) -> Outcome:
    needle = _text(a)
    if needle in obs.output:
        return True, 1.0, f"found {_show(needle)}"
    return False, 0.0, f"{_show(needle)} not found in {_show(obs.output)}"


def check_icontains(a: Assertion, obs: Observation) -> Outcome:
    needle = _text(a)
    if needle.casefold() in obs.output.casefold():
        return True, 1.0, f"found {_show(needle)} (ignoring case)"
    return False, 0.0, f"{_show(needle)} not found in {_show(obs.output)}"


def _any(a: Assertion, obs: Observation, fold: bool) -> Outcome:
    """`contains-any`, or `icontains-any` with `fold` (case ignored)."""
    needles = _texts(a)
    key = str.casefold if fold else str
    text, note = key(obs.output), " (ignoring case)" if fold else ""
    found = [n for n in needles if key(n) in text]
    if found:
        return True, 1.0, f"found {_show(found[0])}{note}"
    return False, 0.0, f"none of {_show(needles)} found in {_show(obs.output)}{note}"


def _all(a: Assertion, obs: Observation, fold: bool) -> Outcome:
    """`contains-all`, or `icontains-all` with `fold` (case ignored)."""
    needles = _texts(a)
    key = str.casefold if fold else str
    text = key(obs.output)
    missing = [n for n in needles if key(n) not in text]
    score = 1 - len(missing) / len(needles)
    if not missing:
        return True, score, f"found all {len(needles)}{' (ignoring case)' if fold else ''}"
    return False, score, f"missing {len(missing)} of {len(needles)}: {_show(missing)} in {_show(obs.output)}"


def check_contains_any(a: Assertion, obs: Observation) -> Outcome:
    return _any(a, obs, fold=False)


def check_contains_all(a: Assertion, obs: Observation) -> Outcome:
    return _all(a, obs, fold=False)


def check_icontains_any(a: Assertion, obs: Observation) -> Outcome:
    return _any(a, obs, fold=True)


def check_icontains_all(a: Assertion, obs: Observation) -> Outcome:
    return _all(a, obs, fold=True)


def check_regex(a: Assertion, obs: Observation) -> Outcome:
    pattern = _regex(a)
    try:
        match = budget.search(pattern, obs.output)
    except budget.OverBudget as exc:
        raise _CannotRun(f"{exc}; simplify the pattern") from None
    if match:
        return True, 1.0, f"matched {_show(match.group(0))} at character {match.start()}"
    return False, 0.0, f"no match for {_show(pattern.pattern)} in {_show(obs.output)}"


def check_starts_with(a: Assertion, obs: Observation) -> Outcome:
    prefix = _text(a)
    if obs.output.startswith(prefix):
        return True, 1.0, f"starts with {_show(prefix)}"
    return False, 0.0, f"expected to start with {_show(prefix)}, got {_show(obs.output)}"


def check_ends_with(a: Assertion, obs: Observation) -> Outcome:
    suffix = _text(a)
    if obs.output.endswith(suffix):
        return True, 1.0, f"ends with {_show(suffix)}"
    return False, 0.0, f"expected to end with {_show(suffix)}, got {_show(obs.output)}"


def check_length(a: Assertion, obs: Observation) -> Outcome:
    low, high = _bounds(a)
    n = len(obs.output)
    if low is not None and n < low:
        return False, 0.0, f"{_chars(n)}, expected at least {_num(low)}"
    if high is not None and n > high:
        return False, 0.0, f"{_chars(n)}, expected at most {_num(high)}"
    expected = [f"at least {_num(low)}"] if low is not None else []
    expected += [f"at most {_num(high)}"] if high is not None else []
    return True, 1.0, f"{_chars(n)} ({' and '.join(expected)})"


def _chars(n: int) -> str:
    return f"{n} character{'' if n == 1 else 's'}"


def check_similar(a: Assertion, obs: Observation) -> Outcome:
    candidates = _candidates(a)
    threshold = _threshold(a, DEFAULT_SIMILAR_THRESHOLD)
    ratio, best = max((difflib.SequenceMatcher(None, obs.output, c).ratio(), c) for c in candidates)
    ok = ratio >= threshold
    found = "" if ok else f"; got {_show(obs.output)}"
    return ok, ratio, f"similarity {ratio:.2f} to {_show(best)} (threshold {_num(threshold)}){found}"
