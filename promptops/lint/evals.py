"""Rules on eval suites: unknown prompts, case vars, assertions that cannot work, coverage of prompts."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .. import checks, loader, routing
from ..budget import OverBudget
from ..fastcheck import fast_check
from ..model import Assertion, Case, Finding, Prompt, Snapshot, Suite
from ..render import RenderError, input_problem, inputs_validator, template_variables
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
    """A case with no assertion checks nothing: eval reports it as unchecked, never as a pass. The rows of a
    dataset file give one warning between them (a 68-row CSV is one line, not 68)."""
    rows: dict[str, list[Case]] = {}
    for case in suite.cases:
        if not case.asserts:
            if case.file and case.file != suite.path:
                rows.setdefault(case.file, []).append(case)
                continue
            yield make_finding(
                "unchecked-case",
                f"case {case.id!r} has no assertion: eval reports it as unchecked, never as a pass",
                case.file or suite.path,
                case.line or suite.line_of("cases"),
                "add `assert:` to the case, or assertions every case shares under `defaults: assert:`",
                severity="warning",
            )
    for file, cases in rows.items():
        one = len(cases) == 1
        yield make_finding(
            "unchecked-case",
            f"{_who(cases)} {'has' if one else 'have'} no assertion: eval reports {'it' if one else 'them'} as "
            "unchecked, never as a pass",
            file,
            cases[0].line,
            f"add `assert` to the rows, or assertions every case shares under `defaults: assert:` in {suite.path}",
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
        extras: dict[tuple[str, tuple[str, ...]], list[Case]] = {}
        yield from _case_findings(ctx, suite, prompt, extras, routing_ok)
        yield from _extra_vars(suite, prompt, extras)


def _who(cases: list[Case]) -> str:
    """The cases one grouped warning speaks of: "case 'a'", or "68 cases (first: 'a')"."""
    return f"case {cases[0].id!r}" if len(cases) == 1 else f"{len(cases)} cases (first: {cases[0].id!r})"


def _metadata(suite: Suite, name: str) -> bool:
    return name.startswith("__") or name in suite.metadata


def _extra_vars(
    suite: Suite, prompt: Prompt, extras: dict[tuple[str, tuple[str, ...]], list[Case]]
) -> Iterator[Finding]:
    """One warning per file and set of extra vars, however many cases share it (a dataset's rows do)."""
    for (file, names), cases in extras.items():
        listed = ", ".join(repr(n) for n in names)
        what = f"var {listed} is" if len(names) == 1 else f"vars {listed} are"
        yield make_finding(
            "case-vars",
            f"{_who(cases)}: {what} not an input of {prompt.id!r}",
            file,
            cases[0].line,
            f"remove, or declare under the inputs of {prompt.id!r}; a column that describes the case (an expected "
            f"label) goes under `metadata:` in {suite.path}",
            "warning",
        )


def _case_findings(
    ctx: Context, suite: Suite, prompt: Prompt, extras: dict[tuple[str, tuple[str, ...]], list[Case]], routing_ok: bool
) -> Iterator[Finding]:
    inputs_problem = _inputs_checker(prompt)
    for case in suite.cases:
        model = case.options.get("model")
        if model is not None and model not in ctx.snapshot.routing.models and routing_ok:
            yield make_finding(
                "case-options",
                f"case {case.id!r}: options.model {model!r} is not a named model in {ctx.snapshot.routing.path}",
                case.file,
                case.line,
                f"known models: {', '.join(sorted(ctx.snapshot.routing.models)) or 'none'}",
            )
        values = dict(case.vars)
        for name, spec in prompt.inputs.items():
            if name not in values and isinstance(spec, dict) and "default" in spec:
                values[name] = spec["default"]
        problem = inputs_problem(values)
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
        extra = tuple(sorted(k for k in set(case.vars) - set(prompt.inputs) if not _metadata(suite, k)))
        if extra and prompt.inputs:
            extras.setdefault((case.file, extra), []).append(case)
        for a in case.asserts:
            yield from _assertion_findings(ctx, case, a, prompt, routing_ok)


def _inputs_checker(prompt: Prompt) -> Callable[[Mapping[str, Any]], tuple[str, str] | None]:
    """render.input_problem for the cases of one prompt: values the schema's compiled check passes are fine
    without jsonschema (a valid suite never imports it), and the full validator is built once, on a miss."""
    fast = fast_check(prompt.inputs_schema) if prompt.inputs else None
    full: list[Any] = []

    def problem(values: Mapping[str, Any]) -> tuple[str, str] | None:
        if not prompt.inputs:
            return None
        try:
            if fast is not None and fast(values):
                return None
        except OverBudget:  # no pass: the full validator meets the pattern again and reports it
            pass
        if not full:
            full.append(inputs_validator(prompt))
        return input_problem(prompt, values, full[0])

    return problem


def _assertion_findings(ctx: Context, case: Case, a: Assertion, prompt: Prompt, routing_ok: bool) -> Iterator[Finding]:
    setting = checks.validate(a, prompt)
    if setting and not (a.type == "json-schema" and a.value is None and prompt.output is None):
        yield make_finding(
            "assertion",
            f"case {case.id!r}: {a.type}: {setting}",
            case.file,
            a.line,
            "see the assertion types in the README",
        )
    unknown = _unknown_template_vars(a.value, case, prompt)
    if unknown:
        yield make_finding(
            "case-vars",
            f"case {case.id!r}: the value of {a.type} uses {', '.join(map(repr, unknown))}, which the case "
            "does not have",
            case.file,
            a.line,
            "add the var to the case (or under defaults.vars), or fix the name",
        )
    if _is_stub(ctx, a):
        yield make_finding(
            "imported-stub",
            f"case {case.id!r}: {_stub_ref(a)} is an imported stub that fails until it is rewritten",
            case.file,
            a.line,
            "write the check in python (the original code is in comments beside it)",
            "warning",
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


STUB_MARKER = "promptops: imported stub"  # written by `promptops import` into checks it could not translate


def _unknown_template_vars(value: Any, case: Case, prompt: Prompt) -> list[str]:
    """The variables a templated assertion value reads that the case does not give (nor an input default)."""
    texts = (
        [value]
        if isinstance(value, str)
        else [v for v in value if isinstance(v, str)]
        if isinstance(value, list)
        else []
    )
    have = set(case.vars) | {k for k, v in prompt.inputs.items() if isinstance(v, dict) and "default" in v}
    unknown: list[str] = []
    for text in texts:
        if "{{" in text or "{%" in text:
            try:
                used = template_variables(text)
            except RenderError:
                continue  # a template error shows when the case runs, with its line
            unknown += [n for n in used if n not in have and n not in unknown]
    return unknown


def _python_refs(a: Assertion) -> list[str]:
    """The file.py:function references of a python check and of python transform steps."""
    refs = [str(a.value)] if a.type == "python" else []
    steps = a.config.get("transform")
    for step in steps if isinstance(steps, list) else [steps]:
        if isinstance(step, dict) and "python" in step:
            refs.append(str(step["python"]))
    return refs


def _stub_ref(a: Assertion) -> str:
    return ", ".join(_python_refs(a))


def _is_stub(ctx: Context, a: Assertion) -> bool:
    """A python check or transform whose function still carries the import's stub marker."""
    for ref in _python_refs(a):
        file, _, name = ref.rpartition(":")
        raw = ctx.source.read(file) if file.endswith(".py") else None
        if raw is None:
            continue
        body = raw.decode("utf-8", "replace").partition(f"def {name}(")[2].split("\ndef ", 1)[0]
        if STUB_MARKER in body:
            return True
    return False


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
