"""What `promptops eval` shows and writes: the progress bar, the reports, the summary table and the verdict."""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..model import EvalReport
    from ..report.results import ResultTexts

from ..wording import count
from .common import err_console, out_console, write_out


class ProgressBar:
    """A progress bar on a terminal; nothing when stderr is not one."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.task: Any = None
        self.total: Callable[[], int | None] | None = None  # asked at each step until the total is known

    def start(self, total: Callable[[], int | None]) -> None:
        """Show the bar; `total()` is the number of tasks, or None while they are still being planned."""
        import sys

        known = total()
        if not sys.stderr.isatty() or known == 0:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        bar = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console(),
            transient=True,
        )
        bar.start()
        self.task = bar.add_task("eval", total=known)
        self.total = total if known is None else None
        self.bar = bar

    def advance(self, _: object) -> None:
        if self.bar is not None:
            known = self.total() if self.total is not None else None
            if known is not None:
                self.bar.update(self.task, total=known)
                self.total = None
            self.bar.advance(self.task)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


class Context:
    """What the writers need besides the report: the project's path in the repository, the gate policy, the
    rendered messages of each case (for the HTML report only: gathered, and redacted, when one is written) and the
    JSON text of the results made as they arrived (when a JSON report is written)."""

    def __init__(
        self,
        prefix: str,
        fail_on_regression: bool,
        messages: Callable[[], dict[Any, Any]],
        texts: ResultTexts | None = None,
    ) -> None:
        self.prefix, self.fail_on_regression, self._messages = prefix, fail_on_regression, messages
        self.texts = texts

    @functools.cached_property
    def messages(self) -> dict[Any, Any]:
        return self._messages()


def import_writers(kinds: Iterable[str]) -> None:
    """Import what writes the reports and the summary table on a background thread while the calls are made
    (about 40 ms, which the time after the last answer no longer includes). Any failure is left for `emit`."""
    modules = ["rich.table", "rich.text", "promptops.report.results"]
    modules += [f"promptops.report.{_WRITER_MODULES[k]}" for k in dict.fromkeys(kinds) if k in _WRITER_MODULES]

    def load() -> None:
        import importlib

        with contextlib.suppress(Exception):
            for name in modules:
                importlib.import_module(name)

    threading.Thread(target=load, name="promptops-report-import", daemon=True).start()


_WRITER_MODULES = {"junit": "junit", "markdown": "markdown", "html": "results_html"}  # json: report.results


def emit(report: EvalReport, outputs: list[tuple[Path, str]], fmt: str | None, context: Context) -> None:
    from rich.table import Table
    from rich.text import Text

    from ..report import results as writers

    def render(kind: str) -> str:
        messages = context.messages if kind == "html" else None
        return writers.render(
            kind, report, messages=messages, fail_on_regression=context.fail_on_regression, texts=context.texts
        )

    for path, kind in outputs:
        write_out(render(kind), path)
    if fmt and not outputs:
        write_out(render(fmt))
        console = err_console()
    else:
        console = out_console()
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in writers.SUMMARY_HEADER:
        table.add_column(column, no_wrap=True)
    for row in writers.summary_rows(report):
        table.add_row(*(Text(cell) for cell in row))  # text, never markup: "[model: x]", or a suite id
    console.print(table)
    metrics = writers.metric_rows(report)
    if metrics:
        table = Table(box=None, pad_edge=False, header_style="bold", title="metrics", title_justify="left")
        for column in writers.METRIC_HEADER:
            table.add_column(column, no_wrap=True)
        for metric in metrics:
            table.add_row(*(Text(cell) for cell in metric))
        console.print(table)
    variants = writers.variant_lines(report)
    if variants:
        console.print("\n".join(variants), markup=False)
    notes = writers.to_text_notes(report)
    if notes:
        console.print(notes, markup=False)
    failures = writers.to_text_failures(report)
    if failures:
        console.print(failures, markup=False)
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as handle:
            handle.write(writers.to_markdown(report) + "\n")
    if os.environ.get("GITHUB_ACTIONS") == "true":
        annotations = writers.github_annotations(report, context.prefix)
        if annotations:
            write_out(annotations)


def explain(report: object, code: int) -> None:
    from ..model import EvalReport

    assert isinstance(report, EvalReport)
    console = err_console()
    errors = [r for r in report.results if r.status == "error"]
    if errors:
        first = errors[0]
        console.print(
            f"error: {count(len(errors), 'task')} ended in error; first: "
            f"{first.suite}:{first.case} ({first.model}): {first.error}",
            markup=False,
        )
    missing = [r for r in errors if r.error_kind == "replay_miss"]
    if missing:
        console.print(
            "missing recordings: "
            + ", ".join(f"{r.suite}:{r.case} ({r.model})" for r in missing[:20])
            + (" ..." if len(missing) > 20 else "")
            + "\n  hint: record them with `promptops eval --record` with the providers' keys set",
            markup=False,
        )
    regressed = [c for c in report.cases if c.baseline == "regressed"]
    failed = "✗ a gate failed"
    if any(s.incomplete for s in report.suites):
        failed = "✗ incomplete: runs are missing, which is never a pass"
    elif report.passed and regressed:  # the gates held: --fail-on regression failed the run
        failed = f"✗ {count(len(regressed), 'case')} regressed against {report.baseline}"
    verdict = {
        0: "✓ all gates passed" if report.suites else "✓ nothing was evaluated",
        1: failed,
        2: "✗ bad input",
        3: "✗ provider errors",
        130: "partial results kept; run the same command to resume",
    }[code]
    console.print(verdict)
