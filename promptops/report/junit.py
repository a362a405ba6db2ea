"""Eval results as JUnit XML: one testsuite per row (suite, or suite and model in a matrix), one testcase per case
plus one for the row's gate, outputs cut and escaped.

How the verdicts map, so that a JUnit consumer's pass/fail is the exit code's (0 = no failure and no error):
- the `(gate)` testcase of each row fails (`type="gate"`, or `"incomplete"` when runs are missing) when the
  row's gate failed, and, with `fail_on_regression`, when a case regressed against the baseline
  (`type="regression"`); it is an error (`type="interrupted"`) when the run was cut short;
- a case that failed is a `<failure>` when its row's gate failed (or it regressed under `fail_on_regression`),
  and `<skipped>` with the reason when the gate tolerated it (the pass rate still met the threshold);
- a case that ended in error is always an `<error>`: errors fail the run (exit 2 or 3) whatever the gate says;
- an unchecked case (no assertion applies) is `<skipped>`.
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
    row_cases,
    row_name,
    run_lines,
    runs_by_case,
    sorted_suites,
    target_of,
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
    runs, name = runs_by_case(report), case_names(report)
    rows: list[tuple[str, SuiteSummary | None, list[CaseSummary]]]
    rows = [(row_name(s), s, row_cases(report, s)) for s in sorted_suites(report)]
    claimed = {case_key(c) for _, _, cases in rows for c in cases}
    orphans: dict[str, list[CaseSummary]] = defaultdict(list)  # cases of no row (a hand-made report)
    for c in sorted(report.cases, key=case_key):
        if case_key(c) not in claimed:
            orphans[c.suite].append(c)
    rows += [(suite, None, cases) for suite, cases in sorted(orphans.items())]
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<testsuites>"]
    for index, (suite, summary, cases) in enumerate(rows):
        judged = _Row(report, summary, cases, fail_on_regression)
        lines += _junit_suite(report, index, suite, judged, runs, name)
    if report.interrupted and not report.suites:
        lines += _interrupted_suite(report, len(rows))
    lines.append("</testsuites>")
    return "\n".join(lines) + "\n"


class _Row:
    """One row's cases and the verdict its gate gives them."""

    def __init__(
        self, report: EvalReport, summary: SuiteSummary | None, cases: list[CaseSummary], fail_on_regression: bool
    ) -> None:
        self.summary, self.cases, self.interrupted = summary, cases, report.interrupted
        self.regressed = [c for c in cases if fail_on_regression and c.baseline == "regressed"]
        self.gate_failed = summary is not None and not summary.gate_passed

    def counts_as_failure(self, c: CaseSummary) -> bool:
        return c.verdict == "fail" and (self.gate_failed or self.summary is None or c in self.regressed)

    def tolerated(self, c: CaseSummary) -> bool:
        return c.verdict == "fail" and not self.counts_as_failure(c)

    def gate_problem(self) -> tuple[str, str, str] | None:
        """(tag, type, message) of the gate testcase, or None when it passes."""
        s = self.summary
        if s is None:
            return None
        if self.interrupted:
            return "error", "interrupted", "the run was interrupted; the results are partial"
        if not s.gate_passed:
            reasons = "; ".join(s.gate_reasons) or f"pass rate {percent(s.pass_rate)}, threshold {percent(s.threshold)}"
            what = "incomplete" if s.incomplete else "gate"
            return "failure", what, f"{'incomplete' if s.incomplete else 'gate failed'}: {reasons}"
        if self.regressed:
            names = ", ".join(c.case for c in self.regressed[:20])
            return "failure", "regression", f"{len(self.regressed)} regressed against the baseline: {names}"
        return None


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


