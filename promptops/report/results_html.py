"""Eval results as one self-contained HTML page: a summary per suite and per model, then every case with its
rendered messages, each run's output and each assertion's verdict and reason, the baseline classification when
there is one, prompt variants side by side and named metrics when the run has them, and filters (failed,
regressed, flaky). Opened offline from a CI artifact; nothing is fetched.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from ..model import CaseSummary, EvalReport, Message, TaskResult
from ..wording import count, percent
from .cases import (
    SUMMARY_HEADER,
    CaseKey,
    case_key,
    money,
    override_line,
    ratio,
    runs_by_case,
    summary_rows,
    target_of,
    totals,
)
from .html_page import esc, filter_bar, page, pre, table
from .metrics import metric_scores
from .variants import points, variant_comparisons

Messages = Mapping[CaseKey, Sequence[Message]]
TOTALS = (("suites", "suites"), ("cases", "cases"), ("passed", "passed"), ("failed", "failed"), ("errors", "errors"))


def to_html(report: EvalReport, messages: Messages | None = None) -> str:
    """The page; `messages` (by case key) are the rendered prompts the runs were sent, when the caller has them."""
    runs = runs_by_case(report)
    cases = sorted(report.cases, key=case_key)
    body = [
        _head(report),
        "<h2>Suites</h2>",
        _suite_table(report),
        "<h2>By suite and model</h2>",
        _model_table(cases),
        *_variants(report),
        *_metrics(report),
        f"<h2>Cases ({len(cases)})</h2>",
        filter_bar(len(cases)),
        *(_case(c, runs.get(case_key(c), []), (messages or {}).get(case_key(c), ())) for c in cases),
        *_removed(report),
    ]
    title = "promptops eval" + (f": {report.project}" if report.project else "")
    return page(title, "\n".join(body), filters=True)


def _verdict(report: EvalReport) -> tuple[str, str]:
    if report.interrupted:
        return "error", "interrupted: the results are partial"
    return ("pass", "passed") if report.passed else ("fail", "failed")


def _head(report: EvalReport) -> str:
    css, word = _verdict(report)
    facts = [f"<span>{esc(report.project)}</span>"] if report.project else []
    facts += [f"<span>{esc(report.label)}</span>", f"<span>run {esc(report.run_id)}</span>"]
    facts += [f"<span>baseline {esc(report.baseline)}</span>"] if report.baseline else []
    facts += [f"<span>shard {esc(report.shard)}</span>"] if report.shard else []
    facts.append(f"<span>{esc(report.started)} → {esc(report.finished)}</span>")
    sums = totals(report)
    tally = ", ".join(f'<span data-count="{esc(key)}">{esc(sums[key])}</span> {esc(label)}' for key, label in TOTALS)
    cost = f"{sums['tokens']:,} tokens · {'cost unknown' if sums['cost'] is None else money(sums['cost'])}"
    return (
        f'<h1>promptops eval <span class="{esc(css)}" data-verdict="{esc(css)}">{esc(word)}</span></h1>\n'
        f'<p class="facts">{"".join(facts)}</p>\n<p>{tally} · {esc(cost)}</p>'
    )


def _suite_table(report: EvalReport) -> str:
    rows = []
    for row in summary_rows(report):
        cells = [esc(cell) for cell in row]
        cells[-1] = f'<span class="{esc(row[-1])}">{esc(row[-1])}</span>'
        rows.append(cells)
    return table(list(SUMMARY_HEADER), rows, frozenset(range(1, len(SUMMARY_HEADER) - 1))) if rows else "<p>none</p>"


def _model_table(cases: Sequence[CaseSummary]) -> str:
    groups: dict[tuple[str, str], list[CaseSummary]] = defaultdict(list)
    for c in cases:
        groups[(c.suite, target_of(c))].append(c)
    rows = []
    for (suite, target), members in sorted(groups.items()):
        verdicts = [c.verdict for c in members]
        passed = verdicts.count("pass")
        rows.append(
            [esc(suite), esc(target), esc(len(members)), esc(passed), esc(verdicts.count("fail")),
             esc(verdicts.count("error")), esc(sum(c.flaky for c in members)),
             esc(f"{passed / len(members):.0%}")]
        )  # fmt: skip
    header = ["suite", "model", "cases", "passed", "failed", "errors", "flaky", "cases passed"]
    return table(header, rows, frozenset(range(2, 8))) if rows else "<p>none</p>"


def _variants(report: EvalReport) -> list[str]:
    """Per suite file that compares prompts: each variant's pass rate, change from the first and gate, then every
    case whose verdicts differ (all of them: a page has no comment-size limit)."""
    groups = variant_comparisons(report)
    if not groups:
        return []
    parts = ['<div data-section="variants">', "<h2>Prompt variants</h2>"]
    header = ["variant", "prompt", "cases", "passed", "pass rate", "change", "gate"]
    for group in groups:
        cell = "".join(f" [{k}: {v}]" for k, v in group["axes"].items())
        parts.append(f"<p><code>{esc(group['suite'])}</code>{esc(cell)}</p>")
        rows = [_variant_row(r, first=i == 0) for i, r in enumerate(group["variants"])]
        parts += [table(header, rows, frozenset(range(2, 6))), _differences(group)]
    return [*parts, "</div>"]


def _variant_row(row: dict[str, Any], first: bool) -> list[str]:
    gate = ("pass", "passed") if row["gate_passed"] else ("fail", "failed")
    change = "" if first else esc(points(row["pass_rate_change"]))
    return [
        esc(row["variant"]), esc(row["prompt"]), esc(row["cases"]), esc(row["passed"]),
        esc(percent(row["pass_rate"])), change, f'<span class="{esc(gate[0])}">{esc(gate[1])}</span>',
    ]  # fmt: skip


def _differences(group: dict[str, Any]) -> str:
    if not group["differences"]:
        return "<p>Every case has the same verdict in every variant.</p>"
    names = [r["variant"] for r in group["variants"]]
    rows = [
        [f"<code>{esc(d['case'])}</code>", esc(_target(d["model"], d["role"]))]
        + [f'<span class="{esc(v)}">{esc(v)}</span>' for v in (d["verdicts"].get(n, "-") for n in names)]
        for d in group["differences"]
    ]
    return f"<p>Cases whose verdicts differ ({len(rows)}):</p>" + table(["case", "model", *names], rows)


def _metrics(report: EvalReport) -> list[str]:
    """Named metrics per suite, model and variant: checks, how many passed and the mean score."""
    rows = [
        [esc(m["suite"]), esc(_target(m["model"], m["variant"])), f"<code>{esc(m['metric'])}</code>",
         esc(m["checks"]), esc(m["passed"]), esc(f"{m['score']:.2f}")]
        for m in metric_scores(report)
    ]  # fmt: skip
    if not rows:
        return []
    header = ["suite", "model", "metric", "checks", "passed", "mean score"]
    return ['<div data-section="metrics">', "<h2>Metrics</h2>", table(header, rows, frozenset(range(3, 6))), "</div>"]


def _target(model: str, role: str) -> str:
    return model if role == "primary" else f"{model} ({role})"


def _case(c: CaseSummary, runs: Sequence[TaskResult], messages: Sequence[Message]) -> str:
    tags = [f'<span class="tag {esc(c.verdict)}">{esc(c.verdict)}</span>']
    tags += ['<span class="tag flaky">flaky</span>'] if c.flaky else []
    if c.baseline:
        was = f"{c.base_verdict or '-'}" + (f" on {c.base_model}" if c.base_model and c.base_model != c.model else "")
        tags.append(f'<span class="tag {esc(c.baseline)}">{esc(c.baseline)}: baseline {esc(was)}</span>')
    attrs = (
        f'data-case="{esc(c.suite)} / {esc(c.case)}" data-verdict="{esc(c.verdict)}" '
        f'data-baseline="{esc(c.baseline or "")}" data-flaky="{"true" if c.flaky else "false"}"'
    )
    passed = f"{c.passed_runs} of {count(c.runs, 'run')} passed"
    summary = (
        f"<summary><code>{esc(c.suite)} / {esc(c.case)}</code> [{esc(target_of(c))}] {' '.join(tags)} "
        f"{esc(passed)}</summary>"
    )
    body = [_messages(messages)] if messages else []
    body += [_run(r) for r in runs]
    opened = " open" if c.verdict != "pass" else ""
    return f'<details class="case" {attrs}{opened}>{summary}\n' + "\n".join(body) + "\n</details>"


def _messages(messages: Sequence[Message]) -> str:
    parts = [f'<div class="message"><span class="role">{esc(m.role)}</span>{pre(m.content)}</div>' for m in messages]
    return "<h4>Rendered messages</h4>" + "".join(parts)


def _run(r: TaskResult) -> str:
    head = f'<h4>Run {esc(r.repeat)}: <span class="{esc(r.status)}">{esc(r.status)}</span>, score {esc(ratio(r.score))}'
    head += esc(f", {r.latency_ms / 1000:.2f} s" + (" (cached)" if r.cached else "")) + "</h4>"
    parts = [head]
    if r.error:
        parts.append(f"<p>error{esc(f' ({r.error_kind})' if r.error_kind else '')}:</p>{pre(r.error)}")
    if r.checks:
        items = []
        for check in r.checks:
            state = "could not run" if check.error else "pass" if check.passed else "fail"
            css = "check-pass" if check.passed and not check.error else "check-fail"
            items.append(
                f'<li class="{esc(css)}"><code>{esc(check.label)}</code>: {esc(state)}, '
                f"score {esc(ratio(check.score))}: {esc(check.reason)}</li>"
            )
        parts.append("<ul>" + "".join(items) + "</ul>")
    if r.override:
        parts.append(f"<p>{esc(override_line(r.override))}</p>")
    if r.output is not None:
        parts.append("<p>Output:</p>" + pre(r.output))
    return "\n".join(parts)


def _removed(report: EvalReport) -> list[str]:
    """Cases only the baseline had: listed with their verdict there, outside the filters (they have no run now)."""
    if not report.removed:
        return []
    rows = [
        [f"<code>{esc(c.suite)} / {esc(c.case)}</code>", esc(c.base_model or c.model), esc(c.base_verdict or c.verdict)]
        for c in sorted(report.removed, key=case_key)
    ]
    return [
        f"<h2>Removed since the baseline ({len(rows)})</h2>",
        table(["case", "model", "verdict at the baseline"], rows),
    ]
