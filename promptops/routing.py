"""Which model serves which prompt: route matching (most specific wins) and parameter merging."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from .model import ModelSpec, Prompt, ResolvedRoute, Route, Routing

GLOB_CHARS = "*?["


def is_glob(pattern: str) -> bool:
    return any(ch in pattern for ch in GLOB_CHARS)


def specificity(pattern: str) -> tuple[int, int]:
    """Exact ids beat globs; among globs, more literal characters win."""
    if not is_glob(pattern):
        return (1, len(pattern))
    literal = sum(1 for ch in pattern if ch not in GLOB_CHARS)
    return (0, literal)


def match(routing: Routing, prompt_id: str) -> Route | None:
    """The most specific route for a prompt id; ties go to the route written first."""
    best: Route | None = None
    for route in routing.routes:
        matches = route.pattern == prompt_id or (is_glob(route.pattern) and fnmatchcase(prompt_id, route.pattern))
        if matches and (best is None or specificity(route.pattern) > specificity(best.pattern)):
            best = route
    return best


def resolve(routing: Routing, prompt: Prompt) -> ResolvedRoute:
    """The model, fallback chain and parameters a prompt is served with.

    Parameters merge, later winning: routing defaults, the model's own, the prompt's frontmatter, the route.
    Unknown model names resolve to None here; lint reports them.
    """
    route = match(routing, prompt.id)
    model_name = (route.model if route and route.model else None) or routing.model
    model = routing.models.get(model_name) if model_name else None
    fallback_names = route.fallbacks if route and route.fallbacks is not None else routing.fallbacks
    fallbacks = tuple(routing.models[n] for n in fallback_names if n in routing.models)
    params = {**routing.params, **(model.params if model else {}), **prompt.params, **(route.params if route else {})}
    return ResolvedRoute(
        prompt=prompt.id,
        route=route.pattern if route else None,
        model=model,
        fallbacks=fallbacks,
        params=params,
        timeout=float(route.timeout if route and route.timeout is not None else routing.timeout),
        retries=int(route.retries if route and route.retries is not None else routing.retries),
    )


def judge(routing: Routing) -> ModelSpec | None:
    return routing.models.get(routing.judge) if routing.judge else None


def response_format(prompt: Prompt, model: ModelSpec | None = None) -> dict[str, Any] | None:
    """Prompts with an output schema ask the provider for JSON that fits it (in eval and at run time alike), in
    the form the model's `structured_output` says it accepts; the schema itself always gates the answer."""
    if prompt.output is None:
        return None
    form = model.structured_output if model is not None else "json_schema"
    if form == "none":
        return None
    if form == "json_object":
        return {"type": "json_object"}
    return {"type": "json_schema", "json_schema": {"name": "output", "schema": dict(prompt.output)}}
