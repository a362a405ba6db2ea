"""Eval results as JUnit XML: one testsuite per eval suite, one testcase per case plus one for its gate.

How the verdicts map, so that a JUnit consumer's pass/fail is the exit code's (0 = no failure and no error):
- the `(gate)` testcase of each suite fails (`type="gate"`) when the suite's gate failed, and, with
  `fail_on_regression`, when a case regressed against the baseline (`type="regression"`); it is an error
  (`type="interrupted"`) when the run was cut short;
- a case that failed is a `<failure>` when its suite's gate failed (or it regressed under `fail_on_regression`),
  and `<skipped>` with the reason when the gate tolerated it (the pass rate still met the threshold);
- a case that ended in error is always an `<error>`: errors fail the run (exit 2 or 3) whatever the gate says.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone

from ..model import CaseSummary, EvalReport, SuiteSummary, TaskResult
from ..wording import percent
from .cases import (
    JUNIT_OUTPUT_BYTES,
    CaseKey,
    case_key,
    case_names,
    case_notes,
    failure_message,
    override_line,
    ratio,
    run_lines,
    runs_by_case,
    truncate,
    visible,
)

GATE_CASE = "(gate)"

# -- JUnit XML -----------------------------------------------------------------------------------------------


def to_junit(report: EvalReport, fail_on_regression: bool = False) -> str:
    """JUnit XML in the strict Apache Ant form (the windyroad JUnit.xsd), which Jenkins and GitLab also read.

    That form has no per-test output, so a failure's text carries its output and the suite's <system-out>
    carries every case's output; gate results are the suite's <properties> and its `(gate)` testcase.
    """
    summaries = {s.suite: s for s in report.suites}
    cases: dict[str, list[CaseSummary]] = defaultdict(list)
    for c in sorted(report.cases, key=case_key):
        cases[c.suite].append(c)
    runs, name = runs_by_case(report), case_names(report)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<testsuites>"]
    for index, suite in enumerate(sorted(set(summaries) | set(cases))):
        judged = _Suite(report, summaries.get(suite), cases[suite], fail_on_regression)
        lines += _junit_suite(report, index, suite, judged, runs, name)
    if report.interrupted and not summaries:
        lines += _interrupted_suite(report, len(set(summaries) | set(cases)))
    lines.append("</testsuites>")
    return "\n".join(lines) + "\n"


def _interrupted_suite(report: EvalReport, index: int) -> list[str]:
    """An interrupted run that summarised no suite still has to read as failed."""
    attrs = {
        "name": "(run)", "package": report.project or "promptops", "id": index,
        "timestamp": _timestamp(report.started), "hostname": "localhost",
        "tests": 1, "failures": 0, "errors": 1, "skipped": 0, "time": _seconds(0),
    }  # fmt: skip
    message = "the run was interrupted; the results are partial"
    return [
        f"  <testsuite{_attrs(attrs)}>",
        "    <properties/>",
        f"    <testcase{_attrs({'name': 'interrupted', 'classname': '(run)', 'time': _seconds(0)})}>",
        f"      <error{_attrs({'message': message, 'type': 'interrupted'})}>{message}</error>",
        "    </testcase>",
        "    <system-out/>",
        "    <system-err/>",
        "  </testsuite>",
    ]


class _Suite:
    """One suite's cases and the verdict its gate gives them."""

    def __init__(
        self, report: EvalReport, summary: SuiteSummary | None, cases: list[CaseSummary], fail_on_regression: bool
    ) -> None:
        self.summary, self.cases, self.interrupted = summary, cases, report.interrupted
        self.regressed = [c for c in cases if fail_on_regression and c.baseline == "regressed"]
        self.gate_failed = summary is not None and not summary.gate_passed

    def counts_as_failure(self, c: CaseSummary) -> bool:
        return c.verdict == "fail" and (self.gate_failed or self.summary is None or c in self.regressed)

    def gate_problem(self) -> tuple[str, str, str] | None:
        """(tag, type, message) of the gate testcase, or None when it passes."""
        s = self.summary
        if s is None:
            return None
        if self.interrupted:
            return "error", "interrupted", "the run was interrupted; the results are partial"
        if not s.gate_passed:
            reasons = "; ".join(s.gate_reasons) or f"pass rate {percent(s.pass_rate)}, threshold {percent(s.threshold)}"
            return "failure", "gate", f"gate failed: {reasons}"
        if self.regressed:
            names = ", ".join(c.case for c in self.regressed[:20])
            return "failure", "regression", f"{len(self.regressed)} regressed against the baseline: {names}"
        return None


def _junit_suite(
    report: EvalReport,
    index: int,
    suite: str,
    judged: _Suite,
    runs: Mapping[CaseKey, list[TaskResult]],
    name: Callable[[CaseSummary], str],
) -> list[str]:
    cases = judged.cases
    times = {case_key(c): sum(r.latency_ms for r in runs.get(case_key(c), [])) / 1000 for c in cases}
    body: list[str] = []
    for c in cases:
        body += _junit_case(c, name(c), times[case_key(c)], runs.get(case_key(c), []), judged)
    gate = judged.gate_problem()
    if judged.summary is not None:
        body += _gate_case(suite, gate)
    attrs = {
        "name": suite if suite.strip() else "(unnamed)",
        "package": report.project or "promptops",
        "id": index,
        "timestamp": _timestamp(report.started),
        "hostname": "localhost",
        "tests": len(cases) + (judged.summary is not None),
        "failures": sum(map(judged.counts_as_failure, cases)) + (gate is not None and gate[0] == "failure"),
        "errors": sum(c.verdict == "error" for c in cases) + (gate is not None and gate[0] == "error"),
        "skipped": sum(c.verdict == "fail" and not judged.counts_as_failure(c) for c in cases),
        # The time spent on this suite's calls (tasks of several suites run concurrently; each testcase's
        # time is its runs' latency, and the suite's is their sum).
        "time": _seconds(sum(times.values())),
    }
    lines = [f"  <testsuite{_attrs(attrs)}>", "    <properties>"]
    lines += [f"      <property{_attrs({'name': k, 'value': v})}/>" for k, v in _properties(report, judged.summary)]
    lines += ["    </properties>", *body]
    outputs = "\n".join(_suite_output(c, runs.get(case_key(c), [])) for c in cases)
    lines += [f"    <system-out>{_xml_text(outputs)}</system-out>", "    <system-err/>", "  </testsuite>"]
    return lines


