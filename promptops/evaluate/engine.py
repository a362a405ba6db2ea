"""`promptops eval` as a function: plan, run (resuming an interrupted run), summarise, gate."""

from __future__ import annotations

import asyncio
import difflib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from .. import digest, loader, routing
from ..errors import InputError
from ..model import EvalReport, ModelSpec, Snapshot, Suite, TaskResult
from ..providers import Provider, ProviderRequest
from ..providers import get as get_provider
from ..redaction import Redactor
from ..render import Renderer
from ..workspace import Source, open_source
from . import overrides as overrides_file
from . import recordings
from .plan import KILL_SWITCH, Task, plan, select_suites, shard
from .runner import Options, Runner
from .store import STATE_FILE, Store
from .summary import apply_overrides, pair, summarize_cases, summarize_suite


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


def affected_suites(base: Snapshot, head: Snapshot) -> set[str]:
    """Suites whose eval file, prompt, partials or resolved route differ between two snapshots."""
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
    return out


def _plan_id(tasks: Sequence[Task]) -> str:
    return _digest([(t.key, t.suite.id, t.case.id, t.variant, repr(t.asserts), t.error) for t in tasks])


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
    ) -> None:
        self.root, self.source, self.snapshot, self.settings = root, source, snapshot, settings
        self.env = env
        self.on_result = on_result
        self.on_warning = on_warning
        self.base_snapshot: Snapshot | None = None
        named = [m.api_key_env for m in snapshot.routing.models.values() if m.api_key_env]
        self.redactor = Redactor.from_config(snapshot.config.redaction, env, named)

    def plan(self) -> Planned:
        """The tasks at HEAD and at the baseline, filtered by --changed-since and --shard; nothing is called yet."""
        s, snap = self.settings, self.snapshot
        suites = select_suites(snap, s.suites)
        if s.changed_since:
            self.base_snapshot = loader.load(open_source(self.root, s.changed_since))
            changed = affected_suites(self.base_snapshot, snap)
            suites = [x for x in suites if x.id in changed]
        _fail_on_problems(snap, suites)
        # Files read after the calls are checked before them: a broken one must not waste a run.
        overrides_file.read_all(self.source, snap.config.evals_dir)
        if s.mode == "record":  # `--replay` reads them all first anyway
            recordings.read_all(self.source, snap.config.evals_dir)
        head = plan(snap, suites, models=s.models, all_routes=s.all_routes, repeat=s.repeat)
        base: list[Task] = []
        if s.baseline:
            base_snap = loader.load(open_source(self.root, s.baseline))
            base_suites = [base_snap.suites[x.id] for x in suites if x.id in base_snap.suites]
            base = [
                replace(t, scope="base")
                for t in plan(base_snap, base_suites, models=s.models, all_routes=s.all_routes, repeat=s.repeat)
            ]
        if s.shard:
            head, base = shard(head, *s.shard), shard(base, *s.shard)
        if s.options.max_cost is not None and s.mode != "replay":
            _refuse_unpriced(snap, (*head, *base))
        return Planned(self, tuple(head), tuple(base))

    def _providers(self) -> Callable[[ModelSpec], Provider]:
        mode = self.settings.mode
        fallback = get_provider("fallback")()
        if mode == "replay":
            live: Provider = get_provider("replay")(recordings.read_all(self.source, self.snapshot.config.evals_dir))
        else:
            live = get_provider("litellm")(env=self.env)

        def provider_of(model: ModelSpec) -> Provider:
            return fallback if model is KILL_SWITCH or model.name == KILL_SWITCH.name else live

        return provider_of

    def _run(self, head: Sequence[Task], base: Sequence[Task]) -> Outcome:
        started, t0 = _now(), time.perf_counter()
        s = self.settings
        store = Store(self.root / STATE_FILE, warn=self.on_warning)
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
            on_wait=self.on_warning,
        )
        if (
            s.mode != "replay"
            and any(t.request is not None and t.model is not KILL_SWITCH for t in (*head, *base))
            and not (options.use_cache and all(store.get(t.key) for t in (*head, *base) if t.request))
        ):
            _prefetch_litellm([t.request for t in (*head, *base) if t.request and t.model is not KILL_SWITCH])
        plan_id = _plan_id((*head, *base))
        run_id = store.resumable(plan_id) or digest.hex_of(f"{plan_id}{started}{time.time_ns()}")[:16]
        store.start(run_id, plan_id, self.snapshot.label, started)
        done = store.results(run_id)
        interrupted = False
        head_results: list[TaskResult] = []
        base_results: list[TaskResult] = []
        try:
            head_results, base_results = asyncio.run(self._run_both(runner, head, base, run_id, done))
        except KeyboardInterrupt:
            interrupted = True
            finished = store.results(run_id)
            head_results = [finished[t.uid] for t in head if t.uid in finished]
            base_results = [finished[t.uid] for t in base if t.uid in finished]
        if s.mode == "record" and runner.recorded:
            recordings.write(self.root, self.snapshot.config.evals_dir, runner.recorded, self.redactor)
        report = self.report(head, head_results, base_results, started, time.perf_counter() - t0, interrupted, run_id)
        if not interrupted:
            from ..report.results import to_json

            store.finish(run_id, _now(), to_json(report))
        store.close()
        return Outcome(report, tuple(base_results))

    async def _run_both(
        self, runner: Runner, head: Sequence[Task], base: Sequence[Task], run_id: str, done: Mapping[str, TaskResult]
    ) -> tuple[list[TaskResult], list[TaskResult]]:
        h, b = await asyncio.gather(runner.run(head, run_id, done), runner.run(base, run_id, done))
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
        overrides = overrides_file.read_all(self.source, self.snapshot.config.evals_dir)
        results = apply_overrides(head_results, overrides)
        cases = summarize_cases(results)
        if self.settings.baseline:
            cases, removed = pair(summarize_cases(base_results), cases)
            cases = cases + removed
        suites_run = sorted({t.suite.id for t in head})
        summaries = tuple(summarize_suite(self.snapshot.suites[sid], cases, results, duration) for sid in suites_run)
        shard_label = f"{self.settings.shard[0]}/{self.settings.shard[1]}" if self.settings.shard else None
        return EvalReport(
            run_id=run_id,
            project=self.snapshot.config.project or self.root.name,
            label=self.snapshot.label,
            started=started,
            finished=_now(),
            suites=summaries,
            cases=tuple(sorted(cases, key=lambda c: (c.suite, c.case, c.model, c.variant))),
            results=tuple(results),
            baseline=self.settings.baseline,
            interrupted=interrupted,
            shard=shard_label,
        )


@dataclass(frozen=True)
class Planned:
    """An eval's planned tasks, made by `Evaluation.plan()`; `run()` calls the models and returns the outcome."""

    evaluation: Evaluation
    head: tuple[Task, ...]
    base: tuple[Task, ...]

    @property
    def total(self) -> int:
        return len(self.head) + len(self.base)

    def run(self) -> Outcome:
        """Run every task (resuming an interrupted run of the same plan), then summarise and gate."""
        return self.evaluation._run(self.head, self.base)


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


def _prefetch_litellm(requests: Sequence[ProviderRequest]) -> None:
    """Start importing litellm in the background, so it overlaps the rest of the start-up, when a call needs it
    (OpenAI-compatible models are called without it)."""
    from ..providers import litellm as litellm_provider

    if any(litellm_provider.needs_litellm(r) for r in requests):
        litellm_provider.prefetch()
    else:
        litellm_provider.native.prefetch()  # its HTTP client only


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
