"""`promptops eval`: run eval suites and gate on them."""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from ..evaluate.engine import Planned
    from ..model import EvalReport

from ..wording import count
from . import skip_collections_at_exit
from .common import RepoOption, err_console, note, open_project, out_console, repo_prefix, root_of, write_out

# Objects made between two collections of the youngest generation during the calls (Python's default is 700):
# every call leaves a result, its checks and the connection's objects, and a 10,000-case run otherwise spends
# a tenth of its CPU time in hundreds of collections.
YOUNG_OBJECTS = 10_000


def eval_suites(
    ids: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[IDS]...",
            help="Suites or prompts to run (default: all); a suite of prompt variants runs every variant "
            "(SUITE@VARIANT runs one).",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            help="Run against these named models instead of each prompt's route (repeatable: a matrix, "
            "with a row and a gate per suite and model).",
        ),
    ] = None,
    routes: Annotated[
        str, typer.Option("--routes", help="primary, or all: also every fallback model and the kill-switch answer.")
    ] = "primary",
    repeat: Annotated[int | None, typer.Option("--repeat", min=1, help="Runs per case (overrides the suites).")] = None,
    concurrency: Annotated[int | None, typer.Option("--concurrency", "-j", min=1, help="Calls in flight.")] = None,
    rpm: Annotated[int | None, typer.Option("--rpm", min=1, help="Most requests per minute per model.")] = None,
    max_cost: Annotated[
        float | None,
        typer.Option("--max-cost", min=0, help="Stop making calls past this cost (USD; every model needs a price)."),
    ] = None,
    no_cache: Annotated[
        bool,
        typer.Option(
            "--no-cache",
            help="Call the models instead of answering from the response cache; the fresh answers still replace "
            "the cached ones, so a later run reuses the newest.",
        ),
    ] = False,
    record: Annotated[bool, typer.Option("--record", help="Call the providers and write evals/recordings/.")] = False,
    replay: Annotated[
        bool, typer.Option("--replay", help="Answer only from evals/recordings/ (offline, no keys).")
    ] = False,
    baseline: Annotated[
        str | None,
        typer.Option(
            "--baseline",
            help="Also run the cases at this git revision and classify every case (regressed, fixed, ...), "
            "paired by suite, case and role, never by model name.",
        ),
    ] = None,
    fail_on: Annotated[
        str | None,
        typer.Option("--fail-on", help="regression: exit 1 when a case that passed at the baseline fails now."),
    ] = None,
    changed_since: Annotated[
        str | None,
        typer.Option(
            "--changed-since",
            help="Only suites whose prompt, partials, route, eval file, datasets or pinned sources changed "
            "since this revision.",
        ),
    ] = None,
    shard_spec: Annotated[
        str | None, typer.Option("--shard", help="Run shard K of N (K/N); join with `promptops report merge`.")
    ] = None,
    output: Annotated[
        list[Path] | None,
        typer.Option(
            "--output",
            "-o",
            help="Write a report (.json, .xml = JUnit, .md = Markdown, .html = a page to open offline; repeatable).",
            dir_okay=False,
        ),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="json, junit, markdown or html: the report format on stdout "
            "(or for --output files without a known extension).",
        ),
    ] = None,
    repo: RepoOption = None,
) -> int:
    """Run eval suites: render each case, call the routed model (cached), check the answer, gate on thresholds.

    A case with no assertion is unchecked (neither a pass nor a failure); a suite with runs missing is
    incomplete, never a pass.

    Exit 0 when every suite meets its gates, 1 when one does not (or is incomplete), 2 for bad
    input (a file that does not load, no suites, a missing recording with --replay, --max-cost with
    an unpriced model), 3 when provider errors remain after retries (a judge that does not answer
    its JSON included) or a provider asks to wait past eval.max_retry_wait, 130 when interrupted.
    """
    from ..errors import InputError

    if record and replay:
        raise InputError("--record and --replay exclude each other")
    if fail_on not in (None, "regression"):
        raise InputError(f"unknown --fail-on {fail_on!r}", hint="use --fail-on regression")
    if fail_on and not baseline:
        raise InputError("--fail-on regression needs --baseline REV")
    if routes not in ("primary", "all"):
        raise InputError(f"unknown --routes {routes!r}", hint="use primary or all")
    from ..report.results import FORMATS, format_of

    if fmt is not None and fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}", hint=f"use one of: {', '.join(FORMATS)}")
    kinds = [(path, format_of(path, fmt)) for path in output or []]  # before any call is made
    if not replay:
        from ..evaluate import prefetch_http

        prefetch_http(root_of(repo))  # before importing the engine, which the HTTP client's import overlaps
    from ..evaluate import parses_kept
    from ..evaluate.engine import Evaluation, Settings
    from ..evaluate.runner import Options

    progress = _Progress()
    # Freezing is left alone when the caller froze objects of its own: unfreezing ours would unfreeze them too.
    freeze = gc.get_freeze_count() == 0
    # Loading and planning make objects that live for the whole run; a long suite is parsed once, not every run.
    with _collector_paused(freeze), parses_kept(root_of(repo)):
        root, source, snapshot = open_project(repo, strict=True)
        if not snapshot.suites:
            raise InputError(
                f"nothing to evaluate: no eval suites under {snapshot.config.evals_dir or 'the repository root'}/",
                hint="add a suite such as evals/NAME.yaml with `prompt:` and `cases:` (see `promptops schema eval`)",
            )
        options = Options.from_config(
            snapshot.config.eval_defaults, concurrency=concurrency, rpm=rpm, max_cost=max_cost, use_cache=not no_cache
        )
        settings = Settings(
            suites=ids or (),
            models=model or (),
            all_routes=routes == "all",
            repeat=repeat,
            shard=_parse_shard(shard_spec),
            mode="record" if record else "replay" if replay else "live",
            baseline=baseline,
            changed_since=changed_since,
            options=options,
        )
        planned = Evaluation(
            root, source, snapshot, settings, dict(os.environ), on_result=progress.advance, on_warning=note
        ).plan()
    threshold = gc.get_threshold()
    gc.set_threshold(YOUNG_OBJECTS, *threshold[1:])
    try:
        context = _Context(repo_prefix(root), fail_on == "regression", planned.messages)
        return _run(planned, progress, kinds, fmt, context, freeze)
    finally:
        gc.set_threshold(*threshold)
        if freeze:
            gc.unfreeze()  # what loading froze may be collected again (for a caller that goes on running)
            skip_collections_at_exit()  # the console script's exit; a program calling main() keeps its own


