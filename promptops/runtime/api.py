"""`load()` and the `Runtime` it returns: what an application calls to run what an environment runs.

Thread- and asyncio-safe by construction: what is served is one immutable `Served` behind one reference. A
reload builds and verifies the new one aside and swaps the reference between calls; a call reads the reference
once, so it finishes on the release it started with. A background thread checks the origin every
`reload_interval` seconds (a stat of the export file, or reading the ledger ref); `refresh()` checks at once.
A new bundle that does not verify is refused with a warning and the last good one keeps serving.

`run()` is for threaded code: the calls go to one event loop on a thread of the runtime's own, so every
thread shares one connection pool. `arun()` is for asyncio code and runs on the caller's loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Hashable, Mapping
from concurrent.futures import CancelledError, Future
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from .. import digest
from ..errors import InputError, PromptopsError, UnavailableError
from ..providers import Provider
from ..redaction import Redactor
from . import calls, telemetry
from .results import AnsweredBy, PromptKilled, Rendered, Result
from .sources import ExportFile, LedgerEnvironment, Origin
from .state import Served, Trust, build

log = logging.getLogger("promptops.runtime")
DEFAULT_RELOAD = 3.0


class Runtime:
    """An environment's release, served. Create it with `promptops.load(...)`."""

    def __init__(
        self,
        origin: Origin,
        *,
        reload_interval: float | None,
        audit: Any,
        on_failure: Literal["fallback", "raise"],
        environ: Mapping[str, str],
        provider: Provider | None,
        trust: Trust = Trust(),
    ) -> None:
        if on_failure not in ("fallback", "raise"):
            raise ValueError("on_failure is 'fallback' or 'raise'")
        self.origin = origin
        self.on_failure = on_failure
        self.environ = environ
        self.audit = audit
        self.trust = trust
        self.last_error: str | None = None  # why the newest bundle was refused, while the last good one serves
        self._refused: Hashable = None
        self._provider = provider
        self._lock = threading.Lock()  # one reload at a time; calls never take it
        self._seen: Hashable = origin.fingerprint()
        self._current: tuple[Served, Redactor] = self._build()  # swapped whole: one reference, one release
        self._closed = False
        self._loop_lock = threading.Lock()
        self._stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watcher: threading.Thread | None = None
        if reload_interval:
            self._watcher = threading.Thread(
                target=self._watch, args=(reload_interval,), name="promptops-reload", daemon=True
            )
            self._watcher.start()

    # -- what is served ----------------------------------------------------------------------------------
    @property
    def served(self) -> Served:
        return self._current[0]

    @property
    def environment(self) -> str:
        return self.served.environment

    @property
    def version(self) -> str:
        return self.served.version

    @property
    def digest(self) -> str:
        return self.served.digest

    @property
    def killed(self) -> frozenset[str]:
        return frozenset(self.served.killed)

    def refresh(self) -> bool:
        """Check the origin now; True when a new bundle was loaded."""
        with self._lock:
            seen = self.origin.fingerprint()
            if seen == self._seen:
                return False
            try:
                served, redactor = self._build()
            except PromptopsError as exc:
                if self.last_error is None or seen != self._refused:
                    log.warning(
                        "promptops: kept %s %s; refused the new bundle: %s", self.environment, self.version, exc
                    )
                self.last_error, self._refused = str(exc), seen
                return False
            self._current, self._seen, self.last_error = (served, redactor), seen, None
            log.info("promptops: %s now serves %s (%s)", served.environment, served.version, served.digest)
            return True

    def _build(self) -> tuple[Served, Redactor]:
        data, where = self.origin.read()
        served = build(data, environment=self.origin.environment, origin=where, trust=self.trust)
        named = [m.api_key_env for r in served.routes.values() for m in (r.model, *r.fallbacks) if m and m.api_key_env]
        return served, Redactor.from_config(served.redaction, self.environ, named)

    def _watch(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.refresh()
            except Exception as exc:  # the watcher must outlive any failure; the last good bundle serves
                log.warning("promptops: reload check failed: %s", exc)

    # -- rendering ---------------------------------------------------------------------------------------
    def render(self, prompt_id: str, variables: Mapping[str, Any] | None = None) -> Rendered:
        """The messages, parameters and resolved route of a prompt, for applications that call models themselves."""
        served = self.served
        messages = served.render(prompt_id, variables or {})
        route = served.routes[prompt_id]
        return Rendered(
            prompt=prompt_id,
            messages=[m.as_dict() for m in messages],
            params=dict(route.params),
            route=route.as_dict(),
            response_format=calls.response_format(served.prompt(prompt_id), route.model),
            killed=prompt_id in served.killed,
            version=served.version,
            digest=served.digest,
        )

    # -- running -----------------------------------------------------------------------------------------
    def run(self, prompt_id: str, variables: Mapping[str, Any] | None = None) -> Result:
        """`arun` for threaded code: waits for the answer."""
        if self._closed:
            raise UnavailableError("this runtime is closed", hint="load the environment again")
        future: Future[Result] = asyncio.run_coroutine_threadsafe(self.arun(prompt_id, variables), self._calls_loop())
        try:
            return future.result()
        except CancelledError:
            raise UnavailableError("the runtime was closed while the call ran", hint="load it again") from None

    async def arun(self, prompt_id: str, variables: Mapping[str, Any] | None = None) -> Result:
        """Render, call the routed model and its fallbacks, or answer with the fallback template; audit-logged."""
        started = time.perf_counter()
        if self._closed:
            raise UnavailableError("this runtime is closed", hint="load the environment again")
        served, redactor = self._current  # this call keeps the release (and its redaction) it started with
        values = _json_values(variables)
        prompt = served.prompt(prompt_id)
        base: dict[str, Any] = {"prompt": prompt_id, "environment": served.environment, "release": served.version}
        base["digest"] = served.digest
        used: dict[str, str] = {}  # the pinned documents this call read (path -> digest), for the audit record
        base["sources"] = used
        if prompt_id in served.killed:
            if prompt.fallback is None:
                error = PromptKilled(
                    f"{prompt_id!r} is killed in {served.environment or 'this bundle'} and has no fallback answer",
                    hint=f"revive it: promptops revive {prompt_id} --env {served.environment or 'ENV'} --reason TEXT",
                )
                self._record(base, values, None, "kill-switch", started, redactor, error=str(error))
                raise error
            text = served.fallback_text(prompt, values, used)
            data = calls.check_output(prompt, text)[1]
            return self._finish(base, values, text, "kill-switch", started, redactor, data=data)
        messages, read = served.render_traced(prompt_id, values)
        used.update(read)
        route = served.routes[prompt_id]
        chain = [m for m in (route.model, *route.fallbacks) if m is not None]
        attempts: list[calls.Attempt] = []
        try:
            answer = await calls.answer(
                self.provider,
                prompt,
                chain,
                messages,
                route.params,
                timeout=route.timeout,
                retries=route.retries,
                keys=self.environ,
                attempts=attempts,
            )
        except calls.AllModelsFailed as exc:
            errors = tuple(redactor.error(f"{a.model}: {a.error}") for a in attempts)
            if self.on_failure == "raise" or prompt.fallback is None:
                exc.message = redactor.error(exc.message)  # it may quote the answer: what is shown is redacted
                exc.attempts = tuple(replace(a, error=redactor.error(a.error)) for a in exc.attempts)
                self._record(base, values, None, "fallback-template", started, redactor, errors=errors, error=str(exc))
                raise
            text = served.fallback_text(prompt, values, used)
            data = calls.check_output(prompt, text)[1]
            return self._finish(base, values, text, "fallback-template", started, redactor, errors=errors, data=data)
        errors = tuple(redactor.error(f"{a.model}: {a.error}") for a in attempts)
        c = answer.completion
        return self._finish(
            base,
            values,
            c.text,
            "primary" if answer.position == 0 else "fallback",
            started,
            redactor,
            errors=errors,
            model=answer.model.model,
            data=answer.data,
            usage=(c.prompt_tokens, c.completion_tokens, c.cost),
        )

    @property
    def provider(self) -> Provider:
        if self._provider is None:
            from ..providers import get

            self._provider = get("litellm")(env=self.environ)
        return self._provider

    def _finish(
        self,
        base: Mapping[str, Any],
        values: Mapping[str, Any],
        text: str,
        answered_by: AnsweredBy,
        started: float,
        redactor: Redactor,
        *,
        errors: tuple[str, ...] = (),
        model: str | None = None,
        data: Any = None,
        usage: tuple[int, int, float | None] = (0, 0, None),
    ) -> Result:
        latency = calls.elapsed_ms(started)
        record_id = self._record(
            base, values, text, answered_by, started, redactor, errors=errors, model=model, usage=usage
        )
        return Result(
            text=text,
            prompt=base["prompt"],
            answered_by=answered_by,
            model=model,
            data=data,
            latency_ms=latency,
            prompt_tokens=usage[0],
            completion_tokens=usage[1],
            cost=usage[2],
            record_id=record_id,
            environment=base["environment"],
            version=base["release"],
            digest=base["digest"],
            errors=errors,
        )

    def _record(
        self,
        base: Mapping[str, Any],
        values: Mapping[str, Any],
        text: str | None,
        answered_by: AnsweredBy,
        started: float,
        redactor: Redactor,
        *,
        errors: tuple[str, ...] = (),
        error: str | None = None,
        model: str | None = None,
        usage: tuple[int, int, float | None] = (0, 0, None),
    ) -> str | None:
        traced = telemetry.tracer() is not None
        if self.audit is None and not traced:
            return None
        latency = calls.elapsed_ms(started)
        record = {
            **base,
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "model": model,
            "answered_by": answered_by,
            "latency_ms": latency,
            "prompt_tokens": usage[0],
            "completion_tokens": usage[1],
            "cost": usage[2],
            "error": redactor.error(error) if error else None,
            "attempts": list(errors),
            "inputs": redactor.value(dict(values), "inputs"),
            "output": redactor.text(text, "output") if text is not None else None,
        }
        record_id: str | None = self.audit.append(record) if self.audit is not None else None
        if traced:
            ended = time.time_ns()
            telemetry.emit(record, record_id=record_id, started_ns=ended - int(latency * 1e6), ended_ns=ended)
        return record_id

    def _calls_loop(self) -> asyncio.AbstractEventLoop:
        with self._loop_lock:  # not the reload lock: a slow reload must not hold up calls
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="promptops-calls", daemon=True).start()
                self._loop = loop
            return self._loop

    # -- lifetime ----------------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop watching for reloads, end the calls still running (their `run()` raises) and close connections."""
        self._closed = True
        self._stop.set()
        with self._loop_lock:
            loop, self._loop = self._loop, None
        if loop is not None:
            asyncio.run_coroutine_threadsafe(_cancel_others(), loop).result(timeout=5)
            closer = getattr(self._provider, "aclose", None)
            if closer is not None:
                asyncio.run_coroutine_threadsafe(closer(), loop).result(timeout=5)
            loop.call_soon_threadsafe(loop.stop)
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        closing = getattr(self.audit, "close", None)
        if callable(closing):
            closing()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _cancel_others() -> None:
    """Cancel every task of the running loop but this one."""
    current = asyncio.current_task()
    for task in asyncio.all_tasks():
        if task is not current:
            task.cancel()


