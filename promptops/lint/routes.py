"""Rules on routing.yaml: routes naming unknown prompts or models, prompts no model serves."""

from __future__ import annotations

from collections.abc import Iterator
from fnmatch import fnmatchcase

from .. import routing
from ..model import Finding, Routing
from .context import Context, make_finding


def check_routing(ctx: Context) -> Iterator[Finding]:
    r = ctx.snapshot.routing
    if ctx.snapshot.prompts and ctx.source.read(r.path) is None:
        yield make_finding(
            "missing-routing",
            f"there are prompts but no {r.path}: no model serves them, and eval will fail",
            r.path,
            0,
            f"create {r.path} with `defaults: {{model: NAME}}` and the model under `models:` "
            "(see `promptops schema routing`)",
            "warning",
        )
    known = sorted(r.models)
    hint = f"known models: {', '.join(known)}" if known else "declare it under `models:` in routing.yaml"

    def unknown(name: str | None, where: str) -> Iterator[Finding]:
        if name is not None and name not in r.models:
            yield make_finding(
                "route-unknown-model", f"{where} names unknown model {name!r}", r.path, r.lines.get(where, 1), hint
            )

    yield from unknown(r.model, "defaults.model")
    for name in r.fallbacks:
        yield from unknown(name, "defaults.fallbacks")
    yield from unknown(r.judge, "judge")
    for route in r.routes:
        for name in [m for m in (route.model, *(route.fallbacks or ())) if m is not None]:
            if name not in r.models:
                yield make_finding(
                    "route-unknown-model",
                    f"route {route.pattern!r} names unknown model {name!r}",
                    r.path,
                    _route_model_line(r, route.pattern, name, route.line),
                    hint,
                )
        matches = [p for p in ctx.snapshot.prompts if fnmatchcase(p, route.pattern)]
        if not routing.is_glob(route.pattern) and route.pattern not in ctx.snapshot.prompts:
            yield make_finding(
                "route-unknown-prompt",
                f"route {route.pattern!r} names no prompt",
                r.path,
                route.line,
                "fix the prompt id, or remove the route",
            )
        elif routing.is_glob(route.pattern) and not matches:
            yield make_finding(
                "route-unknown-prompt",
                f"route {route.pattern!r} matches no prompt",
                r.path,
                route.line,
                "fix the pattern, or remove the route",
                "warning",
            )
    if r.models or r.routes:
        for prompt in ctx.snapshot.prompts.values():
            if routing.resolve(r, prompt).model is None:
                yield make_finding(
                    "unrouted-prompt",
                    f"no model serves prompt {prompt.id!r}",
                    prompt.path,
                    1,
                    "add a route for it or set defaults.model in routing.yaml",
                    "warning",
                )


def _route_model_line(r: Routing, pattern: str, name: str, default: int) -> int:
    """The line of the exact `model:` or fallbacks entry that names `name` in a route."""
    route = next(x for x in r.routes if x.pattern == pattern)
    if route.model == name:
        return r.lines.get(f"routes.{pattern}.model", default)
    for i, fallback in enumerate(route.fallbacks or ()):
        if fallback == name:
            return r.lines.get(f"routes.{pattern}.fallbacks.{i}", default)
    return default
