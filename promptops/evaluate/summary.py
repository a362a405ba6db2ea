"""From task results to verdicts: overrides, variance over repeats, suite gates and baseline classes.

A case's identity is (suite, case, variant role, axes). The axes are the dimensions a run is split by: none for
an ordinary run, `model` for a model matrix (`eval --model a --model b`). Each dimension is read from the result
field of the same name (`axes_of`), and the engine names the dimensions of a run (EvalReport.axes) and the cell
of each planned task; another dimension (a prompt variant) is one more name there and one more result field.
The model that served a case is not part of its identity otherwise, so a baseline pairs a case across a model
swap and shows both models.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from ..model import CaseSummary, Override, Suite, SuiteSummary, TaskResult, verdict_of

Cell = tuple[tuple[str, str], ...]  # axis values, as a hashable key
Identity = tuple[str, str, str, Cell]  # suite, case, variant role, cell
RowKey = tuple[str, Cell]  # suite, cell


def cell_of(axes: Mapping[str, str]) -> Cell:
    return tuple(sorted(axes.items()))


def axes_of(result: TaskResult, dimensions: Sequence[str]) -> dict[str, str]:
    """The result's value on each dimension of the run (a result field of the same name)."""
    return {d: str(getattr(result, d)) for d in dimensions}


def identity(c: CaseSummary) -> Identity:
    return (c.suite, c.case, c.variant, cell_of(c.axes))


def apply_overrides(results: Iterable[TaskResult], overrides: Mapping[tuple[str, str], Override]) -> list[TaskResult]:
    """A reviewer's verdict replaces a run's, only while it judged this very output."""
    out = []
    for r in results:
        o = overrides.get((r.suite, r.case))
        if o is not None and r.output is not None and o.output_hash == r.output_hash and r.status != "error":
            r = replace(r, status=o.verdict, override=o)
        out.append(r)
    return out


def summarize_cases(results: Sequence[TaskResult], dimensions: Sequence[str] = ()) -> list[CaseSummary]:
    groups: dict[Identity, list[TaskResult]] = defaultdict(list)
    for r in sorted(results, key=lambda r: r.repeat):
        cell = cell_of(axes_of(r, dimensions)) if dimensions else ()
        groups[(r.suite, r.case, r.variant, cell)].append(r)
    return [_case(key, runs) for key, runs in groups.items()]


def _case(key: Identity, runs: Sequence[TaskResult]) -> CaseSummary:
    suite, case, variant, cell = key
    statuses = [r.status for r in runs]
    passed, failed = statuses.count("pass"), statuses.count("fail")
    if len(runs) == 1:  # most cases run once: its output agrees with itself, when it has one
        agreement = 0.0 if runs[0].output is None else 1.0
    else:
        outputs = Counter(r.output_hash for r in runs if r.output is not None)
        agreement = (max(outputs.values()) / len(runs)) if outputs else 0.0
    return CaseSummary(
        suite=suite,
        case=case,
        model=runs[0].model,
        variant=variant,
        runs=len(runs),
        passed_runs=passed,
        failed_runs=failed,
        error_runs=statuses.count("error"),
        verdict=verdict_of(statuses),
        pass_all=passed == len(runs),
        pass_any=passed > 0,
        agreement=round(agreement, 6),
        flaky=passed > 0 and failed > 0,
        unchecked_runs=statuses.count("unchecked"),
        axes=dict(cell),
    )


