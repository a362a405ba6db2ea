"""Boundaries a one-character change would move: the latency and similarity limits are inclusive, and the most
specific route wins (an exact id over any glob, more literal characters among globs, the first written on a tie)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from promptops import routing
from promptops.checks import Observation, run_checks
from promptops.model import Assertion, Prompt, Route, Routing

PROMPT = Prompt(id="support/refund", path="prompts/support/refund.prompt", body="{{ question }}")


def passes(assertion: Assertion, output: str, **observed: Any) -> bool:
    (result,) = asyncio.run(run_checks([assertion], Observation(output, PROMPT, **observed), None))
    assert not result.error, result.reason
    return result.passed


@pytest.mark.parametrize(("took", "ok"), [(999.9, True), (1000.0, True), (1000.1, False)])
def test_latency_passes_up_to_and_at_its_limit(took: float, ok: bool) -> None:
    assert passes(Assertion(type="latency", value=1000), "x", latency_ms=took) is ok


@pytest.mark.parametrize(("threshold", "ok"), [(0.74, True), (0.75, True), (0.76, False)])
def test_similar_passes_at_its_threshold(threshold: float, ok: bool) -> None:
    # difflib's ratio of "abcd" and "abce" is 2 * 3 / 8 = 0.75 exactly
    assert passes(Assertion(type="similar", value="abce", threshold=threshold), "abcd") is ok


def test_specificity_ranks_exact_ids_over_globs_and_globs_by_literal_characters() -> None:
    assert routing.specificity("support/refund") == (1, 14)
    assert routing.specificity("support/*") == (0, 8)
    assert routing.specificity("*") == (0, 0)
    assert routing.specificity("s?pport/r*") > routing.specificity("*/refund")  # 8 literal characters over 7


def route(pattern: str, model: str) -> Route:
    return Route(pattern=pattern, model=model)


@pytest.mark.parametrize(
    ("patterns", "winner"),
    [
        (["*", "support/*", "support/refund"], "support/refund"),
        (["support/refund", "support/*", "*"], "support/refund"),
        (["support/*", "*/refund"], "support/*"),  # 8 literal characters against 7
        (["*/refund", "support/*"], "support/*"),
        (["support/r*", "*rt/refund"], "support/r*"),  # a tie (9 each): the route written first
        (["*rt/refund", "support/r*"], "*rt/refund"),
    ],
)
def test_the_most_specific_route_wins_and_a_tie_goes_to_the_first(patterns: list[str], winner: str) -> None:
    table = Routing(routes=tuple(route(p, f"m{i}") for i, p in enumerate(patterns)))
    chosen = routing.match(table, "support/refund")
    assert chosen is not None and chosen.pattern == winner
