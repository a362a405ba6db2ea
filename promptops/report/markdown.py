"""Eval results as Markdown for a pull request comment: head, summary table, gates, baseline, details, within a size.

What a model wrote (outputs, check reasons that quote them, provider errors) and what a reviewer wrote (override
reasons) only ever appear inside code spans or fenced blocks: GitHub renders no emphasis, link, @mention or #issue
reference there, so a model's answer cannot ping people or link issues from a pull request comment.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict
from collections.abc import Callable, Sequence

from ..model import CaseSummary, EvalReport, TaskResult
from ..wording import count, percent
from .cases import (
    BASELINE_CLASSES,
    CASES_LISTED,
    MARKDOWN_OUTPUT_CHARS,
    RUNS_SHOWN,
    SUMMARY_HEADER,
    case_key,
    case_names,
    case_notes,
    failing_cases,
    money,
    override_line,
    ratio,
    row_name,
    runs_by_case,
    sorted_suites,
    summary_rows,
    target_of,
    totals,
    truncate,
    unchecked_cases,
    visible,
)
from .metrics import metrics_markdown
from .variants import variants_markdown

# -- Markdown ------------------------------------------------------------------------------------------------


def to_markdown(report: EvalReport, limit: int = 65000) -> str:
    """A PR comment or step summary, at most `limit` characters: failure details are the first to go."""
    runs, name = runs_by_case(report), case_names(report)
    parts = [
        _md_head(report),
        _md_table(report),
        _md_gates(report),
        _md_baseline(report, name),
        _md_unchecked(report, name),
        _md_overrides(report),
        metrics_markdown(report),
        variants_markdown(report),
    ]
    details = [_md_details(c, runs.get(case_key(c), [])) for c in failing_cases(report)]
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
        regressed = sum(c.baseline == "regressed" for c in report.cases)
        if report.passed and regressed:  # the gates held; `--fail-on regression` fails the run all the same
            title = f"## ⚠️ promptops eval gates passed, but {count(regressed, 'case')} regressed"
    facts = [f"**{_md_text(report.project)}**"] if report.project else []
    facts += [_md_code(report.label), f"run {_md_code(report.run_id)}"]
    facts += [f"baseline {_md_code(report.baseline)}"] if report.baseline else []
    facts += [f"shard {_md_code(report.shard)}"] if report.shard else []
    facts.append(f"{_md_text(report.started)} → {_md_text(report.finished)}")
    sums = totals(report)
    tally = (
        f"{count(sums['suites'], 'suite')}, {sums['cases']} cases: {sums['passed']} passed, "
        f"{sums['failed']} failed, {count(sums['errors'], 'error')} · "
        f"{sums['tokens']:,} tokens · {'cost unknown' if sums['cost'] is None else money(sums['cost'])}"
    )
    return "\n\n".join([title, " · ".join(facts), tally])


def _md_table(report: EvalReport) -> str:
    rows = summary_rows(report)
    if not rows:
        return "_No suites were evaluated._"
    lines = ["| " + " | ".join(SUMMARY_HEADER) + " |", "|---" + "|---:" * (len(SUMMARY_HEADER) - 2) + "|---|"]
    icons = {"pass": "✅ pass", "fail": "❌ fail", "incomplete": "⚠️ incomplete"}
    for row in rows:
        cells = [_md_code(row[0]), *row[1:-1], icons.get(row[-1], row[-1])]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def _md_gates(report: EvalReport) -> str:
    failed = [s for s in sorted_suites(report) if not s.gate_passed]
    if not failed:
        return ""
    lines = ["**Gates failed**", ""]
    for s in failed:
        reasons = "; ".join(s.gate_reasons) or f"pass rate {percent(s.pass_rate)}, threshold {percent(s.threshold)}"
        lines.append(f"- {_md_code(row_name(s))}: {_md_text(reasons)}")
    return "\n".join(lines)


def _md_baseline(report: EvalReport, name: Callable[[CaseSummary], str]) -> str:
    classes: dict[str, list[CaseSummary]] = defaultdict(list)
    for c in [*sorted(report.cases, key=case_key), *report.removed]:
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
            ""
            if kind == "unchanged"
            else ", ".join(_md_code(f"{c.suite}/{name(c)}") + _md_models(c) for c in members[:CASES_LISTED])
        )
        which += f" and {len(members) - CASES_LISTED} more" if which and len(members) > CASES_LISTED else ""
        lines.append(f"| {_md_text(kind)} | {len(members)} | " + which.replace("|", "\\|") + " |")
    return "\n".join(lines)


def _md_models(c: CaseSummary) -> str:
    """The models of both sides, when the baseline's differs (a model swap)."""
    if c.base_model is None or c.base_model == c.model:
        return ""
    return f" ({_md_text(c.base_model)} → {_md_text(c.model)})"


