"""Routing: the edits to routing.yaml itself, and the resolved route of each prompt on both sides."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .. import routing
from ..model import Prompt, Routing
from .context import _Context
from .model import Change, _field_diff, _plain


def _spec(m: Any) -> dict[str, Any] | None:
    return None if m is None else {"name": m.name, "model": m.model}


def _route(ctx: _Context, old: Prompt, new: Prompt) -> tuple[list[Change], tuple[Any, Any] | None]:
    a = routing.resolve(ctx.base.routing, old).as_dict()
    b = routing.resolve(ctx.head.routing, new).as_dict()
    a.pop("prompt"), b.pop("prompt")
    if a == b:
        return [], None
    changes = []
    if a["model"] != b["model"]:
        swap = (a["model"] or {}).get("model") != (b["model"] or {}).get("model")
        note = "model swap" if swap else ""
        changes.append(Change("route", "model", a["model"], b["model"], behaviour=True, note=note))
    if a["fallbacks"] != b["fallbacks"]:
        changes.append(Change("route", "fallbacks", a["fallbacks"], b["fallbacks"], behaviour=True))
    changes += [replace(c, kind="route", behaviour=True) for c in _field_diff(a["params"], b["params"], "params")]
    for key in ("timeout", "retries"):
        if a[key] != b[key]:
            changes.append(Change("route", key, a[key], b[key], behaviour=True))
    if a["route"] != b["route"]:
        changes.append(Change("route", "route", a["route"], b["route"]))
    return changes, (a, b)


def _routing_data(r: Routing) -> dict[str, Any]:
    return _plain(
        {
            "defaults": {
                "model": r.model,
                "params": r.params,
                "timeout": r.timeout,
                "retries": r.retries,
                "fallbacks": r.fallbacks,
            },
            "models": {
                n: {**m.as_dict(), "params": m.params, "structured_output": m.structured_output}
                for n, m in r.models.items()
            },
            "routes": {
                x.pattern: {
                    "model": x.model,
                    "fallbacks": x.fallbacks,
                    "params": x.params,
                    "timeout": x.timeout,
                    "retries": x.retries,
                }
                for x in r.routes
            },
        }
    )


def _routing(base: Routing, head: Routing) -> list[Change]:
    """routing.yaml itself: what was edited (the effect on each prompt is under the prompt)."""
    changes = [replace(c, kind="routing") for c in _field_diff(_routing_data(base), _routing_data(head), "")]
    a, b = _spec(routing.judge(base)), _spec(routing.judge(head))
    if a != b or base.judge != head.judge:
        changes.append(Change("routing", "judge", a or base.judge, b or head.judge, note="grades llm-rubric checks"))
    return changes