def _run(
    planned: Planned,
    progress: _Progress,
    kinds: list[tuple[Path, str]],
    fmt: str | None,
    context: _Context,
    freeze: bool,
) -> int:
    """Make the calls, write the reports and the summary; the exit code."""
    from ..evaluate.engine import exit_code

    evaluation = planned.evaluation
    if evaluation.settings.changed_since and not planned.head:
        note(f"no eval suite is affected by changes since {evaluation.settings.changed_since}; nothing to run")
    progress.start(planned.total)
    _import_writers(kind for _, kind in kinds)
    try:
        report = planned.run().report
    finally:
        progress.stop()
    with _collector_paused(freeze):  # the reports' text is made of plain values, many, in no cycle
        _emit(report, kinds, fmt, context)
    code = exit_code(report, fail_on_regression=context.fail_on_regression)
    _explain(report, code)
    return code


@contextlib.contextmanager
def _collector_paused(freeze: bool) -> Iterator[None]:
    """Run the block without the cyclic garbage collector, then freeze what it made (when `freeze`).

    Loading a suite of 10,000 cases and planning it make hundreds of thousands of objects, kept for the run,
    and next to no garbage in cycles: each collection during the block (hundreds of them) would scan them again,
    and every full collection of the run after it too. Frozen, they are not scanned until the command
    ends; the calls, which do make cycles, run with the collector back on."""
    enabled = gc.isenabled()  # a caller that disabled it gets it back disabled
    gc.disable()
    try:
        yield
        if freeze:
            gc.freeze()
    finally:
        if enabled:
            gc.enable()


def _parse_shard(spec: str | None) -> tuple[int, int] | None:
    from ..errors import InputError

    if spec is None:
        return None
    k, sep, n = spec.partition("/")
    if not (sep and k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        raise InputError(f"--shard {spec!r} is not K/N with 1 <= K <= N", hint="e.g. --shard 2/4")
    return int(k), int(n)


class _Context:
    """What the writers need besides the report: the project's path in the repository, the gate policy and the
    rendered messages of each case (for the HTML report only: gathered, and redacted, when one is written)."""

    def __init__(self, prefix: str, fail_on_regression: bool, messages: Callable[[], dict[Any, Any]]) -> None:
        self.prefix, self.fail_on_regression, self._messages = prefix, fail_on_regression, messages

    @functools.cached_property
    def messages(self) -> dict[Any, Any]:
        return self._messages()


def _import_writers(kinds: Iterable[str]) -> None:
    """Import what writes the reports and the summary table on a background thread while the calls are made
    (about 40 ms, which the time after the last answer no longer includes). Any failure is left for `_emit`."""
    modules = ["rich.table", "rich.text", "promptops.report.results"]
    modules += [f"promptops.report.{_WRITER_MODULES[k]}" for k in dict.fromkeys(kinds) if k in _WRITER_MODULES]

    def load() -> None:
        import importlib

        with contextlib.suppress(Exception):
            for name in modules:
                importlib.import_module(name)

    threading.Thread(target=load, name="promptops-report-import", daemon=True).start()


_WRITER_MODULES = {"junit": "junit", "markdown": "markdown", "html": "results_html"}  # json: report.results


def _emit(report: EvalReport, outputs: list[tuple[Path, str]], fmt: str | None, context: _Context) -> None:
    from rich.table import Table
    from rich.text import Text

    from ..report import results as writers

    def render(kind: str) -> str:
        messages = context.messages if kind == "html" else None
        return writers.render(kind, report, messages=messages, fail_on_regression=context.fail_on_regression)

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


def _explain(report: object, code: int) -> None:
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


class _Progress:
    """A progress bar on a terminal; nothing when stderr is not one."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.task: Any = None

    def start(self, total: int) -> None:
        import sys

        if not sys.stderr.isatty() or total == 0:
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
        self.task = bar.add_task("eval", total=total)
        self.bar = bar

    def advance(self, _: object) -> None:
        if self.bar is not None:
            self.bar.advance(self.task)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
