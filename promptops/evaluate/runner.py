"""Running tasks: asyncio with bounded concurrency, a per-model request rate, retries with backoff and
jitter that honour Retry-After, a cost budget, the response cache, and a result written as each task ends."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import random
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sized
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import checks
from ..formats import parse_json
from ..model import CheckResult, Message, ModelSpec, Prompt, Snapshot, TaskResult
from ..providers import Completion, Provider, ProviderError, ProviderRequest
from ..redaction import Redactor
from .options import BACKOFF_BASE, MAX_RETRY_WAIT, Options  # noqa: F401 (also imported from here)
from .plan import Task
from .store import Store

if TYPE_CHECKING:
    from ..report.results_json import ResultTexts

BACKOFF_CAP = 20.0
SCRUB_MEMO_CHARS = 2000  # texts up to this long have their scrubbed form remembered, ...
SCRUB_MEMO_SIZE = 20_000  # ... this many at most (then forgotten, and remembered anew)
NOTICE_WAIT = 5.0  # waits at least this long are announced through on_wait
JUDGE_SYSTEM = (
    "You grade an AI answer against a rubric. Reply with a JSON object only: "
    '{"score": <number from 0 to 1>, "reason": "<one sentence>"}. Score 1 means the answer fully meets the rubric.'
)


@dataclass
class Recorded:
    """A completion made during a run, for --record: the answer and what it answered."""

    key: str
    suite: str
    case: str
    variant: str
    model: str
    completion: Completion


@dataclass
class Runner:
    """Runs the tasks of one eval. Providers are chosen per model by `provider_for`."""

    snapshot: Snapshot
    store: Store | None
    provider_for: Callable[[ModelSpec], Provider]
    options: Options
    redactor: Redactor = field(default_factory=Redactor)
    env: Mapping[str, str] = field(default_factory=dict)
    root: Path | None = None
    on_result: Callable[[TaskResult], None] | None = None
    on_wait: Callable[[str], None] | None = None
    texts: ResultTexts | None = None  # when a JSON report is written: each result's text, made as it arrives
    spent: float = 0.0
    calls: int = 0
    recorded: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._sem = asyncio.Semaphore(max(1, self.options.concurrency))
        self._last_start: dict[str, float] = {}
        self._pacing: dict[str, asyncio.Lock] = {}
        self._inflight: dict[str, asyncio.Future[Completion]] = {}
        self._random = random.Random(self.options.seed)
        self._scrubbed: dict[tuple[str, str], str] = {}

    # -- the public entry ------------------------------------------------------------------------------------
    async def run(self, tasks: Iterable[Task], run_id: str | None, done: Mapping[str, TaskResult]) -> list[TaskResult]:
        """Results in task order; tasks already in `done` (a resumed run) are not run again.

        A pool of workers takes the tasks in order (twice `concurrency` of them, so the calls in flight stay at
        the bound while some workers check answers or wait on a shared request), rather than one coroutine per
        task made up front; each result goes to the store as it ends. `tasks` may be planned as they are taken
        (`Planned.feed`): a worker taking the next task plans it then."""
        results: dict[int, TaskResult] = {}
        queue = enumerate(tasks)

        async def worker() -> None:
            for index, task in queue:  # one shared iterator: each worker takes the next task
                uid = task.uid
                if uid in done:
                    results[index] = done[uid]
                    continue
                result = await self.run_task(task)
                # A JSON report's text of the result, made now (while other calls are in flight), with the one-line
                # text the store keeps, rather than encoding the result a second time.
                line = self.texts.add(result) if self.texts is not None else None
                if self.store is not None and run_id is not None:
                    self.store.record(run_id, uid, result, line)
                if self.on_result is not None:
                    self.on_result(result)
                results[index] = result

        bound = 2 * max(1, self.options.concurrency)
        workers = min(len(tasks), bound) if isinstance(tasks, Sized) else bound
        clock = asyncio.create_task(self._flush_clock()) if self.store is not None else None
        try:
            await asyncio.gather(*(worker() for _ in range(workers)))
        finally:
            if clock is not None:
                clock.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await clock  # a write that failed on the clock raises here
        return [results[i] for i in sorted(results)]

    async def _flush_clock(self) -> None:
        """Write finished results that have waited a batch's time, even while no new result arrives."""
        assert self.store is not None
        while True:
            await asyncio.sleep(self.store.batch_seconds / 2)
            self.store.flush_due()

    async def run_task(self, task: Task) -> TaskResult:
        if task.error is not None or task.request is None:
            return self._failed(task, self.scrub(task.error or "task could not be planned", "error"), "input")
        try:
            completion, cached = await self.complete(task.request, task.retries, task)
        except ProviderError as exc:
            return self._failed(task, self.scrub(str(exc), "error"), exc.kind)
        obs = checks.Observation(
            output=completion.text,
            prompt=task.prompt or _NO_PROMPT,
            vars=task.vars,
            latency_ms=completion.latency_ms,
            cost=completion.cost,
            root=self.root,
        )
        judged: list[Completion] = []  # the judge's calls for this task count in its tokens and cost
        judge_errors: list[ProviderError] = []

        async def judge(rubric: str, output: str, variables: Mapping[str, Any]) -> tuple[float, str]:
            try:
                return await self.judge(rubric, output, variables, judged)
            except ProviderError as exc:
                judge_errors.append(exc)  # a provider failure, not a failed check: keep its kind
                if exc.answer is not None:  # a judge's answer refused as malformed was still paid for
                    judged.append(exc.answer)
                raise

        results = [self._kept(r) for r in await checks.run_checks(task.asserts, obs, judge)]
        status, score = checks.verdict(results)
        if not results:  # nothing to check (no assertion, or none marked for the kill switch): never a pass
            status, score = "unchecked", 0.0
        costs = [c.cost for c in (completion, *judged) if c.cost is not None]
        kept = self.scrub(completion.text)
        # With redaction on, even a hash of the raw answer is not kept: a short answer could be guessed from it.
        hashed = kept if self.redactor.settings.modes.get("output") in ("redact", "hash") else completion.text
        return TaskResult(
            suite=task.suite.id,
            case=task.case.id,
            repeat=task.repeat,
            model=task.model.name,
            variant=task.variant,
            key=task.key,
            status=status,
            output=kept,
            checks=tuple(results),
            score=score,
            latency_ms=completion.latency_ms,
            prompt_tokens=completion.prompt_tokens + sum(c.prompt_tokens for c in judged),
            completion_tokens=completion.completion_tokens + sum(c.completion_tokens for c in judged),
            cost=sum(costs) if costs else None,
            cached=cached,
            output_hash=output_hash(hashed),
            error_kind=(judge_errors[0].kind if judge_errors else "check") if status == "error" else None,
            error=(
                f"the judge failed: {self.scrub(str(judge_errors[0]), 'error')}"
                if judge_errors
                else "an assertion could not run"
            )
            if status == "error"
            else None,
        )

    @staticmethod
    def _failed(task: Task, error: str, kind: str) -> TaskResult:
        return TaskResult(
            suite=task.suite.id,
            case=task.case.id,
            repeat=task.repeat,
            model=task.model.name,
            variant=task.variant,
            key=task.key,
            status="error",
            error=error,
            error_kind=kind,
        )

    def _kept(self, result: CheckResult) -> CheckResult:
        """A check's result with its reason as it may be kept (the same object when scrubbing changes nothing)."""
        reason = self.scrub(result.reason)
        return result if reason == result.reason else replace(result, reason=reason)

    # -- provider calls --------------------------------------------------------------------------------------
    async def complete(
        self,
        request: ProviderRequest,
        retries: int,
        task: Task | None,
        accept: Callable[[Completion], object] | None = None,
    ) -> tuple[Completion, bool]:
        """A completion from the cache, or from the provider with retries. Returns (completion, from cache).

        `accept` raises ProviderError for an answer that is no use (a judge's that is not its JSON): such an
        answer is neither cached nor taken from the cache."""
        key = task.key if task is not None else request.key()  # a task's key is its request's, made once
        if self.options.use_cache and self.store is not None:
            hit = self.store.get(key)
            if hit is not None and accept is not None:
                try:
                    accept(hit)
                except ProviderError:
                    hit = None  # cached before answers were checked: ask again
            if hit is not None:
                self._remember(key, task, request.model, hit)
                return hit, True
        if self.options.use_cache and key in self._inflight:
            # The same request is already on its way for another case: share its answer.
            completion = await asyncio.shield(self._inflight[key])
            self._remember(key, task, request.model, completion)
            return completion, True
        future: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            completion = await self._fetch(key, request, retries, task, accept)
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when no one else waits
            raise
        except BaseException:
            future.cancel()  # cancelled or interrupted: whoever shares it is cancelled too
            raise
        finally:
            self._inflight.pop(key, None)
        future.set_result(completion)
        return completion, False

    async def _fetch(
        self,
        key: str,
        request: ProviderRequest,
        retries: int,
        task: Task | None,
        accept: Callable[[Completion], object] | None,
    ) -> Completion:
        provider = self.provider_for(request.model)
        if provider.name == "litellm":
            request = replace(request, api_key=self._api_key(request.model))
        if self.options.timeout is not None and self.options.timeout < request.timeout:
            request = replace(request, timeout=self.options.timeout)  # not part of the key: same answer
        attempt = 0
        while True:
            try:
                completion = await self._call(provider, request)
                break
            except ProviderError as exc:
                if not exc.retryable or attempt >= retries:
                    if attempt:
                        exc.message = f"{exc.message} (after {attempt + 1} attempts)"
                    raise
                await self._wait(request.model, exc, self._backoff(attempt, exc.retry_after))
                attempt += 1
        if accept is not None:
            try:
                accept(completion)
            except ProviderError as exc:
                exc.answer = completion  # the call was made: its tokens and cost are the task's all the same
                raise
        if self.store is not None and provider.name == "litellm":
            # Only live answers are cached: a recording or a fallback must never pass for a model's answer later.
            kept = self.scrub(completion.text)
            self.store.put(key, completion if kept == completion.text else replace(completion, text=kept))
        self._remember(key, task, request.model, completion)
        return completion

    async def _call(self, provider: Provider, request: ProviderRequest) -> Completion:
        if provider.name == "fallback":
            return await provider.complete(request)
        await provider.ready(request)
        async with self._sem:
            # Checked once a slot is free: the calls in flight are what may still add to the spend.
            if self.options.max_cost is not None and self.spent >= self.options.max_cost:
                raise ProviderError(
                    "budget",
                    f"cost budget of {self.options.max_cost:g} reached; no new calls are made",
                    hint="raise --max-cost, or run fewer suites",
                )
            await self._pace(request.model)
            started = time.perf_counter()
            self.calls += 1
            keeps_time = getattr(provider, "keeps_time", None)  # a provider whose call ends by its own deadline
            try:
                if keeps_time is not None and keeps_time(request):
                    completion = await provider.complete(request)
                else:  # a net under any other: no call holds its slot much past its timeout
                    completion = await _within(provider.complete(request), request.timeout * 1.5 + 1)
            except asyncio.TimeoutError:
                raise ProviderError(
                    "timeout", f"{request.model.name} did not answer within {request.timeout:g} s"
                ) from None
        self.spent += completion.cost or 0.0
        if not completion.latency_ms:
            completion = replace(completion, latency_ms=(time.perf_counter() - started) * 1000)
        return completion

    async def _pace(self, model: ModelSpec) -> None:
        """At most `rpm` request starts per minute for each model: starts are spaced by 60/rpm seconds measured
        from the previous start as it happened, so a stalled event loop never releases a burst of late starts."""
        if not self.options.rpm:
            return
        interval = 60.0 / self.options.rpm
        async with self._pacing.setdefault(model.name, asyncio.Lock()):
            last = self._last_start.get(model.name)
            if last is not None and (wait := last + interval - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            self._last_start[model.name] = time.monotonic()

    async def _wait(self, model: ModelSpec, exc: ProviderError, seconds: float) -> None:
        """Sleep before a retry; a provider asking for more than `max_retry_wait` fails the task instead of
        silently holding the run for an hour."""
        cap = self.options.max_retry_wait
        if exc.retry_after is not None and exc.retry_after > cap:
            exc.message = (
                f"{exc.message}; the provider asked to wait {exc.retry_after:g} s before retrying, "
                f"more than the {cap:g} s promptops waits"
            )
            exc.hint = "run again later, or raise `eval: {max_retry_wait: SECONDS}` in promptops.yaml"
            raise exc
        if seconds >= NOTICE_WAIT and self.on_wait is not None:
            self.on_wait(f"{model.name}: {exc.kind.replace('_', ' ')}; waiting {seconds:.0f} s before retrying")
        await asyncio.sleep(seconds)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return max(0.0, retry_after) + self._random.uniform(0, 0.05)
        return min(BACKOFF_CAP, self.options.backoff_base * (2**attempt)) * self._random.uniform(0.5, 1.5)

    def _api_key(self, model: ModelSpec) -> str | None:
        if not model.api_key_env:
            return None
        value = self.env.get(model.api_key_env)
        if not value:
            raise ProviderError(
                "auth",
                f"{model.api_key_env} is not set (needed by model {model.name!r})",
                hint=f"export {model.api_key_env}=..., or run with --replay to use recordings",
            )
        return value

    def _remember(self, key: str, task: Task | None, model: ModelSpec, completion: Completion) -> None:
        if self.options.record and model.name != "kill-switch":
            self.recorded.append(
                Recorded(
                    key=key,
                    suite=task.suite.id if task else "",
                    case=task.case.id if task else "",
                    variant=task.variant if task else "judge",
                    model=model.name,
                    completion=completion,
                )
            )

    # -- the judge for llm-rubric ----------------------------------------------------------------------------
    async def judge(
        self, rubric: str, output: str, variables: Mapping[str, Any], calls: list[Completion] | None = None
    ) -> tuple[float, str]:
        spec = self.snapshot.routing.models.get(self.snapshot.routing.judge or "")
        if spec is None:
            raise ProviderError("bad_request", "llm-rubric needs `judge:` in routing.yaml naming a model")
        user = f"Rubric:\n{rubric}\n\nAnswer to grade:\n{output}"
        request = ProviderRequest(
            model=spec,
            messages=(Message("system", JUDGE_SYSTEM), Message("user", user)),
            params={"temperature": 0},
            response_format=None if spec.structured_output == "none" else {"type": "json_object"},
            timeout=self.snapshot.routing.timeout,
        )
        completion, _ = await self.complete(
            request,
            self.snapshot.routing.retries,
            None,
            lambda c: judge_verdict(spec, c.text, self.snapshot.routing.path),
        )
        if calls is not None:
            calls.append(completion)
        return judge_verdict(spec, completion.text, self.snapshot.routing.path)

    def scrub(self, text: str, kind: str = "output") -> str:
        """Text as it may be kept: keys always removed, then the project's redaction for this kind of field.

        Remembered for short texts: a run scrubs the same check reasons thousands of times, and each answer
        twice (for the cache, then for the result); scrubbing depends only on the text and the kind."""
        if len(text) > SCRUB_MEMO_CHARS:
            return self.redactor.text(text, kind) or ""
        memo = self._scrubbed
        kept = memo.get((kind, text))
        if kept is None:
            if len(memo) >= SCRUB_MEMO_SIZE:
                memo.clear()
            kept = memo[(kind, text)] = self.redactor.text(text, kind) or ""
        return kept


_NO_PROMPT = Prompt(id="", path="", body="")


def judge_verdict(spec: ModelSpec, text: str, routing_file: str) -> tuple[float, str]:
    """The judge's score (clamped to 0..1) and reason; an answer that is not the JSON it was asked for is the
    provider misbehaving (exit 3), not bad input."""
    try:
        data = parse_json(text)
        score = float(data["score"])
        if not math.isfinite(score):  # NaN would clamp to a full score below
            raise ValueError("not a finite score")
    except (ValueError, KeyError, TypeError):
        shown = text if len(text) <= 300 else text[:297] + "..."
        raise ProviderError(
            "malformed",
            f"the judge {spec.name!r} ({spec.model}) did not answer with the JSON object it was asked for "
            f'({{"score": 0..1, "reason": "..."}}); it answered {shown!r}',
            hint=f"set `judge:` in {routing_file} to a model that follows instructions and answers JSON "
            "(or check that model's `structured_output`)",
        ) from None
    return max(0.0, min(1.0, score)), str(data.get("reason", ""))


if sys.version_info >= (3, 11):

    async def _within(call: Awaitable[Completion], seconds: float) -> Completion:
        """The call's answer, or asyncio.TimeoutError after `seconds` (without a task of its own per call)."""
        async with asyncio.timeout(seconds):
            return await call

else:  # pragma: no cover - Python 3.10

    async def _within(call: Awaitable[Completion], seconds: float) -> Completion:
        return await asyncio.wait_for(call, timeout=seconds)


def output_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
