"""What every eval results writer shares: the columns of the summary, runs grouped by case, totals, and
untrusted text (what a model wrote) made visible and cut to size: control characters are shown as `\\xNN`, never
passed to a terminal, an XML file or a pull request comment."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..model import CaseSummary, EvalReport, Override, SuiteSummary, TaskResult
from ..wording import count, percent

BASELINE_CLASSES = ("regressed", "fixed", "still-failing", "flaky", "unchecked", "new", "removed", "unchanged")
SUMMARY_HEADER = (
    "suite", "cases", "passed", "failed", "errors", "pass rate", "consistency", "flaky", "tokens", "cost", "time",
    "gate",
)  # fmt: skip
JUNIT_OUTPUT_BYTES = 4096
MARKDOWN_OUTPUT_CHARS = 1500
TEXT_OUTPUT_CHARS = 1000
RUNS_SHOWN = 3  # failed runs detailed per case in Markdown; the rest are counted
CASES_LISTED = 20  # case names per baseline class in Markdown

CaseKey = tuple[str, str, str, str]  # suite, case, model, variant: one case's runs in one report


def totals(report: EvalReport) -> dict[str, Any]:
    suites = report.suites
    prompt, completion = sum(s.prompt_tokens for s in suites), sum(s.completion_tokens for s in suites)
    return {
        "suites": len(suites),
        "cases": sum(s.cases for s in suites),
        "passed": sum(s.passed for s in suites),
        "failed": sum(s.failed for s in suites),
        "errors": sum(s.errors for s in suites),
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "tokens": prompt + completion,
        "cost": None if any(s.cost is None for s in suites) else math.fsum(s.cost or 0.0 for s in suites),
    }


# -- grouping ------------------------------------------------------------------------------------------------


def case_key(c: CaseSummary | TaskResult) -> CaseKey:
    return (c.suite, c.case, c.model, c.variant)


def result_key(r: TaskResult) -> tuple[str, str, str, str, int, str]:
    return (*case_key(r), r.repeat, r.key)


def sorted_suites(report: EvalReport) -> list[SuiteSummary]:
    return sorted(report.suites, key=lambda s: (s.suite, sorted(s.axes.items())))


def cell_label(axes: Mapping[str, str]) -> str:
    """A row's cell for people: "" for a plain run, "model: fast" in a model matrix."""
    return ", ".join(f"{k}: {v}" for k, v in axes.items())


def row_name(s: SuiteSummary | CaseSummary) -> str:
    """A suite's row name: the suite id, with its cell in a matrix ("answer [model: fast]")."""
    cell = cell_label(s.axes)
    return f"{s.suite} [{cell}]" if cell else s.suite


def row_cases(report: EvalReport, s: SuiteSummary) -> list[CaseSummary]:
    """The cases of one row (a suite, or one cell of it), in order."""
    return [c for c in sorted(report.cases, key=case_key) if c.suite == s.suite and c.axes == s.axes]


def runs_by_case(report: EvalReport) -> dict[CaseKey, list[TaskResult]]:
    runs: dict[CaseKey, list[TaskResult]] = defaultdict(list)
    for r in sorted(report.results, key=result_key):
        runs[case_key(r)].append(r)
    return runs


def case_names(report: EvalReport) -> Callable[[CaseSummary], str]:
    """Case id, plus [model/variant] where the report holds the case for more than one of them."""
    counts = Counter((c.suite, c.case) for c in report.cases)
    return lambda c: f"{c.case} [{c.model}/{c.variant}]" if counts[(c.suite, c.case)] > 1 else c.case


def failing_cases(report: EvalReport) -> list[CaseSummary]:
    """Cases that failed or errored (an unchecked case is neither: see `unchecked_cases`)."""
    return sorted((c for c in report.cases if c.verdict in ("fail", "error")), key=case_key)  # few: sort them only


def unchecked_cases(report: EvalReport) -> list[CaseSummary]:
    return sorted((c for c in report.cases if c.verdict == "unchecked"), key=case_key)


def target_of(c: CaseSummary | TaskResult) -> str:
    """The model (and role when not primary); a case the baseline served with another model shows both."""
    model = c.model
    if isinstance(c, CaseSummary) and c.base_model is not None and c.base_model != c.model:
        model = f"{c.base_model} → {c.model}"
    return model if c.variant == "primary" else f"{model}/{c.variant}"


