"""`promptops eval` as a function: plan, run (resuming an interrupted run), summarise, gate."""

from __future__ import annotations

import asyncio
import difflib
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from .. import digest, loader, routing
from ..errors import InputError
from ..model import (
    CaseSummary,
    EvalReport,
    ModelSpec,
    Prompt,
    Snapshot,
    Suite,
    SuiteSummary,
    TaskResult,
)
from ..providers import Provider
from ..providers import get as get_provider
from ..redaction import Redactor, key_names
from ..render import Renderer
from ..workspace import Source, open_source
from . import overrides as overrides_file
from . import prefetch_http, recordings
from .plan import KILL_SWITCH, Task, case_jobs, job_tasks, plan, select_suites, shard
from .planned import Planned, Prefetch
from .runner import Options, Runner
from .store import STATE_FILE, Store
from .summary import RowKey, apply_overrides, cell_of, pair, rows, summarize_cases, summarize_suite

if TYPE_CHECKING:
    from ..report.results_json import ResultTexts


@dataclass
class Settings:
    suites: Sequence[str] = ()
    models: Sequence[str] = ()
    all_routes: bool = False
    repeat: int | None = None
    shard: tuple[int, int] | None = None
    mode: str = "live"  # live | replay | record
    baseline: str | None = None
    changed_since: str | None = None
    options: Options = field(default_factory=Options)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _digest(obj: object) -> str:
    return digest.key_of(obj, default=str)


def suite_digest(suite: Suite) -> str:
    data = asdict(suite)
    data.pop("lines", None)
    data.pop("problems", None)
    for case in data["cases"]:
        case.pop("line", None)
        for a in case["asserts"]:
            a.pop("line", None)
    return _digest(data)


def affected_suites(
    base: Snapshot, head: Snapshot, base_source: Source | None = None, head_source: Source | None = None
) -> set[str]:
    """Suites whose eval file, datasets, prompt, partials, pinned sources or resolved route differ between two
    snapshots (the files behind datasets and sources are compared when the sources are given)."""
    base_r, head_r = Renderer(base), Renderer(head)
    out = set()
    for sid, suite in head.suites.items():
        old = base.suites.get(sid)
        prompt, old_prompt = head.prompts.get(suite.prompt), base.prompts.get(suite.prompt)
        if (
            old is None
            or prompt is None
            or old_prompt is None
            or suite_digest(old) != suite_digest(suite)
            or head_r.fingerprint(prompt) != base_r.fingerprint(old_prompt)
            or routing.resolve(head.routing, prompt).as_dict() != routing.resolve(base.routing, old_prompt).as_dict()
        ):
            out.add(sid)
        elif base_source is not None and head_source is not None:
            evals = (base.config.evals_dir, head.config.evals_dir)
            if _inputs(base_source, old_prompt, old, evals[0]) != _inputs(head_source, prompt, suite, evals[1]):
                out.add(sid)
    return out


def _inputs(source: Source, prompt: Prompt, suite: Suite, evals_dir: str) -> dict[str, str]:
    """Content hashes of the files a suite's verdicts depend on beyond its own file: the documents its prompt
    pins (`sources`) and its datasets."""
    paths = {path for pattern in prompt.sources for path in source.glob(pattern)}
    paths |= {f"{evals_dir}/{d}" if evals_dir else d for d in suite.datasets}
    out = {}
    for path in sorted(paths):
        data = source.read(path)
        out[path] = digest.hex_of(data) if data is not None else "missing"
    return out


def _fail_on_problems(snapshot: Snapshot, suites: Sequence[Suite]) -> None:
    """Errors never pass: any file that failed to load (a suite, dataset, prompt, partial, the routing file or
    promptops.yaml, whichever suites run) stops the run with lint's message, as does a suite whose prompt
    does not exist. A broken prompt may be the one a suite meant; a broken routing file would pass as
    "no model serves"."""
    for p in snapshot.problems:
        if p.severity == "error":
            raise InputError(p.message, file=p.file or None, line=p.line or None, hint=p.hint or None)
    for suite in suites:
        if suite.prompt not in snapshot.prompts:
            close = difflib.get_close_matches(suite.prompt, list(snapshot.prompts), n=1)
            raise InputError(
                f"suite targets unknown prompt {suite.prompt!r}",
                file=suite.path,
                line=suite.line_of("prompt"),
                hint=f"did you mean {close[0]!r}?" if close else "run `promptops list` to see the prompt ids",
            )