def _md_unchecked(report: EvalReport, name: Callable[[CaseSummary], str]) -> str:
    members = unchecked_cases(report)
    if not members:
        return ""
    listed = ", ".join(_md_code(f"{c.suite}/{name(c)}") for c in members[:CASES_LISTED])
    listed += f" and {len(members) - CASES_LISTED} more" if len(members) > CASES_LISTED else ""
    return (
        f"**Unchecked** ({len(members)}, no assertion applies: neither passes nor failures, "
        f"not in the pass rate): {listed}"
    )


def _md_overrides(report: EvalReport) -> str:
    applied = sorted({(case_key(r), r.override) for r in report.results if r.override}, key=lambda a: a[0])
    if not applied:
        return ""
    lines = ["### Overrides applied", "", "| case | model | verdict | by | at | reason |", "|---|---|---|---|---|---|"]
    for (suite, case, model, variant), o in applied:
        cells = [_md_code(f"{suite}/{case}"), _md_code(model if variant == "primary" else f"{model}/{variant}")]
        cells += [o.verdict, _md_code(o.author), _md_text(o.time), _md_code(o.reason)]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def _md_details(c: CaseSummary, runs: Sequence[TaskResult]) -> str:
    icon = "❌" if c.verdict == "fail" else "⚠️"
    where = html.escape(visible(f"{c.suite} / {c.case}"))
    summary = f"{icon} <code>{where}</code> {_md_text(target_of(c))}: {_md_text(case_notes(c))}"
    lines = [f"<details><summary>{summary}</summary>", ""]
    bad = [r for r in runs if r.status != "pass"]
    for r in bad[:RUNS_SHOWN]:
        lines.append(f"**run {r.repeat}**: {r.status}, score {ratio(r.score)}")
        lines.append("")
        lines += [f"- error: {_md_code(r.error)}"] if r.error else []
        for check in r.checks:
            if check.error or not check.passed:
                state = "could not run: " if check.error else ""
                lines.append(f"- {_md_code(check.label)}: {state}{_md_code(check.reason)}")
        lines += [f"- {_md_code(override_line(r.override))}"] if r.override else []
        if r.output is not None:
            lines += ["", "got:", "", _md_block(truncate(r.output, MARKDOWN_OUTPUT_CHARS))]
        lines.append("")
    if len(bad) > RUNS_SHOWN:
        lines += [f"_and {len(bad) - RUNS_SHOWN} more runs that did not pass_", ""]
    lines.append("</details>")
    return "\n".join(lines)


def _md_text(text: str) -> str:
    """Free text on one line, inert: no HTML, no table breaks."""
    return html.escape(" ".join(visible(text).split()), quote=False)


def _md_code(text: str) -> str:
    text = " ".join(visible(text).split())
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}" if len(fence) > 1 or text.startswith("`") else f"`{text}`"


def _md_block(text: str) -> str:
    text = visible(text)
    fence = "`" * max(3, max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    return f"{fence}text\n{text}\n{fence}"