def _gate_case(suite: str, problem: tuple[str, str, str] | None) -> list[str]:
    head = f"    <testcase{_attrs({'name': GATE_CASE, 'classname': suite, 'time': _seconds(0)})}"
    if problem is None:
        return [head + "/>"]
    tag, kind, message = problem
    return [
        head + ">",
        f"      <{tag}{_attrs({'message': truncate(message, 500), 'type': kind})}>{_xml_text(message)}</{tag}>",
        "    </testcase>",
    ]


def _properties(report: EvalReport, s: SuiteSummary | None) -> list[tuple[str, str]]:
    props = [("promptops.run_id", report.run_id), ("promptops.label", report.label)]
    props += [("promptops.baseline", report.baseline)] if report.baseline else []
    props += [("promptops.shard", report.shard)] if report.shard else []
    if s is None:
        return props
    props += [
        ("promptops.prompt", s.prompt),
        ("promptops.path", s.path),
        ("promptops.gate", "passed" if s.gate_passed else "failed"),
        ("promptops.pass_rate", ratio(s.pass_rate)),
        ("promptops.threshold", ratio(s.threshold)),
        ("promptops.consistency", ratio(s.consistency)),
    ]
    props += [("promptops.min_consistency", ratio(s.min_consistency))] if s.min_consistency is not None else []
    props += [("promptops.flaky", str(s.flaky))]
    props += [("promptops.max_flaky", str(s.max_flaky))] if s.max_flaky is not None else []
    return props + [("promptops.gate_reason", reason) for reason in s.gate_reasons]


def _junit_case(c: CaseSummary, name: str, time: float, runs: Sequence[TaskResult], judged: _Suite) -> list[str]:
    head = f"    <testcase{_attrs({'name': name, 'classname': c.suite, 'time': _seconds(time)})}"
    if c.verdict == "pass":
        return [head + "/>"]
    head_line = f"{c.suite} / {c.case} [{c.model}/{c.variant}]: {case_notes(c)}"
    body = "\n".join([head_line, *run_lines(runs, JUNIT_OUTPUT_BYTES, "bytes")])
    message = failure_message(runs, c.verdict)
    if c.verdict == "fail" and not judged.counts_as_failure(c):
        message = truncate(f"failed, within the suite's gate: {message}", 500)
        return [
            head + ">",
            f"      <skipped{_attrs({'message': message})}>{_xml_text(body)}</skipped>",
            "    </testcase>",
        ]
    tag, kind = ("failure", "assertion") if c.verdict == "fail" else ("error", _error_type(runs))
    return [
        head + ">",
        f"      <{tag}{_attrs({'message': message, 'type': kind})}>{_xml_text(body)}</{tag}>",
        "    </testcase>",
    ]


def _error_type(runs: Sequence[TaskResult]) -> str:
    """`input` or `check` when promptops could not judge the case, else `provider`."""
    for r in runs:
        if r.status == "error" and r.error_kind in ("input", "check"):
            return r.error_kind
        if r.status == "error" and (r.error or r.error_kind):
            return "provider"
    return "check" if any(c.error for r in runs for c in r.checks) else "provider"


def _suite_output(c: CaseSummary, runs: Sequence[TaskResult]) -> str:
    lines = [f"== {c.case} [{c.model}/{c.variant}]: {case_notes(c)}"]
    seen: dict[str | None, int] = {}
    for r in runs:
        if r.output in seen:
            lines.append(f"-- run {r.repeat}: {r.status}, the same output as run {seen[r.output]}")
            continue
        seen[r.output] = r.repeat
        lines.append(f"-- run {r.repeat}: {r.status}" + (f", error: {r.error}" if r.error else ""))
        if r.output is not None:
            lines.append(truncate(r.output, JUNIT_OUTPUT_BYTES, "bytes"))
        if r.override:
            lines.append(override_line(r.override))
    return "\n".join(lines)


def _timestamp(value: str) -> str:
    """The Ant form: UTC, to the second, no zone (an unreadable time becomes the epoch rather than invalid XML)."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        if moment.tzinfo is not None:
            moment = moment.astimezone(timezone.utc)
        return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}"
    except (ValueError, OverflowError):
        return "1970-01-01T00:00:00"


def _seconds(value: float) -> str:
    return f"{value:.3f}" if math.isfinite(value) and value > 0 else "0.000"


def _xml_text(text: str) -> str:
    return visible(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attrs(attrs: Mapping[str, object]) -> str:
    def quote(value: object) -> str:
        text = _xml_text(str(value)).replace('"', "&quot;")
        return text.replace("\t", "&#9;").replace("\n", "&#10;")

    return "".join(f' {k}="{quote(v)}"' for k, v in attrs.items())
