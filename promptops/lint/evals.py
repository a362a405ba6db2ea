"""Rules on eval suites: unknown prompts, case vars, assertions that cannot work, coverage of prompts."""

from __future__ import annotations

from collections.abc import Iterator

from .. import checks, loader, routing
from ..model import Finding, Snapshot, Suite
from ..render import input_problem
from .context import Context, make_finding


def broken_prompts(snapshot: Snapshot) -> set[str]:
    """Ids of prompts whose file failed to load."""
    prefix = snapshot.config.prompts_dir + "/" if snapshot.config.prompts_dir else ""
    return {
        loader.prompt_id_of(p.file[len(prefix) :])
        for p in snapshot.problems
        if p.severity == "error" and p.file.startswith(prefix) and p.file.endswith(loader.PROMPT_EXTENSIONS)
    }


def _unchecked(suite: Suite) -> Iterator[Finding]:
    """A case with no assertion checks nothing: eval reports it as unchecked, never as a pass."""
    for case in suite.cases:
        if not case.asserts:
            yield make_finding(
                "unchecked-case",
                f"case {case.id!r} has no assertion: eval reports it as unchecked, never as a pass",
                case.file or suite.path,
                case.line or suite.line_of("cases"),
                "add `assert:` to the case, or assertions every case shares under `defaults: assert:`",
                severity="warning",
            )


def check_suites(ctx: Context) -> Iterator[Finding]:
    routing_ok = not ctx.snapshot.problems_in(ctx.snapshot.routing.path)
    for suite in ctx.snapshot.suites.values():
        prompt = ctx.snapshot.prompts.get(suite.prompt)
        if prompt is None and suite.prompt in broken_prompts(ctx.snapshot):
            continue  # the prompt's own file error is already reported
        if prompt is None:
            yield make_finding(
                "suite-unknown-prompt",
                f"suite targets unknown prompt {suite.prompt!r}",
                suite.path,
                suite.line_of("prompt"),
                "run `promptops list` to see prompt ids",
            )
            continue
        if not suite.cases:
            yield make_finding("empty-suite", "suite has no cases", suite.path, 1, "add cases or a dataset")
        yield from _unchecked(suite)
        for case in suite.cases:
            values = dict(case.vars)
            for name, spec in prompt.inputs.items():
                if name not in values and isinstance(spec, dict) and "default" in spec:
                    values[name] = spec["default"]
            problem = input_problem(prompt, values)
            if problem is not None:
                where, detail = problem
                if detail:
                    yield make_finding(
                        "case-vars",
                        f"case {case.id!r}: {('var ' + where + ': ') if where else ''}{detail}",
                        case.file,
                        case.line,
                        f"fit the inputs of prompt {prompt.id!r}",
                    )
            extra = sorted(set(case.vars) - set(prompt.inputs))
            if extra and prompt.inputs:
                yield make_finding(
                    "case-vars",
                    f"case {case.id!r}: var {extra[0]!r} is not an input of {prompt.id!r}",
                    case.file,
                    case.line,
                    "remove it or declare it in the prompt",
                    "warning",
                )
            for a in case.asserts:
                setting = checks.validate(a, prompt)
                if setting and not (a.type == "json-schema" and a.value is None and prompt.output is None):
                    yield make_finding(
                        "assertion",
                        f"case {case.id!r}: {a.type}: {setting}",
                        case.file,
                        a.line,
                        "see the assertion types in the README",
                    )
                if a.type == "llm-rubric" and routing.judge(ctx.snapshot.routing) is None and routing_ok:
                    yield make_finding(
                        "no-judge",
                        "llm-rubric needs a judge model",
                        case.file,
                        a.line,
                        "set `judge:` in routing.yaml to a named model",
                    )
                if a.type == "json-schema" and a.value is None and prompt.output is None:
                    yield make_finding(
                        "no-output-schema",
                        "json-schema assertion without a schema",
                        case.file,
                        a.line,
                        f"give `value:` a schema, or declare `output:` in {prompt.path}",
                    )


def check_coverage(ctx: Context) -> Iterator[Finding]:
    covered = {s.prompt for s in ctx.snapshot.suites.values() if s.cases}
    evals_dir = ctx.snapshot.config.evals_dir
    # A suite that failed to load may cover any prompt: its error is reported, not a guess at coverage.
    broken_suite = any(p.file.startswith(evals_dir + "/") and p.severity == "error" for p in ctx.snapshot.problems)
    for prompt in ctx.snapshot.prompts.values():
        if prompt.id not in covered and not broken_suite:
            high = prompt.risk == "high"
            yield make_finding(
                "missing-evals",
                f"prompt {prompt.id!r}{' (risk: high)' if high else ''} has no eval cases",
                prompt.path,
                1,
                f"add a suite under evals/ with `prompt: {prompt.id}`",
                "error" if high else "warning",
            )
        if prompt.risk == "high":
            if not prompt.owner:
                yield make_finding(
                    "high-risk-owner",
                    f"high-risk prompt {prompt.id!r} has no owner",
                    prompt.path,
                    prompt.line_of("risk"),
                    "add `owner:` (a team or handle) to the frontmatter",
                )
            if prompt.fallback is None:
                yield make_finding(
                    "high-risk-fallback",
                    f"high-risk prompt {prompt.id!r} has no fallback",
                    prompt.path,
                    prompt.line_of("risk"),
                    "add `fallback:`, the answer given when the kill switch is on",
                )
