"""Eval results as JSON, JUnit XML, Markdown, terminal text, GitHub annotations and summary rows.

Every writer takes an EvalReport and returns text. They live in one module (longer than most: seven
writers of one type) because they share the grouping of runs by case, the truncation of outputs and the
escaping of what a model wrote: outputs are untrusted text, so control characters are shown as `\\xNN`,
never passed to a terminal, an XML file or a pull request comment. Split it by writer if it grows.

from_dict reads what to_dict wrote, for `promptops report merge`; it ignores keys it does not know, so
validate a file against the `results` schema first where strictness matters.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, fields, is_dataclass
from datetime import datetime, timezone
from typing import Any

from .. import __version__
from ..errors import InputError
from ..model import CaseSummary, CheckResult, EvalReport, Override, SuiteSummary, TaskResult
from ..wording import count, percent
from .findings import workflow_escape

FORMAT_VERSION = 1
BASELINE_CLASSES = ("regressed", "fixed", "still-failing", "flaky", "new", "removed", "unchanged")
SUMMARY_HEADER = (
    "suite", "cases", "passed", "failed", "errors", "pass rate", "consistency", "flaky", "tokens", "cost", "time",
    "gate",
)  # fmt: skip
JUNIT_OUTPUT_BYTES = 4096
MARKDOWN_OUTPUT_CHARS = 1500
TEXT_OUTPUT_CHARS = 1000
RUNS_SHOWN = 3  # failed runs detailed per case in Markdown; the rest are counted
CASES_LISTED = 20  # case names per baseline class in Markdown

CaseKey = tuple[str, str, str, str]
Convert = Callable[[Any, str], Any]


# -- JSON ----------------------------------------------------------------------------------------------------


def to_dict(report: EvalReport) -> dict[str, Any]:
    """The results document of the published schema (schemas/results.json); lists sorted, checks in order."""
    return {
        "format_version": FORMAT_VERSION,
        "promptops_version": __version__,
        "run_id": report.run_id,
        "project": report.project,
        "label": report.label,
        "started": report.started,
        "finished": report.finished,
        "baseline": report.baseline,
        "shard": report.shard,
        "interrupted": report.interrupted,
        "passed": report.passed,
        "totals": _totals(report),
        "suites": [_plain(s) for s in _sorted_suites(report)],
        "cases": [_plain(c) for c in sorted(report.cases, key=_case_key)],
        "results": [_plain(r) for r in sorted(report.results, key=_result_key)],
    }


def to_json(report: EvalReport) -> str:
    return json.dumps(to_dict(report), indent=2)


def from_dict(data: Any) -> EvalReport:
    """The inverse of to_dict, for `report merge`. Derived keys (passed, totals) are recomputed, not read.

    Types are the schema's business (validate against `results` first); this names what is missing.
    """
    if not isinstance(data, Mapping):
        raise InputError("an eval results document must be a JSON object")
    if data.get("format_version") != FORMAT_VERSION:
        raise InputError(
            f"unsupported eval results format_version {data.get('format_version')!r}",
            hint=f"promptops {__version__} reads format_version {FORMAT_VERSION}; re-run the eval with this version",
        )

    def many(cls: type, convert: Mapping[str, Convert] | None = None) -> Convert:
        def build(value: Any, at: str) -> tuple[Any, ...]:
            return tuple(_build(cls, item, f"{at}[{i}]", convert) for i, item in enumerate(_list(value, at)))

        return build

    def override(value: Any, at: str) -> Override | None:
        return None if value is None else _build(Override, value, at)

    def strings(value: Any, at: str) -> tuple[Any, ...]:
        return tuple(_list(value, at))

    report: EvalReport = _build(
        EvalReport,
        data,
        "",
        {
            "suites": many(SuiteSummary, {"gate_reasons": strings}),
            "cases": many(CaseSummary),
            "results": many(TaskResult, {"checks": many(CheckResult), "override": override}),
        },
    )
    return report


def _plain(obj: Any) -> Any:
    """A dataclass as JSON-ready data: fields in declaration order, tuples as lists."""
    if is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, (tuple, list)):
        return [_plain(item) for item in obj]
    return obj


def _build(cls: Any, data: Any, at: str, convert: Mapping[str, Convert] | None = None) -> Any:
    where = at or "the document"
    if not isinstance(data, Mapping):
        raise InputError(f"eval results: {where} must be an object")
    required = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
    missing = [name for name in required if name not in data]
    if missing:
        raise InputError(f"eval results: {where} has no {', '.join(missing)}")
    convert = convert or {}
    kwargs = {}
    for f in fields(cls):
        if f.name in data:
            value = data[f.name]
            kwargs[f.name] = convert[f.name](value, f"{at}.{f.name}" if at else f.name) if f.name in convert else value
    return cls(**kwargs)


def _list(value: Any, at: str) -> list[Any]:
    if not isinstance(value, list):
        raise InputError(f"eval results: {at} must be a list")
    return value


def _totals(report: EvalReport) -> dict[str, Any]:
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
        "cost": math.fsum(s.cost for s in suites),
    }


# -- grouping ------------------------------------------------------------------------------------------------


def _case_key(c: CaseSummary | TaskResult) -> CaseKey:
    return (c.suite, c.case, c.model, c.variant)


def _result_key(r: TaskResult) -> tuple[str, str, str, str, int, str]:
    return (*_case_key(r), r.repeat, r.key)


def _sorted_suites(report: EvalReport) -> list[SuiteSummary]:
    return sorted(report.suites, key=lambda s: s.suite)


def _runs(report: EvalReport) -> dict[CaseKey, list[TaskResult]]:
    runs: dict[CaseKey, list[TaskResult]] = defaultdict(list)
    for r in sorted(report.results, key=_result_key):
        runs[_case_key(r)].append(r)
    return runs


def _names(report: EvalReport) -> Callable[[CaseSummary], str]:
    """Case id, plus [model/variant] where the report holds the case for more than one of them."""
    counts = Counter((c.suite, c.case) for c in report.cases)
    return lambda c: f"{c.case} [{c.model}/{c.variant}]" if counts[(c.suite, c.case)] > 1 else c.case


def _failing(report: EvalReport) -> list[CaseSummary]:
    return [c for c in sorted(report.cases, key=_case_key) if c.verdict != "pass"]


def _target(c: CaseSummary | TaskResult) -> str:
    return c.model if c.variant == "primary" else f"{c.model}/{c.variant}"


# -- text helpers --------------------------------------------------------------------------------------------

# Not legal in XML 1.0, or able to move a terminal's cursor: C0 but tab and newline, DEL, C1, surrogates.
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _visible(text: str) -> str:
    def escape(m: re.Match[str]) -> str:
        code = ord(m.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _INVISIBLE.sub(escape, text.replace("\r\n", "\n"))


def _truncate(text: str, limit: int, unit: str = "characters") -> str:
    """At most `limit` characters (or UTF-8 bytes), saying how much was cut."""
    if unit == "bytes":
        data = text.encode("utf-8", "surrogatepass")
        if len(data) <= limit:
            return text
        return data[:limit].decode("utf-8", "ignore") + f"\n… [truncated: {len(data):,} bytes in all]"
    return text if len(text) <= limit else text[:limit] + f"\n… [truncated: {len(text):,} characters in all]"


def _ratio(x: float) -> str:
    return f"{x:.4f}".rstrip("0").rstrip(".")


def _runs_passed(c: CaseSummary) -> str:
    return f"{c.passed_runs} of {count(c.runs, 'run')} passed"


def _case_notes(c: CaseSummary) -> str:
    notes = [c.verdict, _runs_passed(c)] + ["flaky"] * c.flaky + ([c.baseline] if c.baseline else [])
    return ", ".join(notes)


def _override_line(o: Override) -> str:
    return f"override: {o.verdict} by {o.author} at {o.time}: {o.reason}"


def _run_lines(runs: Sequence[TaskResult], output_limit: int, unit: str = "characters") -> list[str]:
    """Plain lines for every run that did not pass: errors, failed checks, the output, any override."""
    lines: list[str] = []
    for r in runs:
        if r.status == "pass":
            continue
        lines.append(f"run {r.repeat}: {r.status} (score {_ratio(r.score)})")
        if r.error:
            lines.append(f"  error{f' ({r.error_kind})' if r.error_kind else ''}: {r.error}")
        for check in r.checks:
            if check.error:
                lines.append(f"  - {check.label}: could not run: {check.reason}")
            elif not check.passed:
                lines.append(f"  - {check.label}: {check.reason}")
        if r.output is not None:
            lines.append("  output:")
            lines += ["    " + line for line in _visible(_truncate(r.output, output_limit, unit)).split("\n")]
        if r.override:
            lines.append("  " + _override_line(r.override))
    return [_visible(line) for line in lines]


def _message(runs: Sequence[TaskResult], verdict: str) -> str:
    """One line for a JUnit message attribute or an annotation: the distinct reasons, first ones first."""
    if verdict == "error":
        reasons = [r.error for r in runs if r.error]
        reasons += [f"{c.label}: {c.reason}" for r in runs for c in r.checks if c.error]
    else:
        reasons = [f"{c.label}: {c.reason}" for r in runs for c in r.checks if not c.passed and not c.error]
    text = "; ".join(dict.fromkeys(" ".join(reason.split()) for reason in reasons)) or verdict
    return _truncate(text, 500)


# -- summary table -------------------------------------------------------------------------------------------


def summary_rows(report: EvalReport) -> list[list[str]]:
    """One row of SUMMARY_HEADER per suite, as display strings."""
    return [
        [
            s.suite,
            str(s.cases),
            str(s.passed),
            str(s.failed),
            str(s.errors),
            f"{percent(s.pass_rate)} / {percent(s.threshold)}",
            percent(s.consistency) + (f" (min {percent(s.min_consistency)})" if s.min_consistency is not None else ""),
            str(s.flaky) + (f" (max {s.max_flaky})" if s.max_flaky is not None else ""),
            f"{s.prompt_tokens + s.completion_tokens:,}",
            f"${s.cost:.4f}",
            f"{s.duration_s:.1f} s",
            "pass" if s.gate_passed else "fail",
        ]
        for s in _sorted_suites(report)
    ]


# -- JUnit XML -----------------------------------------------------------------------------------------------


def to_junit(report: EvalReport) -> str:
    """JUnit XML in the strict Apache Ant form (the windyroad JUnit.xsd), which Jenkins and GitLab also read.

    That form has no per-test output, so a failure's text carries its output and the suite's <system-out>
    carries every case's output; gate results are the suite's <properties>.
    """
    summaries = {s.suite: s for s in report.suites}
    cases: dict[str, list[CaseSummary]] = defaultdict(list)
    for c in sorted(report.cases, key=_case_key):
        cases[c.suite].append(c)
    runs, name = _runs(report), _names(report)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<testsuites>"]
    for index, suite in enumerate(sorted(set(summaries) | set(cases))):
        lines += _junit_suite(report, index, suite, summaries.get(suite), cases[suite], runs, name)
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
    times = {_case_key(c): sum(r.latency_ms for r in runs.get(_case_key(c), [])) / 1000 for c in cases}
    attrs = {
        "name": suite if suite.strip() else "(unnamed)",
        "package": report.project or "promptops",
        "id": index,
        "timestamp": _timestamp(report.started),
        "hostname": "localhost",
        "tests": len(cases),
        "failures": sum(c.verdict == "fail" for c in cases),
        "errors": sum(c.verdict == "error" for c in cases),
        "skipped": 0,
        "time": _seconds(summary.duration_s if summary else sum(times.values())),
    }
    lines = [f"  <testsuite{_attrs(attrs)}>", "    <properties>"]
    lines += [f"      <property{_attrs({'name': k, 'value': v})}/>" for k, v in _properties(report, summary)]
    lines.append("    </properties>")
    for c in cases:
        lines += _junit_case(c, name(c), times[_case_key(c)], runs.get(_case_key(c), []))
    outputs = "\n".join(_suite_output(c, runs.get(_case_key(c), [])) for c in cases)
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
        ("promptops.gate", "passed" if s.gate_passed else "failed"),
        ("promptops.pass_rate", _ratio(s.pass_rate)),
        ("promptops.threshold", _ratio(s.threshold)),
        ("promptops.consistency", _ratio(s.consistency)),
    ]
    props += [("promptops.min_consistency", _ratio(s.min_consistency))] if s.min_consistency is not None else []
    props += [("promptops.flaky", str(s.flaky))]
    props += [("promptops.max_flaky", str(s.max_flaky))] if s.max_flaky is not None else []
    return props + [("promptops.gate_reason", reason) for reason in s.gate_reasons]


def _junit_case(c: CaseSummary, name: str, time: float, runs: Sequence[TaskResult]) -> list[str]:
    head = f"    <testcase{_attrs({'name': name, 'classname': c.suite, 'time': _seconds(time)})}"
    if c.verdict == "pass":
        return [head + "/>"]
    if c.verdict == "fail":
        tag, kind = "failure", "assertion"
    else:
        tag, kind = "error", _error_type(runs)
    head_line = f"{c.suite} / {c.case} [{c.model}/{c.variant}]: {_case_notes(c)}"
    body = "\n".join([head_line, *_run_lines(runs, JUNIT_OUTPUT_BYTES, "bytes")])
    message = _message(runs, c.verdict)
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
    lines = [f"== {c.case} [{c.model}/{c.variant}]: {_case_notes(c)}"]
    seen: dict[str | None, int] = {}
    for r in runs:
        if r.output in seen:
            lines.append(f"-- run {r.repeat}: {r.status}, the same output as run {seen[r.output]}")
            continue
        seen[r.output] = r.repeat
        lines.append(f"-- run {r.repeat}: {r.status}" + (f", error: {r.error}" if r.error else ""))
        if r.output is not None:
            lines.append(_truncate(r.output, JUNIT_OUTPUT_BYTES, "bytes"))
        if r.override:
            lines.append(_override_line(r.override))
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
    return _visible(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attrs(attrs: Mapping[str, object]) -> str:
    def quote(value: object) -> str:
        text = _xml_text(str(value)).replace('"', "&quot;")
        return text.replace("\t", "&#9;").replace("\n", "&#10;")

    return "".join(f' {k}="{quote(v)}"' for k, v in attrs.items())


# -- Markdown ------------------------------------------------------------------------------------------------


def to_markdown(report: EvalReport, limit: int = 65000) -> str:
    """A PR comment or step summary, at most `limit` characters: failure details are the first to go."""
    runs, name = _runs(report), _names(report)
    parts = [_md_head(report), _md_table(report), _md_gates(report), _md_baseline(report, name), _md_overrides(report)]
    details = [_md_details(c, runs.get(_case_key(c), [])) for c in _failing(report)]
    if details:
        details.insert(0, "### Failures and errors")
    return _fit([p for p in parts if p], details, limit)


def _fit(parts: list[str], details: list[str], limit: int) -> str:
    text = "\n\n".join(parts + details) + "\n"
    if len(text) <= limit:
        return text
    blocks = details[1:]  # details[0] is their heading
    summary = "\n\n".join(parts)
    # The longest note this can need: sizes below are upper bounds, so the text stays under the limit.
    size = len(summary) + 2 + len(_md_cut_note(limit, len(blocks), len(blocks), 0)) + 1
    size += len(details[0]) + 2 if details else 0
    kept: list[str] = []
    for block in blocks:
        if size + len(block) + 2 > limit:
            break
        kept.append(block)
        size += len(block) + 2
    note = _md_cut_note(limit, len(blocks) - len(kept), len(blocks), 0)
    text = "\n\n".join([*parts, *([details[0], *kept] if kept else []), note]) + "\n"
    if len(text) <= limit:
        return text
    lines = summary.split("\n")  # the summary alone is too long: cut its last lines
    size = len(summary)
    for keep in range(len(lines) - 1, -1, -1):
        size -= len(lines[keep]) + 1
        note = _md_cut_note(limit, len(blocks), len(blocks), len(lines) - keep)
        if max(size, 0) + 2 + len(note) + 1 <= limit:
            return "\n".join(lines[:keep]) + "\n\n" + note + "\n"
    return note[:limit]


def _md_cut_note(limit: int, left: int, failing: int, lines: int) -> str:
    what = [f"the details of {left} of {failing} failed or errored cases"] if left else []
    what += [f"the last {lines} lines of the summary"] if lines else []
    return (
        f"> **Left out** to stay under {limit:,} characters: {' and '.join(what)}. "
        "The JSON and JUnit reports and `promptops eval` on a terminal have everything."
    )


def _md_head(report: EvalReport) -> str:
    if report.interrupted:
        title = "## ⚠️ promptops eval interrupted: the results are partial"
    else:
        title = "## ✅ promptops eval passed" if report.passed else "## ❌ promptops eval failed"
    facts = [f"**{_md_text(report.project)}**"] if report.project else []
    facts += [_md_code(report.label), f"run {_md_code(report.run_id)}"]
    facts += [f"baseline {_md_code(report.baseline)}"] if report.baseline else []
    facts += [f"shard {_md_code(report.shard)}"] if report.shard else []
    facts.append(f"{_md_text(report.started)} → {_md_text(report.finished)}")
    totals = _totals(report)
    tally = (
        f"{count(totals['suites'], 'suite')}, {totals['cases']} cases: {totals['passed']} passed, "
        f"{totals['failed']} failed, {count(totals['errors'], 'error')} · "
        f"{totals['tokens']:,} tokens · ${totals['cost']:.4f}"
    )
    return "\n\n".join([title, " · ".join(facts), tally])


def _md_table(report: EvalReport) -> str:
    rows = summary_rows(report)
    if not rows:
        return "_No suites were evaluated._"
    lines = ["| " + " | ".join(SUMMARY_HEADER) + " |", "|---" + "|---:" * (len(SUMMARY_HEADER) - 2) + "|---|"]
    for row in rows:
        cells = [_md_code(row[0]), *row[1:-1], "✅ pass" if row[-1] == "pass" else "❌ fail"]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def _md_gates(report: EvalReport) -> str:
    failed = [s for s in _sorted_suites(report) if not s.gate_passed]
    if not failed:
        return ""
    lines = ["**Gates failed**", ""]
    for s in failed:
        reasons = "; ".join(s.gate_reasons) or f"pass rate {percent(s.pass_rate)}, threshold {percent(s.threshold)}"
        lines.append(f"- {_md_code(s.suite)}: {_md_text(reasons)}")
    return "\n".join(lines)


def _md_baseline(report: EvalReport, name: Callable[[CaseSummary], str]) -> str:
    classes: dict[str, list[CaseSummary]] = defaultdict(list)
    for c in sorted(report.cases, key=_case_key):
        if c.baseline:
            classes[c.baseline].append(c)
    if not classes:
        return ""
    against = f" {_md_code(report.baseline)}" if report.baseline else ""
    lines = [f"### Compared with the baseline{against}", "", "| change | cases | which |", "|---|---:|---|"]
    for kind in [*BASELINE_CLASSES, *sorted(set(classes) - set(BASELINE_CLASSES))]:
        members = classes.get(kind, [])
        if not members:
            continue
        which = (
            "" if kind == "unchanged" else ", ".join(_md_code(f"{c.suite}/{name(c)}") for c in members[:CASES_LISTED])
        )
        which += f" and {len(members) - CASES_LISTED} more" if which and len(members) > CASES_LISTED else ""
        lines.append(f"| {_md_text(kind)} | {len(members)} | " + which.replace("|", "\\|") + " |")
    return "\n".join(lines)


def _md_overrides(report: EvalReport) -> str:
    applied = sorted({(_case_key(r), r.override) for r in report.results if r.override}, key=lambda a: a[0])
    if not applied:
        return ""
    lines = ["### Overrides applied", "", "| case | model | verdict | by | at | reason |", "|---|---|---|---|---|---|"]
    for (suite, case, model, variant), o in applied:
        cells = [_md_code(f"{suite}/{case}"), _md_code(model if variant == "primary" else f"{model}/{variant}")]
        cells += [o.verdict, _md_text(o.author), _md_text(o.time), _md_text(o.reason)]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def _md_details(c: CaseSummary, runs: Sequence[TaskResult]) -> str:
    icon = "❌" if c.verdict == "fail" else "⚠️"
    where = html.escape(_visible(f"{c.suite} / {c.case}"))
    summary = f"{icon} <code>{where}</code> {_md_text(_target(c))}: {_md_text(_case_notes(c))}"
    lines = [f"<details><summary>{summary}</summary>", ""]
    bad = [r for r in runs if r.status != "pass"]
    for r in bad[:RUNS_SHOWN]:
        lines.append(f"**run {r.repeat}**: {r.status}, score {_ratio(r.score)}")
        lines.append("")
        lines += [f"- error: {_md_text(r.error)}"] if r.error else []
        for check in r.checks:
            if check.error or not check.passed:
                state = "could not run: " if check.error else ""
                lines.append(f"- {_md_code(check.label)}: {state}{_md_text(check.reason)}")
        lines += [f"- {_md_text(_override_line(r.override))}"] if r.override else []
        if r.output is not None:
            lines += ["", "got:", "", _md_block(_truncate(r.output, MARKDOWN_OUTPUT_CHARS))]
        lines.append("")
    if len(bad) > RUNS_SHOWN:
        lines += [f"_and {len(bad) - RUNS_SHOWN} more runs that did not pass_", ""]
    lines.append("</details>")
    return "\n".join(lines)


def _md_text(text: str) -> str:
    """Free text on one line, inert: no HTML, no table breaks."""
    return html.escape(" ".join(_visible(text).split()), quote=False)


def _md_code(text: str) -> str:
    text = " ".join(_visible(text).split())
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}" if len(fence) > 1 or text.startswith("`") else f"`{text}`"


def _md_block(text: str) -> str:
    text = _visible(text)
    fence = "`" * max(3, max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    return f"{fence}text\n{text}\n{fence}"


# -- terminal text and annotations ---------------------------------------------------------------------------


def to_text_failures(report: EvalReport) -> str:
    """Every failed or errored case with its failed checks and output, for a terminal ("" when none)."""
    runs = _runs(report)
    blocks = []
    for c in _failing(report):
        head = f"{c.verdict.upper()} {c.suite} / {c.case} [{_target(c)}]: {_case_notes(c)}"
        lines = [_visible(head)] + ["  " + line for line in _run_lines(runs.get(_case_key(c), []), TEXT_OUTPUT_CHARS)]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def github_annotations(report: EvalReport) -> str:
    """Workflow commands: one error per failed gate and per errored case, and one if the run was cut short."""
    paths = {s.suite: s.path for s in report.suites}
    runs = _runs(report)
    lines = []
    for s in _sorted_suites(report):
        if not s.gate_passed:
            reasons = "; ".join(s.gate_reasons) or f"pass rate {percent(s.pass_rate)}, threshold {percent(s.threshold)}"
            lines.append(_annotation(s.path, s.suite, f"gate failed: {reasons}"))
    for c in _failing(report):
        if c.verdict == "error":
            message = f"case {c.case} [{_target(c)}] errored: {_message(runs.get(_case_key(c), []), 'error')}"
            lines.append(_annotation(paths.get(c.suite, ""), c.suite, message))
    if report.interrupted:
        lines.append("::error title=promptops eval::the run was interrupted; the results are partial")
    return "\n".join(lines)


def _annotation(path: str, suite: str, message: str) -> str:
    props = [f"file={_escape(path, True)}"] if path else []
    props.append(f"title={_escape('promptops eval ' + suite, True)}")
    return f"::error {','.join(props)}::{_escape(message)}"


def _escape(value: str, prop: bool = False) -> str:
    return workflow_escape(_visible(value), prop)
