"""The paired baseline eval of the affected suites (`diff --eval`), as an EvalDiff.

Every number comes from the engine's report: head rows from `report.suites`, base rows (with the overrides the
base shipped with) from `report.base_suites`, each case's class, base verdict and base model from its summary.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..model import CaseSummary, EvalReport, TaskResult
from .model import EvalCase, EvalDiff, EvalSuite, _unified

Run = tuple[str, str, str, tuple[tuple[str, str], ...]]  # suite, case, variant, cell: a case's identity


def _cell(axes: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(axes.items()))


def _identity(report: EvalReport, r: TaskResult) -> Run:
    return (r.suite, r.case, r.variant, _cell({d: str(getattr(r, d)) for d in report.axes}))


def eval_changes(report: EvalReport, base_results: Iterable[TaskResult]) -> EvalDiff:
    """Per suite row (pass rate base -> head) and per case (its baseline class, with both models), with the
    output diffs of cases whose answer changed. `base_results` are the baseline runs of the same eval."""
    base_first: dict[Run, TaskResult] = {}
    for r in sorted(base_results, key=lambda r: r.repeat):
        base_first.setdefault(_identity(report, r), r)
    head_first: dict[Run, TaskResult] = {}
    for r in sorted(report.results, key=lambda r: r.repeat):
        head_first.setdefault(_identity(report, r), r)
    base_rates = {(s.suite, _cell(s.axes)): s.pass_rate for s in report.base_suites}
    every = [*report.cases, *report.removed]
    suites = []
    for s in report.suites:
        classes: dict[str, int] = {}
        for c in every:
            if c.suite == s.suite and c.axes == s.axes and c.baseline:
                classes[c.baseline] = classes.get(c.baseline, 0) + 1
        base_rate = base_rates.get((s.suite, _cell(s.axes)))
        suites.append(
            EvalSuite(
                s.suite, s.prompt, base_rate, s.pass_rate, s.threshold, s.gate_passed, classes, s.gate, dict(s.axes)
            )
        )
    cases = [change for c in every if (change := _case(c, base_first, head_first)) is not None]
    return EvalDiff(tuple(suites), tuple(cases), errors=report.errors, interrupted=report.interrupted)


def _case(c: CaseSummary, base_first: dict[Run, TaskResult], head_first: dict[Run, TaskResult]) -> EvalCase | None:
    key = (c.suite, c.case, c.variant, _cell(c.axes))
    removed = c.baseline == "removed"
    base, head = base_first.get(key), None if removed else head_first.get(key)
    old = base.output if base is not None else None
    new = head.output if head is not None else None
    diff_text = (
        _unified(old, new, "base", "head", context=2) if old is not None and new is not None and old != new else ""
    )
    swapped = c.base_model is not None and c.base_model != c.model
    if c.baseline == "unchanged" and not diff_text and not swapped:
        return None
    head_error = head.error if head is not None and head.error else ""
    base_error = base.error if base is not None and base.error else ""
    return EvalCase(
        c.suite,
        c.case,
        c.model,
        c.variant,
        c.baseline or "new",
        c.base_verdict,
        None if removed else c.verdict,
        diff_text,
        head_error or (f"base: {base_error}" if base_error else ""),
        base_model=c.base_model,
        axes=dict(c.axes),
    )
