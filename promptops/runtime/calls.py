"""One live answer: the routed model, then its fallback chain, through the same provider seam as eval.

An application waits for this answer, so the policy differs from eval's: a model gets its route's `retries`
with short backoff (a `Retry-After` longer than `MAX_WAIT` moves on to the next model at once instead of
sleeping), and any failure of a model (provider error, timeout, an answer that breaks the prompt's output
schema) hands the call to the next model in the chain.
"""

from __future__ import annotations

import asyncio
import functools
import json
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..model import Message, ModelSpec, Prompt
from ..providers import Completion, Provider, ProviderError, ProviderRequest
from ..routing import response_format

MAX_WAIT = 2.0  # seconds a live call may wait before a retry of the same model
BACKOFF = 0.1


@dataclass(frozen=True)
class Attempt:
    """A model that did not answer, and why (the message is scrubbed by the caller before it is kept)."""

    model: str
    kind: str
    error: str


@dataclass(frozen=True)
class Answer:
    completion: Completion
    model: ModelSpec
    position: int  # 0 the routed model, n the n-th fallback
    data: Any  # the parsed JSON answer of a prompt with an output schema, else None


class AllModelsFailed(ProviderError):
    """Every model of the chain failed; `attempts` says how each did."""

    def __init__(self, prompt_id: str, attempts: Sequence[Attempt]) -> None:
        last = attempts[-1] if attempts else Attempt("", "not_found", "the prompt has no model")
        tried = ", ".join(a.model for a in attempts) or "none"
        super().__init__(
            last.kind,
            f"no model answered {prompt_id!r} (tried {tried}); last: {last.error}",
            hint="see the audit record for every attempt; kill the prompt to answer with its fallback",
        )
        self.attempts = tuple(attempts)


async def answer(
    provider: Provider,
    prompt: Prompt,
    chain: Sequence[ModelSpec],
    messages: Sequence[Message],
    params: Mapping[str, Any],
    *,
    timeout: float,
    retries: int,
    keys: Mapping[str, str],
    attempts: list[Attempt],
) -> Answer:
    """The first good answer along the chain; every failure is appended to `attempts`."""
    for position, model in enumerate(chain):
        # A key the environment lacks is the provider's to refuse (litellm: an `auth` error naming the variable).
        request = ProviderRequest(
            model=model,
            messages=tuple(messages),
            params=dict(params),
            response_format=response_format(prompt, model),
            timeout=timeout,
            api_key=keys.get(model.api_key_env) if model.api_key_env else None,
        )
        try:
            completion = await _with_retries(provider, request, retries)
        except ProviderError as exc:
            attempts.append(Attempt(model.name, exc.kind, exc.message))
            continue
        problem, data = check_output(prompt, completion.text)
        if problem is not None:
            attempts.append(Attempt(model.name, "output_schema", problem))
            continue
        return Answer(completion, model, position, data)
    raise AllModelsFailed(prompt.id, attempts)


async def _with_retries(provider: Provider, request: ProviderRequest, retries: int) -> Completion:
    attempt = 0
    while True:
        try:
            return await provider.complete(request)
        except ProviderError as exc:
            if not exc.retryable or attempt >= retries:
                raise
            wait = exc.retry_after if exc.retry_after is not None else BACKOFF * 2**attempt * random.uniform(1, 1.5)
            if wait > MAX_WAIT:
                raise
            attempt += 1
            await asyncio.sleep(wait)


@functools.lru_cache(maxsize=256)
def _output_validator(schema_text: str) -> Any:
    from .. import validation

    return validation.validator(json.loads(schema_text))


def check_output(prompt: Prompt, text: str) -> tuple[str | None, Any]:
    """(what is wrong, parsed answer): an answer must be JSON fitting the prompt's `output` schema, if it has one."""
    if prompt.output is None:
        return None, None
    try:
        data = json.loads(text)
    except ValueError as exc:
        return f"the answer is not JSON: {exc}", None
    from .. import validation
    from ..budget import OverBudget

    try:
        validator = _output_validator(json.dumps(prompt.output, sort_keys=True))
        error = validation.best_error(validator.iter_errors(data))
    except (validation.UnresolvableRef, OverBudget) as exc:
        return f"the answer could not be checked against the output schema: {exc}", None
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path)
        return f"the answer does not fit the output schema{f' at {where}' if where else ''}: {error.message}", None
    return None, data


def elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