def summarize_suite(
    suite: Suite,
    cases: Sequence[CaseSummary],
    results: Sequence[TaskResult],
    duration_s: float,
    axes: Mapping[str, str] | None = None,
    planned: int | None = None,
) -> SuiteSummary:
    """One row: a suite, or one cell of it (`axes`, e.g. one model of a matrix), gated on its own.

    `planned` is the number of runs the plan held for the row; fewer results make the row incomplete."""
    axes = dict(axes or {})
    cell = cell_of(axes)
    if cell:
        of_suite = [c for c in cases if c.suite == suite.id and cell_of(c.axes) == cell]
        runs = [r for r in results if r.suite == suite.id and cell_of(axes_of(r, list(axes))) == cell]
    else:  # a run split by no dimension (the cell of every result)
        of_suite = [c for c in cases if c.suite == suite.id and not c.axes]
        runs = [r for r in results if r.suite == suite.id]
    checked = [c for c in of_suite if c.verdict != "unchecked"]
    checked_runs = sum(c.runs - c.unchecked_runs for c in of_suite)
    passed_runs = sum(c.passed_runs for c in of_suite)
    pass_rate = passed_runs / checked_runs if checked_runs else 0.0
    flaky = sum(c.flaky for c in of_suite)
    consistency = (1 - flaky / len(checked)) if checked else 1.0
    errors = sum(c.verdict == "error" for c in of_suite)
    missing = max(0, planned - len(runs)) if planned is not None else 0
    reasons = _gate_reasons(suite, of_suite, checked, pass_rate, consistency, flaky, errors)
    if missing:
        reasons.insert(0, f"incomplete: {missing} of {planned} runs have no result")
    return SuiteSummary(
        suite=suite.id,
        prompt=suite.prompt,
        path=suite.path,
        cases=len(of_suite),
        passed=sum(c.verdict == "pass" for c in of_suite),
        failed=sum(c.verdict == "fail" for c in of_suite),
        errors=errors,
        pass_rate=round(pass_rate, 6),
        threshold=suite.threshold,
        consistency=round(consistency, 6),
        flaky=flaky,
        min_consistency=suite.min_consistency,
        max_flaky=suite.max_flaky,
        prompt_tokens=sum(r.prompt_tokens for r in runs),
        completion_tokens=sum(r.completion_tokens for r in runs),
        cost=suite_cost(runs),
        duration_s=round(duration_s, 3),
        gate_passed=not reasons,
        gate_reasons=tuple(reasons),
        axes=axes,
        unchecked=len(of_suite) - len(checked),
        missing_runs=missing,
        overrides=sum(r.override is not None for r in runs),
    )


def _gate_reasons(
    suite: Suite,
    cases: Sequence[CaseSummary],
    checked: Sequence[CaseSummary],
    pass_rate: float,
    consistency: float,
    flaky: int,
    errors: int,
) -> list[str]:
    reasons = []
    if not cases:
        reasons.append("no cases ran")
    elif not checked:
        reasons.append("nothing was checked: no case has an assertion that applies")
    if pass_rate + 1e-9 < suite.threshold:
        reasons.append(f"pass rate {pass_rate:.0%} is below the threshold {suite.threshold:.0%}")
    if suite.min_consistency is not None and consistency + 1e-9 < suite.min_consistency:
        reasons.append(f"consistency {consistency:.0%} is below min_consistency {suite.min_consistency:.0%}")
    if suite.max_flaky is not None and flaky > suite.max_flaky:
        reasons.append(f"{flaky} flaky cases exceed max_flaky {suite.max_flaky}")
    if errors:
        reasons.append(f"{errors} case{'s' * (errors != 1)} ended in error")
    return reasons


BASELINE_CLASSES = ("regressed", "fixed", "still-failing", "flaky", "unchecked", "unchanged", "new", "removed")


def classify(base: CaseSummary | None, head: CaseSummary) -> str:
    """How a case moved from the baseline to now (a case only the baseline had is `removed`: see `pair`)."""
    if base is None:
        return "new"
    if "unchecked" in (base.verdict, head.verdict):
        return "unchecked"  # nothing to compare on the side that checks nothing: neither fixed nor regressed
    if base.flaky or head.flaky:
        return "flaky"
    base_ok, head_ok = base.verdict == "pass", head.verdict == "pass"
    if base_ok and not head_ok:
        return "regressed"
    if head_ok and not base_ok:
        return "fixed"
    return "unchanged" if head_ok else "still-failing"


def pair(base: Sequence[CaseSummary], head: Sequence[CaseSummary]) -> tuple[list[CaseSummary], list[CaseSummary]]:
    """Head summaries paired with the baseline's by identity (never by model name), each with its class and the
    baseline's model and verdict; plus the cases only the baseline had, as removed (base side only)."""
    base_by = {identity(c): c for c in base}
    head_keys = {identity(c) for c in head}
    paired = []
    for c in head:
        old = base_by.get(identity(c))
        paired.append(
            replace(
                c,
                baseline=classify(old, c),
                base_model=old.model if old is not None else None,
                base_verdict=old.verdict if old is not None else None,
            )
        )
    removed = [
        replace(c, baseline="removed", base_model=c.model, base_verdict=c.verdict)
        for c in base
        if identity(c) not in head_keys
    ]
    return paired, removed


def rows(keys: Iterable[RowKey]) -> list[RowKey]:
    """The report's rows in a stable order: by suite, then by cell."""
    return sorted(set(keys))


def suite_cost(runs: Sequence[TaskResult]) -> float | None:
    """What the runs cost, or None (unknown) when a run that got an answer has no price: a total that left it
    out would pass for the whole."""
    if any(r.cost is None and r.status != "error" for r in runs):
        return None
    return round(sum(r.cost or 0.0 for r in runs), 8)