def _json_values(variables: Mapping[str, Any] | None) -> dict[str, Any]:
    """The variables of a call, refused before any model is called unless they are JSON values (the audit record
    and the cache key are JSON)."""
    values = dict(variables or {})
    try:
        digest.canonical_json(values)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"the variables must be JSON values (strings, numbers, booleans, null, lists, objects): {exc}",
            hint="convert the value first, e.g. str() or float()",
        ) from None
    return values


def load(
    env: str | None = None,
    *,
    repo: str | Path = ".",
    bundle: str | Path | None = None,
    reload_interval: float | None = DEFAULT_RELOAD,
    audit: str | Path | Any | None = None,
    on_failure: Literal["fallback", "raise"] = "fallback",
    environ: Mapping[str, str] | None = None,
    provider: Provider | None = None,
    require_signature: bool = False,
    allowed_signers: str | Path | None = None,
    hmac_key_env: str | None = None,
) -> Runtime:
    """Load what an environment runs and keep following it.

    `load(env="production", repo=".")` reads the environment's release and kill list from the repository's
    ledger; `load(bundle="bundle.json")` serves a file written by `promptops export` (no git needed; `env`
    then only labels the audit records). Both refuse a bundle that does not verify. `reload_interval`
    (seconds; None or 0 to never reload) is how often a promote, rollback, kill or revive is looked for.
    `audit` is the audit log directory (default: `audit.dir` of promptops.yaml in repo mode, `.promptops/audit`
    in the working directory with a bundle file), an object with `append(record) -> id`, or False for none.
    `on_failure="raise"` raises when every model fails instead of answering with the prompt's fallback.
    `environ` is where API keys and the redaction key are read (default `os.environ`).
    `require_signature` refuses a bundle that is not signed (`promptops export --sign`) by a key of
    `allowed_signers` (an SSH allowed-signers file) or with the HMAC key in the variable `hmac_key_env`.
    """
    environ = os.environ if environ is None else environ
    if env is None and bundle is None:
        raise ValueError("name what to load: load(env=..., repo=...) or load(bundle=...)")
    origin: Origin = (
        ExportFile(Path(bundle), env or "") if bundle is not None else LedgerEnvironment(Path(repo), str(env))
    )
    key = environ.get(hmac_key_env, "").encode("utf-8") if hmac_key_env else b""
    if hmac_key_env and not key:
        raise InputError(
            f"{hmac_key_env} is not set", hint=f"export {hmac_key_env}=<the HMAC key bundles are signed with>"
        )
    trust = Trust(require_signature, Path(allowed_signers) if allowed_signers else None, key or None)
    sink = _audit_sink(audit, origin)
    return Runtime(
        origin,
        reload_interval=reload_interval,
        audit=sink,
        on_failure=on_failure,
        environ=environ,
        provider=provider,
        trust=trust,
    )


def _audit_sink(audit: Any, origin: Origin) -> Any:
    if audit is False:
        return None
    if audit is not None and not isinstance(audit, (str, Path)):
        return audit  # anything with append(record) -> id
    from .audit import AuditLog

    if audit is not None:
        return AuditLog(Path(audit))
    if isinstance(origin, LedgerEnvironment):
        settings = origin.config.audit
        return AuditLog(settings.directory(origin.root), rotate_bytes=settings.rotate_bytes, fsync=settings.fsync)
    return AuditLog(Path(".promptops") / "audit")