@dataclass(frozen=True)
class Outcome:
    """What a run produced: the report, and the baseline's own runs (a case-by-case comparison needs them)."""

    report: EvalReport
    base_results: tuple[TaskResult, ...] = ()


class Evaluation:
    """One eval over a project root: `plan()` returns the tasks, whose `run()` makes the calls."""

    def __init__(
        self,
        root: Path,
        source: Source,
        snapshot: Snapshot,
        settings: Settings,
        env: Mapping[str, str],
        on_result: Callable[[TaskResult], None] | None = None,
        on_warning: Callable[[str], None] | None = None,
        texts: ResultTexts | None = None,
        on_calls_done: Callable[[], None] | None = None,
        on_planned: Callable[[], None] | None = None,
    ) -> None:
        self.root, self.source, self.snapshot, self.settings = root, source, snapshot, settings
        self.env = env
        self.on_result = on_result
        self.texts = texts  # a JSON report's text of each result, made as the results arrive (when one is written)
        self.on_calls_done = on_calls_done  # called once the calls are over (or interrupted), before the report
        # Called once the last case is planned, when that happens during the run (`Planned.feed`); a plan made
        # whole before the run is whole when `plan()` returns.
        self.on_planned = on_planned
        self.on_warning = on_warning
        self.base_snapshot: Snapshot | None = None  # the --changed-since revision
        self.baseline: tuple[Source, Snapshot] | None = None  # the --baseline revision
        self.redactor = Redactor.from_config(snapshot.config.redaction, env, key_names(snapshot))

    def plan(self) -> Planned:
        """The tasks at HEAD and at the baseline, filtered by --changed-since and --shard; nothing is called yet."""
        s, snap = self.settings, self.snapshot
        if s.mode != "replay":
            prefetch_http(self.root)  # with no cache yet, every call is made: the import overlaps the planning
        if s.models and s.all_routes:
            # A matrix has a row per model of the primary role; a drill's fallbacks and kill switch have no row.
            raise InputError(
                "--model (a matrix of primary models) and --routes all (a drill of each route's fallback chain) "
                "do not combine",
                hint="run the matrix and the fallback drill as two evals",
            )
        suites = select_suites(snap, s.suites)
        if s.changed_since:
            since = open_source(self.root, s.changed_since)
            self.base_snapshot = loader.load(since)
            changed = affected_suites(self.base_snapshot, snap, since, self.source)
            suites = [x for x in suites if x.id in changed]
        _fail_on_problems(snap, suites)
        # Files read after the calls are checked before them: a broken one must not waste a run.
        overrides_file.read_all(self.source, snap.config.evals_dir)
        if s.mode == "record":  # `--replay` reads them all first anyway
            recordings.read_all(self.source, snap.config.evals_dir)
        jobs = case_jobs(snap, suites, models=s.models, repeat=s.repeat)
        base: list[Task] = []
        if s.baseline:
            base_source = open_source(self.root, s.baseline)
            base_snap = loader.load(base_source)
            self.baseline = (base_source, base_snap)
            overrides_file.read_all(base_source, base_snap.config.evals_dir)  # the base's, checked before any call
            base_suites = [base_snap.suites[x.id] for x in suites if x.id in base_snap.suites]
            base = [
                replace(t, scope="base")
                for t in plan(base_snap, base_suites, models=s.models, all_routes=s.all_routes, repeat=s.repeat)
            ]
        if s.shard:
            jobs, base = shard(jobs, *s.shard), shard(base, *s.shard)
        renderer = Renderer(snap)
        planned = Planned(
            self, jobs, lambda job: job_tasks(snap, renderer, job, models=s.models, all_routes=s.all_routes), base
        )
        # A project without a results store yet has nothing to resume and no answer cached: its run starts its
        # first calls while the later cases are planned. Otherwise every task is planned first (a resumed run
        # and the cache look up the whole plan).
        if (self.root / STATE_FILE).exists():
            planned.plan_all()
        if s.options.max_cost is not None and s.mode != "replay":
            _refuse_unpriced(snap, (*planned.head, *base))
        return planned

    def _providers(self) -> Callable[[ModelSpec], Provider]:
        """The provider of each model, made when the first call needs it: a warm re-run, answered by the cache,
        makes none (nor imports their modules)."""
        made: dict[str, Provider] = {}
        if self.settings.mode == "replay":  # the recordings are read (and refused when broken) before any call
            made["live"] = get_provider("replay")(recordings.read_all(self.source, self.snapshot.config.evals_dir))

        def provider_of(model: ModelSpec) -> Provider:
            role = "fallback" if model is KILL_SWITCH or model.name == KILL_SWITCH.name else "live"
            if role not in made:
                made[role] = get_provider("fallback")() if role == "fallback" else get_provider("litellm")(env=self.env)
            return made[role]

        return provider_of

    def _run(self, planned: Planned) -> Outcome:
        started, t0 = _now(), time.perf_counter()
        store = Store(self.root / STATE_FILE, warn=self.on_warning)
        try:
            return self._run_with(store, planned, started, t0)
        finally:
            store.close()  # writes the results still pending, whatever stopped the run

    def _run_with(self, store: Store, planned: Planned, started: str, t0: float) -> Outcome:
        s = self.settings
        # A recording is made of fresh answers, and a replay reads recordings only: neither reads the cache.
        options = replace(s.options, use_cache=s.options.use_cache and s.mode == "live", record=s.mode == "record")
        runner = Runner(
            snapshot=self.snapshot,
            store=store,
            provider_for=self._providers(),
            options=options,
            redactor=self.redactor,
            env=self.env,
            root=self.root,
            on_result=self.on_result,
            texts=self.texts,
            on_wait=self.on_warning,
        )
        if planned.planning:
            # A new store: no run to resume, no answer cached. The run's plan is kept once its last case is planned
            # (until then the run is resumable by no plan; every answer it wrote is in the cache all the same).
            run_id = digest.hex_of(f"{started}{time.time_ns()}")[:16]
            store.start(run_id, "", self.snapshot.label, started)
            prefetch = Prefetch(s.mode != "replay")
            prefetch.add(planned.base)

            def whole() -> None:
                store.plan(run_id, planned.plan_id())
                if self.on_planned is not None:
                    self.on_planned()

            planned.follow(prefetch.add, whole)
            done: Mapping[str, TaskResult] = {}
        else:
            tasks = (*planned.head, *planned.base)
            if s.mode != "replay" and not (options.use_cache and _all_cached(store, tasks)):
                Prefetch(True).add(tasks)
            plan_id = planned.plan_id()
            run_id = store.resumable(plan_id) or digest.hex_of(f"{plan_id}{started}{time.time_ns()}")[:16]
            store.start(run_id, plan_id, self.snapshot.label, started)
            done = store.results(run_id)
        interrupted = False
        head_results: list[TaskResult] = []
        base_results: list[TaskResult] = []
        try:
            head_results, base_results = asyncio.run(self._run_both(runner, planned, run_id, done))
        except KeyboardInterrupt:
            interrupted = True
            finished = store.results(run_id)
            head_results = [finished[t.uid] for t in planned.head if t.uid in finished]
            base_results = [finished[t.uid] for t in planned.base if t.uid in finished]
        if self.on_calls_done is not None:
            self.on_calls_done()
        if s.mode == "record" and runner.recorded:
            recordings.write(self.root, self.snapshot.config.evals_dir, runner.recorded, self.redactor)
        report = self.report(
            planned.head, head_results, base_results, started, time.perf_counter() - t0, interrupted, run_id
        )
        if not interrupted:
            store.finish(run_id, _now())
        return Outcome(report, tuple(base_results))

    async def _run_both(
        self, runner: Runner, planned: Planned, run_id: str, done: Mapping[str, TaskResult]
    ) -> tuple[list[TaskResult], list[TaskResult]]:
        h, b, _ = await asyncio.gather(
            runner.run(planned.feed(), run_id, done), runner.run(planned.base, run_id, done), planned.plan_ahead()
        )
        return h, b

    def report(
        self,
        head: Sequence[Task],
        head_results: Sequence[TaskResult],
        base_results: Sequence[TaskResult],
        started: str,
        duration: float,
        interrupted: bool,
        run_id: str,
    ) -> EvalReport:
        dims = ("model",) if self.settings.models else ()
        overrides = overrides_file.read_all(self.source, self.snapshot.config.evals_dir)
        results = apply_overrides(head_results, overrides)
        cases = summarize_cases(results, dims)
        removed: list[CaseSummary] = []
        base_rows: tuple[SuiteSummary, ...] = ()
        if self.baseline is not None:
            base_source, base_snap = self.baseline
            # The base side is judged with the overrides it shipped with, as it was released.
            based = apply_overrides(base_results, overrides_file.read_all(base_source, base_snap.config.evals_dir))
            base_cases = summarize_cases(based, dims)
            cases, removed = pair(base_cases, cases)
            base_rows = _rows(base_snap, base_cases, based, duration, dims, None)
        planned = Counter((t.suite.id, cell_of(_task_axes(t, dims)) if dims else ()) for t in head)
        suites = _rows(self.snapshot, cases, results, duration, dims, planned)
        shard_label = f"{self.settings.shard[0]}/{self.settings.shard[1]}" if self.settings.shard else None
        return EvalReport(
            run_id=run_id,
            project=self.snapshot.config.project or self.root.name,
            label=self.snapshot.label,
            started=started,
            finished=_now(),
            suites=suites,
            cases=tuple(sorted(cases, key=sort_key)),
            results=tuple(results),
            baseline=self.settings.baseline,
            interrupted=interrupted,
            shard=shard_label,
            axes=dims,
            removed=tuple(sorted(removed, key=sort_key)),
            base_suites=base_rows,
        )