def _junit_suite(
    report: EvalReport,
    index: int,
    suite: str,
    judged: _Row,
    runs: Mapping[CaseKey, list[TaskResult]],
    name: Callable[[CaseSummary], str],
) -> list[str]:
    summary, cases = judged.summary, judged.cases
    times = {case_key(c): sum(r.latency_ms for r in runs.get(case_key(c), [])) / 1000 for c in cases}
    body: list[str] = []
    for c in cases:
        body += _junit_case(c, name(c), times[case_key(c)], runs.get(case_key(c), []), judged)
    gate = judged.gate_problem()
    body += _gate_case(suite, gate) if summary is not None else []
    attrs = {
        "name": suite if suite.strip() else "(unnamed)",
        "package": report.project or "promptops",
        "id": index,
        "timestamp": _timestamp(report.started),
        "hostname": "localhost",
        "tests": len(cases) + (summary is not None),
        "failures": sum(map(judged.counts_as_failure, cases)) + (gate is not None and gate[0] == "failure"),
        "errors": sum(c.verdict == "error" for c in cases) + (gate is not None and gate[0] == "error"),
        "skipped": sum(c.verdict == "unchecked" or judged.tolerated(c) for c in cases),
        # The time spent on this row's calls (tasks of several suites run concurrently; each testcase's time is
        # its runs' latency, and the row's is their sum), not the whole run's wall time.
        "time": _seconds(sum(times.values())),
    }
    lines = [f"  <testsuite{_attrs(attrs)}>", "    <properties>"]
    lines += [f"      <property{_attrs({'name': k, 'value': v})}/>" for k, v in _properties(report, summary)]
    lines += ["    </properties>", *body]
    outputs = "\n".join(_suite_output(c, runs.get(case_key(c), [])) for c in cases)
    lines += [f"    <system-out>{_xml_text(outputs)}</system-out>", "    <system-err/>", "  </testsuite>"]
    return lines


def _properties(report: EvalReport, s: SuiteSummary | None) -> list[tuple[str, str]]:
    props = [("promptops.run_id", report.run_id), ("promptops.label", report.label)]
    props += [("promptops.baseline", report.baseline)] if report.baseline else []
    props += [("promptops.shard", report.shard)] if report.shard else []
    if s is None:
        return props
    props += [
        ("promptops.prompt", s.prompt),
        ("promptops.path", s.path),
        ("promptops.gate", {"pass": "passed", "fail": "failed"}.get(s.gate, s.gate)),
        ("promptops.pass_rate", ratio(s.pass_rate)),
        ("promptops.threshold", ratio(s.threshold)),
        ("promptops.consistency", ratio(s.consistency)),
    ]
    props += [("promptops.min_consistency", ratio(s.min_consistency))] if s.min_consistency is not None else []
    props += [("promptops.flaky", str(s.flaky))]
    props += [("promptops.max_flaky", str(s.max_flaky))] if s.max_flaky is not None else []
    props += [(f"promptops.{axis}", value) for axis, value in s.axes.items()]
    props += [("promptops.unchecked", str(s.unchecked))] if s.unchecked else []
    props += [("promptops.missing_runs", str(s.missing_runs))] if s.missing_runs else []
    return props + [("promptops.gate_reason", reason) for reason in s.gate_reasons]


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


def _junit_case(c: CaseSummary, name: str, time: float, runs: Sequence[TaskResult], judged: _Row) -> list[str]:
    head = f"    <testcase{_attrs({'name': name, 'classname': c.suite, 'time': _seconds(time)})}"
    if c.verdict == "pass":
        return [head + "/>"]
    if c.verdict == "unchecked":
        message = "unchecked: the case has no assertion that applies; it is neither a pass nor a failure"
        return [head + ">", f"      <skipped{_attrs({'message': message})}/>", "    </testcase>"]
    if c.verdict == "fail":
        tag, kind = "failure", "assertion"
    else:
        tag, kind = "error", _error_type(runs)
    head_line = f"{c.suite} / {c.case} [{target_of(c)}]: {case_notes(c)}"
    body = "\n".join([head_line, *run_lines(runs, JUNIT_OUTPUT_BYTES, "bytes")])
    message = failure_message(runs, c.verdict)
    if judged.tolerated(c):
        message = truncate(f"failed, within the suite's gate: {message}", 500)
        skipped = f"      <skipped{_attrs({'message': message})}>{_xml_text(body)}</skipped>"
        return [head + ">", skipped, "    </testcase>"]
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