def overridden_runs(report: EvalReport) -> list[TaskResult]:
    return sorted((r for r in report.results if r.override is not None), key=result_key)


# -- text helpers --------------------------------------------------------------------------------------------

# Not legal in XML 1.0, or able to move a terminal's cursor: C0 but tab and newline, DEL, C1, surrogates.
INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def visible(text: str) -> str:
    def escape(m: re.Match[str]) -> str:
        code = ord(m.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return INVISIBLE.sub(escape, text.replace("\r\n", "\n"))


def money(cost: float | None) -> str:
    """A cost as reports show it; unknown (a model without a price) is never shown as $0."""
    return "unknown" if cost is None else f"${cost:.4f}"


def truncate(text: str, limit: int, unit: str = "characters") -> str:
    """At most `limit` characters (or UTF-8 bytes), saying how much was cut."""
    if unit == "bytes":
        data = text.encode("utf-8", "surrogatepass")
        if len(data) <= limit:
            return text
        return data[:limit].decode("utf-8", "ignore") + f"\n… [truncated: {len(data):,} bytes in all]"
    return text if len(text) <= limit else text[:limit] + f"\n… [truncated: {len(text):,} characters in all]"


def ratio(x: float) -> str:
    return f"{x:.4f}".rstrip("0").rstrip(".")


def runs_passed(c: CaseSummary) -> str:
    return f"{c.passed_runs} of {count(c.runs, 'run')} passed"


def case_notes(c: CaseSummary) -> str:
    if c.verdict == "unchecked":
        notes = ["unchecked: no assertion applies"]
    else:
        notes = [c.verdict, runs_passed(c)] + ["flaky"] * c.flaky
    if c.baseline:
        was = f" (was {c.base_verdict})" if c.base_verdict and c.baseline not in ("unchanged", "new") else ""
        notes.append(c.baseline + was)
    return ", ".join(notes)


def override_line(o: Override) -> str:
    return f"override: {o.verdict} by {o.author} at {o.time}: {o.reason}"


def run_lines(runs: Sequence[TaskResult], output_limit: int, unit: str = "characters") -> list[str]:
    """Plain lines for every run that did not pass: errors, failed checks, the output, any override."""
    lines: list[str] = []
    for r in runs:
        if r.status == "pass":
            continue
        lines.append(f"run {r.repeat}: {r.status} (score {ratio(r.score)})")
        if r.error:
            lines.append(f"  error{f' ({r.error_kind})' if r.error_kind else ''}: {r.error}")
        for check in r.checks:
            if check.error:
                lines.append(f"  - {check.label}: could not run: {check.reason}")
            elif not check.passed:
                lines.append(f"  - {check.label}: {check.reason}")
        if r.output is not None:
            lines.append("  output:")
            lines += ["    " + line for line in visible(truncate(r.output, output_limit, unit)).split("\n")]
        if r.override:
            lines.append("  " + override_line(r.override))
    return [visible(line) for line in lines]


def failure_message(runs: Sequence[TaskResult], verdict: str) -> str:
    """One line for a JUnit message attribute or an annotation: the distinct reasons, first ones first."""
    if verdict == "error":
        reasons = [r.error for r in runs if r.error]
        reasons += [f"{c.label}: {c.reason}" for r in runs for c in r.checks if c.error]
    else:
        reasons = [f"{c.label}: {c.reason}" for r in runs for c in r.checks if not c.passed and not c.error]
    text = "; ".join(dict.fromkeys(" ".join(reason.split()) for reason in reasons)) or verdict
    return truncate(text, 500)


# -- summary table -------------------------------------------------------------------------------------------


def summary_rows(report: EvalReport) -> list[list[str]]:
    """One row of SUMMARY_HEADER per suite (per suite and model in a matrix), as display strings."""
    return [
        [
            row_name(s),
            str(s.cases) + (f" ({s.unchecked} unchecked)" if s.unchecked else ""),
            str(s.passed),
            str(s.failed),
            str(s.errors),
            f"{percent(s.pass_rate)} / {percent(s.threshold)}",
            percent(s.consistency) + (f" (min {percent(s.min_consistency)})" if s.min_consistency is not None else ""),
            str(s.flaky) + (f" (max {s.max_flaky})" if s.max_flaky is not None else ""),
            f"{s.prompt_tokens + s.completion_tokens:,}",
            money(s.cost),
            f"{s.duration_s:.1f} s",
            s.gate,
        ]
        for s in sorted_suites(report)
    ]