def sort_key(c: CaseSummary) -> tuple[str, str, str, str, str]:
    return (c.suite, c.case, str(cell_of(c.axes)), c.variant, c.model)


def _task_axes(task: Task, dims: Sequence[str]) -> dict[str, str]:
    values = {"model": task.model.name}
    return {d: values[d] for d in dims}


def _rows(
    snapshot: Snapshot,
    cases: Sequence[CaseSummary],
    results: Sequence[TaskResult],
    duration: float,
    dims: Sequence[str],
    planned: Mapping[RowKey, int] | None,
) -> tuple[SuiteSummary, ...]:
    """A row per suite, or per (suite, cell) in a matrix: the planned rows, and any row that has results."""
    keys = rows([*(planned or {}), *((c.suite, cell_of(c.axes)) for c in cases)])
    return tuple(
        summarize_suite(
            snapshot.suites[sid], cases, results, duration, dict(cell), planned.get((sid, cell), 0) if planned else None
        )
        for sid, cell in keys
        if sid in snapshot.suites
    )


def _all_cached(store: Store, tasks: Sequence[Task]) -> bool:
    """Whether every request is answered by the cache, read in bulk (the runner then finds them in memory)."""
    keys = {t.key for t in tasks if t.request}
    return store.preload(keys) == len(keys)


