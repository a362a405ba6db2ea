"""`promptops eval`: run eval suites and gate on them."""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from ..evaluate.planned import Planned
    from ..model import TaskResult

from . import skip_collections_at_exit
from .common import RepoOption, note, open_project, repo_prefix, root_of
from .eval_output import Context, ProgressBar, emit, explain, import_writers

# Objects made (and not yet freed) between two collections of the youngest generation during the calls
# (Python's default is 700): results, checks and the connections' objects are freed by reference counting or
# kept for the report, and next to none are garbage in cycles. At 700 a 10,000-case run spent a tenth of its CPU
# time in hundreds of collections; at 10,000 it still made a dozen (0.04 s warm, 0.07 s cold) that found at
# most a few hundred objects; at 100,000 it makes none.
YOUNG_OBJECTS = 100_000


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
    from ..report.results import FORMATS, ResultTexts, format_of

    if fmt is not None and fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}", hint=f"use one of: {', '.join(FORMATS)}")
    kinds = [(path, format_of(path, fmt)) for path in output or []]  # before any call is made
    if not replay:
        from ..evaluate import prefetch_http

        prefetch_http(root_of(repo))  # before importing the engine, which the HTTP client's import overlaps
    from ..evaluate import parses_kept
    from ..evaluate.engine import Evaluation, Settings
    from ..evaluate.runner import Options

    progress = ProgressBar()
    paused = _PausedWhilePlanning()
    # A JSON report's results are written as they arrive, while the other calls are in flight (see ResultTexts).
    texts = ResultTexts() if "json" in {kind for _, kind in kinds} or (fmt == "json" and not kinds) else None
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
            root,
            source,
            snapshot,
            settings,
            dict(os.environ),
            # The report writers are imported on a thread once the first answer is in: by then every first
            # request has left, and the import no longer holds them back (it shares the interpreter).
            on_result=_first_then(lambda: import_writers(kind for _, kind in kinds), progress.advance),
            on_warning=note,
            texts=texts,
            on_calls_done=gc.disable,  # the report is then built of plain values, in no cycle (see _run)
            # A plan made while the first calls are in flight is frozen once whole, as one made before them is, and
            # the collector, paused while it is made (see _run), goes on.
            on_planned=paused.planned if freeze else None,
        ).plan()
    threshold = gc.get_threshold()
    gc.set_threshold(YOUNG_OBJECTS, *threshold[1:])
    try:
        context = Context(repo_prefix(root), fail_on == "regression", planned.messages, texts)
        return _run(planned, progress, kinds, fmt, context, freeze, paused)
    finally:
        gc.set_threshold(*threshold)
        if freeze:
            gc.unfreeze()  # what loading froze may be collected again (for a caller that goes on running)
            skip_collections_at_exit()  # the console script's exit; a program calling main() keeps its own


def _run(
    planned: Planned,
    progress: ProgressBar,
    kinds: list[tuple[Path, str]],
    fmt: str | None,
    context: Context,
    freeze: bool,
    paused: _PausedWhilePlanning,
) -> int:
    """Make the calls, write the reports and the summary; the exit code."""
    from ..evaluate.engine import exit_code

    evaluation = planned.evaluation
    if evaluation.settings.changed_since and not planned.cases:
        note(f"no eval suite is affected by changes since {evaluation.settings.changed_since}; nothing to run")
    progress.start(lambda: planned.known_total)
    enabled = gc.isenabled()  # the engine pauses the collector once the calls are over (`on_calls_done`)
    if freeze and planned.planning:
        paused.start()
    try:
        try:
            report = planned.run().report
        finally:
            progress.stop()
        # The collector, paused once the calls are over, stays paused while the reports are written (their text is
        # made of plain values, many, in no cycle): turned on between the two, it collected the report just built,
        # 100,000 young objects (50 ms of a 10,000-case run).
        with _collector_paused(freeze):
            emit(report, kinds, fmt, context)
    finally:
        if enabled:
            gc.enable()
    code = exit_code(report, fail_on_regression=context.fail_on_regression)
    explain(report, code)
    return code


class _PausedWhilePlanning:
    """The collector paused while a plan is made during the first calls (a new project): the plan's objects live
    for the run, about 200,000 for 10,000 cases, and a collection while they were young scanned them all (60 ms).
    Once the plan is whole they are frozen, as a plan made before the calls is, and the collector goes on."""

    def __init__(self) -> None:
        self.paused = False

    def start(self) -> None:
        if gc.isenabled():
            gc.disable()
            self.paused = True

    def planned(self) -> None:
        gc.freeze()
        if self.paused:
            self.paused = False
            gc.enable()


def _first_then(first: Callable[[], None], each: Callable[[TaskResult], None]) -> Callable[[TaskResult], None]:
    """`each(result)` for every result, and `first()` once, before the first."""
    pending = [first]

    def on_result(result: TaskResult) -> None:
        while pending:
            pending.pop()()
        each(result)

    return on_result


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
