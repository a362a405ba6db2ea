"""Eval results for people and tools: the door to every writer (JSON, JUnit XML, Markdown in their own
modules), and the two small ones kept here: failures as terminal text and GitHub workflow annotations.

Every writer takes an EvalReport and returns text; what they share (runs grouped by case, summary rows, cutting
and escaping what a model wrote) is in report/cases.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from ..model import EvalReport, Message
from ..wording import percent
from .cases import (
    SUMMARY_HEADER,
    TEXT_OUTPUT_CHARS,
    CaseKey,
    case_key,
    case_notes,
    failing_cases,
    failure_message,
    overridden_runs,
    override_line,
    row_name,
    run_lines,
    runs_by_case,
    sorted_suites,
    summary_rows,
    target_of,
    unchecked_cases,
    visible,
)
from .findings import workflow_escape
from .metrics import METRIC_HEADER, metric_rows
from .results_json import FORMAT_VERSION, ResultTexts, from_dict, to_dict, to_json
from .variants import variant_lines

if TYPE_CHECKING:
    from .junit import to_junit
    from .markdown import to_markdown
    from .results_html import to_html

# The writers of the formats asked for only are imported (an eval that writes JSON needs no HTML or XML).
_WRITERS = {"to_junit": "junit", "to_markdown": "markdown", "to_html": "results_html"}


def __getattr__(name: str) -> Any:
    if name in _WRITERS:
        import importlib

        return getattr(importlib.import_module(f".{_WRITERS[name]}", __package__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "EXTENSIONS",
    "FORMATS",
    "FORMAT_VERSION",
    "METRIC_HEADER",
    "SUMMARY_HEADER",
    "ResultTexts",
    "format_of",
    "from_dict",
    "github_annotations",
    "metric_rows",
    "render",
    "summary_rows",
    "to_dict",
    "to_html",
    "to_json",
    "to_junit",
    "to_markdown",
    "to_text_failures",
    "to_text_notes",
    "variant_lines",
]


FORMATS = ("json", "junit", "markdown", "html")
EXTENSIONS = {".json": "json", ".xml": "junit", ".md": "markdown", ".html": "html", ".htm": "html"}


def format_of(path: PurePath, fmt: str | None = None) -> str:
    """The report format a `-o` file gets: by its extension, else `--format`, else a usage error (never a guess)."""
    kind = EXTENSIONS.get(path.suffix.lower()) or fmt
    if kind is None:
        known = ", ".join(f"{ext} ({name})" for ext, name in EXTENSIONS.items())
        raise InputError(
            f"{path}: unknown report file extension {path.suffix or '(none)'!r}",
            hint=f"name the file with one of {known}, or give --format",
        )
    return kind


def render(
    kind: str,
    report: EvalReport,
    *,
    messages: Mapping[CaseKey, Sequence[Message]] | None = None,
    fail_on_regression: bool = False,
    texts: ResultTexts | None = None,
) -> str:
    """The report in one of FORMATS; JUnit agrees with the exit code `fail_on_regression` gives. JSON writes the
    results `texts` holds with the text made as they arrived."""
    if kind == "junit":
        from .junit import to_junit

        return to_junit(report, fail_on_regression=fail_on_regression)
    if kind == "html":
        from .results_html import to_html

        return to_html(report, messages)
    if kind == "markdown":
        from .markdown import to_markdown

        return to_markdown(report)
    return to_json(report, texts)


# -- terminal text and annotations ---------------------------------------------------------------------------


def to_text_failures(report: EvalReport) -> str:
    """Every failed or errored case with its failed checks and output, for a terminal ("" when none)."""
    failing = failing_cases(report)
    runs = runs_by_case(report) if failing else {}
    blocks = []
    for c in failing:
        head = f"{c.verdict.upper()} {c.suite} / {c.case} [{target_of(c)}]: {case_notes(c)}"
        lines = [visible(head)] + ["  " + line for line in run_lines(runs.get(case_key(c), []), TEXT_OUTPUT_CHARS)]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def to_text_notes(report: EvalReport) -> str:
    """What the summary table cannot show, for a terminal ("" when nothing): rows left incomplete, cases that
    changed class against the baseline (with the models of both sides), unchecked cases, overrides applied."""
    lines = [f"INCOMPLETE {row_name(s)}: {s.gate_reasons[0]}" for s in sorted_suites(report) if s.incomplete]
    moved = sorted((c for c in report.cases if c.baseline in ("regressed", "fixed")), key=case_key)
    for c in [*moved, *report.removed]:
        was, now = c.base_verdict or "-", "-" if c.baseline == "removed" else c.verdict
        lines.append(f"{(c.baseline or '').upper()} {c.suite} / {c.case} [{target_of(c)}]: {was} → {now}")
    lines += [f"UNCHECKED {c.suite} / {c.case} [{target_of(c)}]: no assertion applies" for c in unchecked_cases(report)]
    for r in overridden_runs(report):
        if r.override is not None:
            where = f"{r.suite} / {r.case} [{target_of(r)}] run {r.repeat}"
            lines.append(f"OVERRIDDEN {where}: {override_line(r.override)}")
    return "\n".join(visible(line) for line in lines)


def github_annotations(report: EvalReport, prefix: str = "") -> str:
    """Workflow commands: one error per failed gate and per errored case, and one if the run was cut short.

    `prefix` is the project's path from the git root: GitHub attaches annotations to repository paths."""
    paths = {s.suite: prefix + s.path for s in report.suites if s.path}
    runs = runs_by_case(report)
    lines = []
    for s in sorted_suites(report):
        if not s.gate_passed:
            reasons = "; ".join(s.gate_reasons) or f"pass rate {percent(s.pass_rate)}, threshold {percent(s.threshold)}"
            what = "incomplete" if s.incomplete else "gate failed"
            lines.append(_annotation(paths.get(s.suite, ""), row_name(s), f"{what}: {reasons}"))
    for c in failing_cases(report):
        if c.verdict == "error":
            message = f"case {c.case} [{target_of(c)}] errored: {failure_message(runs.get(case_key(c), []), 'error')}"
            lines.append(_annotation(paths.get(c.suite, ""), c.suite, message))
    if report.interrupted:
        lines.append("::error title=promptops eval::the run was interrupted; the results are partial")
    return "\n".join(lines)


def _annotation(path: str, suite: str, message: str) -> str:
    props = [f"file={_escape(path, True)}"] if path else []
    props.append(f"title={_escape('promptops eval ' + suite, True)}")
    return f"::error {','.join(props)}::{_escape(message)}"


def _escape(value: str, prop: bool = False) -> str:
    return workflow_escape(visible(value), prop)
