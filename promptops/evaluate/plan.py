"""Planning: suites x cases x repeats (x models, x fallback chain) become tasks, each with its request."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from .. import routing
from ..errors import InputError
from ..model import Assertion, Case, Message, ModelSpec, Prompt, ResolvedRoute, Snapshot, Suite, variant_parts
from ..providers import ProviderRequest
from ..quickinit import quick_init
from ..render import Renderer

KILL_SWITCH = ModelSpec(name="kill-switch", model="promptops/fallback")
_Sharded = TypeVar("_Sharded", "Task", "CaseJob")


@quick_init
@dataclass(frozen=True)
class Task:
    """One run of one case against one model. `error` is set when the task cannot even be built."""

    suite: Suite
    case: Case
    repeat: int
    variant: str
    model: ModelSpec
    request: ProviderRequest | None
    key: str
    asserts: tuple[Assertion, ...]
    retries: int = 2
    error: str | None = None
    vars: Mapping[str, Any] = field(default_factory=dict)
    prompt: Prompt | None = None
    scope: str = ""  # "base" for the tasks of a --baseline revision

    @property
    def case_key(self) -> str:
        return f"{self.suite.id}\x00{self.case.id}"

    @property
    def uid(self) -> str:
        """What identifies a task's result: two cases may send the very same request (the key)."""
        return "\x1f".join(
            (self.scope, self.suite.id, self.case.id, self.variant, self.model.name, str(self.repeat), self.key)
        )


