"""From task results to verdicts: overrides, variance over repeats, suite gates and baseline classes."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from ..model import CaseSummary, Override, Suite, SuiteSummary, TaskResult, verdict_of

GroupKey = tuple[str, str, str, str]  # suite, case, model, variant


def apply_overrides(results: Iterable[TaskResult], overrides: Mapping[tuple[str, str], Override]) -> list[TaskResult]:
    """A reviewer's verdict replaces a run's, only while it judged this very output."""
    out = []
    for r in results:
        o = overrides.get((r.suite, r.case))
        if o is not None and r.output is not None and o.output_hash == r.output_hash and r.status != "error":
            r = replace(r, status=o.verdict, override=o)
        out.append(r)
    return out


def summarize_cases(results: Sequence[TaskResult]) -> list[CaseSummary]:
    groups: dict[GroupKey, list[TaskResult]] = defaultdict(list)
    for r in results:
        groups[(r.suite, r.case, r.model, r.variant)].append(r)
    summaries = []
    for (suite, case, model, variant), runs in groups.items():
        statuses = [r.status for r in runs]
        passed = statuses.count("pass")
        failed = statuses.count("fail")
        errors = statuses.count("error")
        verdict = verdict_of(statuses)
        outputs = Counter(r.output_hash for r in runs if r.output is not None)
        agreement = (max(outputs.values()) / len(runs)) if outputs else 0.0
        summaries.append(
            CaseSummary(
                suite=suite,
                case=case,
                model=model,
                variant=variant,
                runs=len(runs),
                passed_runs=passed,
                failed_runs=failed,
                error_runs=errors,
                verdict=verdict,
                pass_all=passed == len(runs),
                pass_any=passed > 0,
                agreement=round(agreement, 6),
                flaky=passed > 0 and failed > 0,
            )
        )
    return summaries


def summarize_suite(
    suite: Suite, cases: Sequence[CaseSummary], results: Sequence[TaskResult], duration_s: float
) -> SuiteSummary:
    of_suite = [c for c in cases if c.suite == suite.id]
    runs = [r for r in results if r.suite == suite.id]
    total_runs = sum(c.runs for c in of_suite)
    passed_runs = sum(c.passed_runs for c in of_suite)
    pass_rate = passed_runs / total_runs if total_runs else 0.0
    flaky = sum(c.flaky for c in of_suite)
    consistency = (1 - flaky / len(of_suite)) if of_suite else 1.0
    errors = sum(c.verdict == "error" for c in of_suite)
    reasons = []
    if not of_suite:
        reasons.append("no cases ran")
    if pass_rate + 1e-9 < suite.threshold:
        reasons.append(f"pass rate {pass_rate:.0%} is below the threshold {suite.threshold:.0%}")
    if suite.min_consistency is not None and consistency + 1e-9 < suite.min_consistency:
        reasons.append(f"consistency {consistency:.0%} is below min_consistency {suite.min_consistency:.0%}")
    if suite.max_flaky is not None and flaky > suite.max_flaky:
        reasons.append(f"{flaky} flaky cases exceed max_flaky {suite.max_flaky}")
    if errors:
        reasons.append(f"{errors} case{'s' * (errors != 1)} ended in error")
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
    )


BASELINE_CLASSES = ("regressed", "fixed", "still-failing", "flaky", "unchanged", "new", "removed")


def classify(base: CaseSummary | None, head: CaseSummary) -> str:
    """How a case moved from the baseline to now (a case only the baseline had is `removed`: see `pair`)."""
    if base is None:
        return "new"
    if base.flaky or head.flaky:
        return "flaky"
    base_ok, head_ok = base.verdict == "pass", head.verdict == "pass"
    if base_ok and not head_ok:
        return "regressed"
    if head_ok and not base_ok:
        return "fixed"
    return "unchanged" if head_ok else "still-failing"


def pair(base: Sequence[CaseSummary], head: Sequence[CaseSummary]) -> tuple[list[CaseSummary], list[CaseSummary]]:
    """Head summaries with their baseline class, plus the cases only the baseline had (as removed)."""

    def key(c: CaseSummary) -> GroupKey:
        return (c.suite, c.case, c.model, c.variant)

    base_by = {key(c): c for c in base}
    head_keys = {key(c) for c in head}
    paired = [replace(c, baseline=classify(base_by.get(key(c)), c)) for c in head]
    removed = [replace(c, baseline="removed") for c in base if key(c) not in head_keys]
    return paired, removed


def suite_cost(runs: Sequence[TaskResult]) -> float | None:
    """What the runs cost, or None (unknown) when a run that got an answer has no price: a total that left it
    out would pass for the whole."""
    if any(r.cost is None and r.status != "error" for r in runs):
        return None
    return round(sum(r.cost or 0.0 for r in runs), 8)