def _refuse_unpriced(snapshot: Snapshot, tasks: Sequence[Task]) -> None:
    """A cost budget cannot stop what it cannot count: every model a run calls (the judge too, when a case asks
    for it) needs a price, or the run is refused before any call."""
    from ..providers import litellm as litellm_provider

    models = {t.model.name: t.model for t in tasks if t.request is not None and t.model is not KILL_SWITCH}
    judge = routing.judge(snapshot.routing)
    if judge is not None and any(a.type == "llm-rubric" for t in tasks for a in t.asserts):
        models.setdefault(judge.name, judge)
    missing = litellm_provider.unpriced(models[n] for n in sorted(models))
    if missing:
        first = missing[0]
        names = ", ".join(f"{m.name!r} ({m.model})" for m in missing)
        raise InputError(
            f"--max-cost (or eval.max_cost) cannot be kept: no price is known for model{'s' * (len(missing) > 1)} "
            f"{names}, so its calls would count as free",
            file=snapshot.routing.path,
            line=first.line or None,
            hint=f"give {first.name!r} a price in {snapshot.routing.path}: "
            "`price: {input_per_mtok: 0.15, output_per_mtok: 0.6}` (USD per million tokens), or run without --max-cost",
        )


def exit_code(report: EvalReport, fail_on_regression: bool = False) -> int:
    """130 interrupted; 2 input errors; 3 provider errors; 1 a gate failed (or a regression); 0 otherwise."""
    if report.interrupted:
        return 130
    kinds = {r.error_kind for r in report.results if r.status == "error"}
    if kinds & {"input", "check", "replay_miss"}:
        return 2
    if kinds:
        return 3
    if not report.passed:
        return 1
    if fail_on_regression and any(c.baseline == "regressed" for c in report.cases):
        return 1
    return 0
