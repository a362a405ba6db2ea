"""Checks on the call that produced the output: latency and cost."""

from __future__ import annotations

from ..model import Assertion
from .settings import Observation, Outcome, _CannotRun, _number, _result


def check_latency(a: Assertion, obs: Observation) -> Outcome:
    limit = _number(a)
    if obs.latency_ms is None:
        raise _CannotRun("the latency of this output is unknown")
    took = f"took {obs.latency_ms:.0f} ms"
    return _result(obs.latency_ms <= limit, f"{took} (limit {limit:g} ms)", f"{took}, limit {limit:g} ms")


def check_cost(a: Assertion, obs: Observation) -> Outcome:
    limit = _number(a)
    if obs.cost is None:
        raise _CannotRun("the cost of this output is unknown")
    return _result(obs.cost <= limit, f"cost {obs.cost:.6g} (limit {limit:g})", f"cost {obs.cost:.6g}, limit {limit:g}")
