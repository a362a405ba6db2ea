"""Eval results as JUnit XML: one testsuite per eval suite, one testcase per case, outputs cut and escaped."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone

from ..model import CaseSummary, EvalReport, SuiteSummary, TaskResult
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

# -- JUnit XML -----------------------------------------------------------------------------------------------


def to_junit(report: EvalReport) -> str:
    """JUnit XML in the strict Apache Ant form (the windyroad JUnit.xsd), which Jenkins and GitLab also read.

    That form has no per-test output, so a failure's text carries its output and the suite's <system-out>
    carries every case's output; gate results are the suite's <properties>.
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
        lines += _junit_suite(report, index, suite, summary, cases, runs, name)
    lines.append("</testsuites>")
    return "\n".join(lines) + "\n"


def _junit_suite(
    report: EvalReport,
    index: int,
    suite: str,
    summary: SuiteSummary | None,
    cases: list[CaseSummary],
    runs: Mapping[CaseKey, list[TaskResult]],
    name: Callable[[CaseSummary], str],
) -> list[str]:
    times = {case_key(c): sum(r.latency_ms for r in runs.get(case_key(c), [])) / 1000 for c in cases}
    attrs = {
        "name": suite if suite.strip() else "(unnamed)",
        "package": report.project or "promptops",
        "id": index,
        "timestamp": _timestamp(report.started),
        "hostname": "localhost",
        "tests": len(cases),
        "failures": sum(c.verdict == "fail" for c in cases),
        "errors": sum(c.verdict == "error" for c in cases),
        "skipped": sum(c.verdict == "unchecked" for c in cases),
        "time": _seconds(summary.duration_s if summary else sum(times.values())),
    }
    lines = [f"  <testsuite{_attrs(attrs)}>", "    <properties>"]
    lines += [f"      <property{_attrs({'name': k, 'value': v})}/>" for k, v in _properties(report, summary)]
    lines.append("    </properties>")
    for c in cases:
        lines += _junit_case(c, name(c), times[case_key(c)], runs.get(case_key(c), []))
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


def _junit_case(c: CaseSummary, name: str, time: float, runs: Sequence[TaskResult]) -> list[str]:
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
