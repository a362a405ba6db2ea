"""The paired baseline eval of the affected suites (`diff --eval`), as an EvalDiff."""

from __future__ import annotations

from collections.abc import Iterable

from ..model import EvalReport, TaskResult, verdict_of
from .model import EvalCase, EvalDiff, EvalSuite, _unified


def eval_changes(report: EvalReport, base_results: Iterable[TaskResult]) -> EvalDiff:
    """Per suite (pass rate base -> head) and per case (its baseline class), with the output diffs of cases
    whose answer changed. `base_results` are the baseline runs of the same eval."""
    Key = tuple[str, str, str, str]
    base_runs: dict[Key, list[TaskResult]] = {}
    for r in sorted(base_results, key=lambda r: r.repeat):
        base_runs.setdefault((r.suite, r.case, r.model, r.variant), []).append(r)
    head_first: dict[Key, TaskResult] = {}
    for r in sorted(report.results, key=lambda r: r.repeat):
        head_first.setdefault((r.suite, r.case, r.model, r.variant), r)

    suites = []
    for s in report.suites:
        runs = [r for k, rs in base_runs.items() if k[0] == s.suite for r in rs]
        rate = round(sum(r.status == "pass" for r in runs) / len(runs), 6) if runs else None
        classes: dict[str, int] = {}
        for c in report.cases:
            if c.suite == s.suite and c.baseline:
                classes[c.baseline] = classes.get(c.baseline, 0) + 1
        suites.append(EvalSuite(s.suite, s.prompt, rate, s.pass_rate, s.threshold, s.gate_passed, classes))
    cases = []
    for c in report.cases:
        key = (c.suite, c.case, c.model, c.variant)
        base, head = base_runs.get(key, []), head_first.get(key)
        old = base[0].output if base else None
        new = head.output if head is not None and c.baseline != "removed" else None
        diff_text = (
            _unified(old, new, "base", "head", context=2) if old is not None and new is not None and old != new else ""
        )
        if c.baseline == "unchanged" and not diff_text:
            continue
        head_error = head.error if head is not None and c.baseline != "removed" and head.error else ""
        base_error = next((r.error for r in base if r.error), "")
        error = head_error or (f"base: {base_error}" if base_error else "")
        head_verdict = None if c.baseline == "removed" else c.verdict
        change = EvalCase(
            c.suite,
            c.case,
            c.model,
            c.variant,
            c.baseline or "new",
            verdict_of(r.status for r in base) if base else None,
            head_verdict,
            diff_text,
            error,
        )
        cases.append(change)
    return EvalDiff(tuple(suites), tuple(cases), errors=report.errors, interrupted=report.interrupted)