def _error_key(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def select_suites(snapshot: Snapshot, ids: Sequence[str]) -> list[Suite]:
    """Suites named by id, or targeting a prompt named by id; all suites when none are named."""
    if not ids:
        return [snapshot.suites[k] for k in sorted(snapshot.suites)]
    chosen: dict[str, Suite] = {}
    for wanted in ids:
        found = [s for s in snapshot.suites.values() if wanted in (s.id, s.prompt, variant_parts(s.id)[0])]
        if not found:
            known = sorted({*snapshot.suites, *(s.prompt for s in snapshot.suites.values())})
            raise InputError(
                f"no eval suite or prompt named {wanted!r}",
                hint=f"known: {', '.join(known[:12]) or 'none (add suites under evals/)'}",
            )
        chosen.update({s.id: s for s in found})
    return [chosen[k] for k in sorted(chosen)]


@quick_init
@dataclass(frozen=True)
class CaseJob:
    """A case to plan: its suite, prompt and route (resolved once a suite), and how often it runs."""

    suite: Suite
    prompt: Prompt | None
    resolved: ResolvedRoute | None
    case: Case
    repeats: int

    @property
    def case_key(self) -> str:
        return f"{self.suite.id}\x00{self.case.id}"


def plan(
    snapshot: Snapshot,
    suites: Sequence[Suite],
    *,
    models: Sequence[str] = (),
    all_routes: bool = False,
    repeat: int | None = None,
    renderer: Renderer | None = None,
) -> list[Task]:
    """Every task of a run, in a stable order."""
    jobs = case_jobs(snapshot, suites, models=models, repeat=repeat)
    renderer = renderer or Renderer(snapshot)
    return [t for job in jobs for t in job_tasks(snapshot, renderer, job, models=models, all_routes=all_routes)]


def case_jobs(
    snapshot: Snapshot, suites: Sequence[Suite], *, models: Sequence[str] = (), repeat: int | None = None
) -> list[CaseJob]:
    """The cases of a run in their stable order, each with what planning it needs (cheap: nothing is rendered).
    A `--model` that routing.yaml does not name is refused here, before anything runs."""
    for name in models:
        if name not in snapshot.routing.models:
            raise InputError(
                f"--model {name!r} is not a named model in {snapshot.routing.path}",
                hint=f"known models: {', '.join(sorted(snapshot.routing.models)) or 'none'}",
            )
    jobs: list[CaseJob] = []
    for suite in suites:
        prompt = snapshot.prompts.get(suite.prompt)
        resolved = routing.resolve(snapshot.routing, prompt) if prompt is not None else None  # once a suite
        for case in suite.cases:
            repeats = repeat or case.options.get("repeat") or suite.repeat
            jobs.append(CaseJob(suite, prompt, resolved, case, repeats))
    return jobs


def job_tasks(
    snapshot: Snapshot, renderer: Renderer, job: CaseJob, *, models: Sequence[str] = (), all_routes: bool = False
) -> list[Task]:
    """The tasks of one case: rendered, or broken (one per model of a matrix) when it cannot be built."""
    suite, prompt, resolved, case, repeats = job.suite, job.prompt, job.resolved, job.case, job.repeats
    # A case that cannot be built is one error per model of a matrix, so every row of the matrix shows it.
    cells: list[ModelSpec | None] = [snapshot.routing.models[m] for m in models] or [None]
    if prompt is None or resolved is None:
        return [_broken(suite, case, f"suite targets unknown prompt {suite.prompt!r}", model=m) for m in cells]
    try:
        variables = renderer.check_inputs(prompt, case.vars)
        messages = tuple(renderer.render_checked(prompt, variables)[0])
        asserts = templated_asserts(renderer, prompt, case, variables)
    except InputError as exc:
        return [_broken(suite, case, str(exc), model=m) for m in cells]
    targets: list[tuple[str, ModelSpec]] = []
    case_model = case.options.get("model")
    if case_model is not None:
        if case_model not in snapshot.routing.models:
            why = f"options.model {case_model!r} is not a named model in routing.yaml"
            return [_broken(suite, case, why, model=m) for m in cells]
        targets = [("primary", snapshot.routing.models[case_model])]
    elif models:
        targets = [("primary", snapshot.routing.models[m]) for m in models]
    elif resolved.model is not None:
        targets = [("primary", resolved.model)]
    else:
        return [_broken(suite, case, f"no model serves prompt {prompt.id!r}; add a route or defaults.model")]
    if all_routes:
        # A fallback's role is its place in the chain, so a baseline pairs it across a swap of the model there.
        targets += [(f"fallback:{i}", m) for i, m in enumerate(resolved.fallbacks, start=1)]
    tasks = []
    for variant, model in targets:
        params = {**resolved.params, **model.params} if models else dict(resolved.params)
        for i in range(repeats):
            request = ProviderRequest(
                model=model,
                messages=messages,
                params=params,
                response_format=case.options.get("response_format") or routing.response_format(prompt, model),
                timeout=resolved.timeout,
                repeat=i,
            )
            tasks.append(
                Task(
                    suite=suite,
                    case=case,
                    repeat=i,
                    variant=variant,
                    model=model,
                    request=request,
                    key=request.key(),
                    asserts=asserts,
                    retries=resolved.retries,
                    vars=variables,
                    prompt=prompt,
                )
            )
    if all_routes and prompt.fallback is not None:
        tasks.append(_kill_switch_task(renderer, suite, prompt, case, variables, asserts))
    return tasks


def templated_asserts(
    renderer: Renderer, prompt: Prompt, case: Case, variables: Mapping[str, Any]
) -> tuple[Assertion, ...]:
    """The case's assertions with every string of their `value` that holds Jinja2 rendered from the case's vars,
    in the prompt's sandbox (`value: "{{ label }}"`)."""
    out = []
    for a in case.asserts:
        what = f"case {case.id!r}: value of {a.type} at {case.file}:{a.line}"
        value = _templated(renderer, prompt, a.value, variables, what)
        out.append(a if value is a.value else replace(a, value=value))
    return tuple(out)


def _templated(renderer: Renderer, prompt: Prompt, value: Any, variables: Mapping[str, Any], what: str) -> Any:
    if isinstance(value, str):
        return renderer.render_text(prompt, value, variables, what) if "{{" in value or "{%" in value else value
    if isinstance(value, list):
        items = [_templated(renderer, prompt, v, variables, what) for v in value]
        return value if all(x is y for x, y in zip(items, value, strict=True)) else items
    return value


def _kill_switch_task(
    renderer: Renderer,
    suite: Suite,
    prompt: Prompt,
    case: Case,
    variables: Mapping[str, Any],
    rendered: tuple[Assertion, ...],
) -> Task:
    asserts = tuple(a for a in rendered if a.fallback)
    try:
        text = renderer.render_text(prompt, prompt.fallback or "", variables, f"fallback of {prompt.id!r}")
    except InputError as exc:
        return _broken(suite, case, str(exc), variant="kill-switch")
    request = ProviderRequest(model=KILL_SWITCH, messages=(Message("assistant", text),))
    return Task(
        suite=suite,
        case=case,
        repeat=0,
        variant="kill-switch",
        model=KILL_SWITCH,
        request=request,
        key=request.key(),
        asserts=asserts,
        vars=variables,
        prompt=prompt,
    )


def _broken(suite: Suite, case: Case, error: str, variant: str = "primary", model: ModelSpec | None = None) -> Task:
    model = model or ModelSpec(name="-", model="-")
    return Task(
        suite=suite,
        case=case,
        repeat=0,
        variant=variant,
        model=model,
        request=None,
        key=_error_key(suite.id, case.id, variant, model.name, error),
        asserts=case.asserts,
        error=error,
    )


def shard(tasks: Sequence[_Sharded], index: int, count: int) -> list[_Sharded]:
    """Shard K of N (1-based) of tasks or case jobs: every task of a case lands in the same shard, chosen by a
    stable hash."""
    return [t for t in tasks if int(hashlib.sha256(t.case_key.encode()).hexdigest()[:8], 16) % count == index - 1]
