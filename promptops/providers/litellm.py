"""litellm behind the provider seam: every hosted and local model litellm knows.

The only module that imports litellm, and only when a call needs it: importing this module costs nothing.
litellm takes seconds to import, so `prefetch()` starts the import on a background thread and a caller can
overlap it with planning and cache lookups; `complete` waits for it. `LITELLM_LOCAL_MODEL_COST_MAP` is set before
the import so litellm never fetches its price list from the network.

Three routes
------------
An eval run makes thousands of calls with tens in flight, so once a provider answers in ~100 ms the CPU spent
per call sets the wall time, and a cold run pays litellm's import (2-3 s, most of a small run).
benchmarks/litellm_overhead.py (1,000 calls, 50 in flight, 100 ms latency, 2 cores) measured a bare
`litellm.acompletion` at 3.2-3.4 ms of CPU per call, the openai SDK at 1.3-1.7 ms, a bare aiohttp POST at
0.24 ms, and our own HTTP client (http1.py) at less than half of that. So:

* The native route (openai_compat.py), for `openai/<model>` on OpenAI or any OpenAI-compatible server (and
  bare OpenAI model names on OpenAI's endpoint) with the common parameters: promptops builds the request, maps
  the parameters and prices the call itself, from the price table litellm ships, and never imports litellm.
  tests/providers/test_openai_drift.py checks against litellm that the two cannot drift.
* The direct route, for other models litellm resolves to its OpenAI chat provider (the o-series and reasoning
  models, whose parameters litellm remaps): litellm builds the request (`get_optional_params`, the chat
  config's `transform_request`, `get_complete_url`, `validate_environment`) and prices it; the transport is
  the native route's HTTP client (http1.py).
* The litellm route, for every other provider, for parameters neither of the above knows, or with
  `direct=False`: `litellm.acompletion(..., num_retries=0)` (our engine retries).

Failures of every route become `ProviderError` with a kind and a message that keeps the provider's reason
whole and never contains the API key.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import gc
import importlib
import json
import logging
import os
import threading
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any

from .. import digest
from ..model import ModelSpec
from . import ENDPOINT_PARAMS, Completion, ProviderError, ProviderRequest, failures
from . import openai_compat as native
from .failures import Who, endpoint, one_line

# Parameters the direct route sends itself (mapped by litellm); anything else takes the litellm route.
DIRECT_PARAMS = frozenset(
    {
        "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed", "n", "presence_penalty",
        "frequency_penalty", "logit_bias", "logprobs", "top_logprobs", "user", "tools", "tool_choice",
        "parallel_tool_calls", "reasoning_effort", "verbosity", "service_tier", "store", "drop_params",
    }
)  # fmt: skip
# Set by us on every call; a params entry with one of these names would clash.
RESERVED = frozenset({"model", "messages", "api_base", "api_key", "timeout", "num_retries", "stream", "stream_options"})
# Sent as the key to a custom endpoint that no `api_key_env` is paired with: a value that is no secret, so that
# litellm does not fill the empty slot with the provider's default key from the process environment.
NO_KEY = "promptops-no-key"
# Providers that authenticate with credentials litellm takes from the environment or the machine (cloud
# identities, token files), not from `api_key`: a custom `api_base` would receive them. Such a model may only
# name an endpoint on its provider's own domains.
AMBIENT_CREDENTIALS: dict[str, tuple[str, ...]] = {
    "azure": (".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com"),
    "azure_text": (".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com"),
    "azure_ai": (".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com", ".models.ai.azure.com"),
    "vertex_ai": (".googleapis.com",),
    "vertex_ai_beta": (".googleapis.com",),
    "bedrock": (".amazonaws.com",),
    "bedrock_converse": (".amazonaws.com",),
    "sagemaker": (".amazonaws.com",),
    "sagemaker_chat": (".amazonaws.com",),
    "watsonx": (".cloud.ibm.com",),
    "watsonx_text": (".cloud.ibm.com",),
    "oci": (".oraclecloud.com",),
    "snowflake": (".snowflakecomputing.com",),
    "github_copilot": (".githubcopilot.com",),
}

_import_lock = threading.Lock()
_import: concurrent.futures.Future[ModuleType] | None = None


def prefetch() -> None:
    """Start importing litellm on a background thread. Idempotent; `complete` waits for it."""
    global _import
    with _import_lock:
        if _import is not None:
            return
        _import = concurrent.futures.Future()
    threading.Thread(target=_load, args=(_import,), name="promptops-litellm-import", daemon=True).start()


def _load(future: concurrent.futures.Future[ModuleType]) -> None:
    # The import creates ~370k long-lived objects. Collecting during it costs ~1 s of full collections, and at
    # exit another ~1.5 s; freezing them (once, after the import) takes them out of every later collection.
    enabled = gc.isenabled()
    gc.disable()
    try:
        os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # never fetch the price list
        module = importlib.import_module("litellm")  # not `import litellm`: keep mypy out of its 10^5 lines
        _configure(module)
    except BaseException as exc:  # handed to whoever waits, on their thread
        future.set_exception(exc)
    else:
        gc.freeze()  # before re-enabling, or the next collection walks all of them
        future.set_result(module)
    finally:
        if enabled:
            gc.enable()


def _configure(litellm: Any) -> None:
    """Quiet litellm: no banner on stdout per exception, no debug output, no prompts kept in logging."""
    litellm.suppress_debug_info = True
    litellm.set_verbose = False
    litellm.turn_off_message_logging = True
    litellm.disable_streaming_logging = True
    litellm.telemetry = False
    # Warnings such as "LoggingWorker: event loop changed" are litellm's bookkeeping, not the user's business;
    # failures reach the user as ProviderError.
    logging.getLogger("LiteLLM").setLevel(logging.ERROR)


async def _litellm() -> Any:
    if _import is None or not _import.done():
        prefetch()
        assert _import is not None
        await asyncio.wrap_future(_import)
    try:
        return _import.result()
    except ImportError as exc:
        raise ProviderError("bad_request", f"litellm could not be imported: {exc}", hint="reinstall promptops") from exc


@dataclass(frozen=True)
class _Route:
    """How calls to one model go through litellm, decided once per (model, api_base)."""

    label: str  # the model as configured, e.g. "openai/o3-mini"
    model: str  # the model name the provider knows
    provider: str
    api_base: str | None
    url: str | None  # set when the direct route applies
    config: Any  # litellm's chat config for the provider (direct route only)
    headers: Mapping[str, str]  # sent with every direct call, as litellm would
    rates: tuple[float, float] | None  # USD per prompt token, per completion token


_BODY = digest.encoding(json.JSONEncoder())  # `json.dumps` of a request body, as litellm sends it


class LitellmProvider:
    """Chat completions: natively for OpenAI-compatible models, through litellm for the rest.

    `env` is where API keys are looked up when a request carries none (callers pass os.environ; the core never
    reads it). `direct=False` sends every call through `litellm.acompletion`. `request.params` go out as given:
    merging model and route parameters is the engine's job. A model's `price` (routing.yaml) prices its calls
    whatever the route. `aclose()` closes the running loop's connection pool; `asyncio.run` does it anyway.
    """

    name = "litellm"

    def __init__(self, *, env: Mapping[str, str] | None = None, direct: bool = True) -> None:
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.direct = direct
        self._routes: dict[tuple[str, str | None], _Route] = {}
        self._plans: dict[tuple[str, str | None], native.Plan] = {}
        self._params: dict[tuple[str, str], dict[str, Any]] = {}
        self._transport = native.Transport(self.env)
        self._http_ready = False  # the HTTP client is imported

    def needs_litellm(self, request: ProviderRequest) -> bool:
        """Whether this call imports litellm (False: the native route takes it)."""
        return not self.direct or needs_litellm(request)

    def keeps_time(self, request: ProviderRequest) -> bool:
        """Whether this call ends by its own deadline, `request.timeout` (the native route's HTTP client holds
        the whole call to it), so the runner sets no timer of its own around it."""
        return not self.needs_litellm(request)

    async def ready(self, request: ProviderRequest | None = None) -> None:
        """Wait until litellm is imported when this call (or, without one, any call) needs it, so that request
        pacing and timeouts measure calls, not the import."""
        if request is None or self.needs_litellm(request):
            await _litellm()
        elif not self._http_ready:
            loading = native.prefetch()  # the HTTP client only
            if not loading.done():
                await asyncio.wrap_future(loading)
            loading.result()
            self._http_ready = True

    async def complete(self, request: ProviderRequest) -> Completion:
        variable = request.model.api_key_env
        if variable and not (request.api_key or self.env.get(variable)):  # said before paying for any import
            raise ProviderError(
                "auth",
                f"{variable} is not set (the API key of model {request.model.model!r})",
                hint=f"export {variable}=...",
            )
        refused = sorted(set(request.params) & ENDPOINT_PARAMS)
        if refused:
            raise ProviderError(
                "bad_request",
                f"parameter {refused[0]!r} of {request.model.name!r} would choose the endpoint or the credentials",
                hint="set api_base and api_key_env on the model in routing.yaml",
            )
        params = {k: v for k, v in request.params.items() if k not in RESERVED}
        if not self.needs_litellm(request):
            completion = await self._native(request, params)
        else:
            completion = await self._through_litellm(request, params)
        if request.model.price is not None:
            completion = _priced(completion, request.model.price.cost)
        return completion

    async def aclose(self) -> None:
        """Close the connection pool of the running event loop (also done when `asyncio.run` ends)."""
        await self._transport.aclose()

    # ------------------------------------------------------------------ keys

    def _api_key(self, request: ProviderRequest, provider: str) -> str | None:
        """The key this call may send, and to whom (see `guard_endpoint`).

        The request's key, else the model's `api_key_env`, else -- only for the provider's own endpoint -- the
        provider's usual `<PROVIDER>_API_KEY` (None lets litellm find it). A model with its own `api_base` and no
        `api_key_env` sends no key at all: on the litellm route `NO_KEY` stands in, because litellm reads the
        provider's default variable from the process environment whenever `api_key` is None.
        """
        variable = request.model.api_key_env
        if request.api_key or variable:  # `complete` has made sure that a named variable is set
            return request.api_key or self.env.get(str(variable))
        return None if request.model.api_base else self.env.get(f"{provider.upper()}_API_KEY")

    # ------------------------------------------------------------------ the native route

    async def _native(self, request: ProviderRequest, params: dict[str, Any]) -> Completion:
        spec = request.model
        plan = self._plans.get((spec.model, spec.api_base))
        if plan is None:
            plan = self._plans[(spec.model, spec.api_base)] = native.plan(spec.model, spec.api_base, self.env)
        key = self._api_key(request, "openai")
        started = time.perf_counter()
        data = _BODY(native.body(plan.name, request.messages, params, request.response_format)).encode()
        try:
            status, raw, headers = await self._transport.post(
                plan.url, data, native.headers(plan, key), request.timeout
            )
        except Exception as exc:
            who = Who(plan.label, spec.name, plan.api_base)
            raise failures.transport_error(exc, who, request.timeout, key) from exc
        if status != 200:
            who = Who(plan.label, spec.name, plan.api_base)
            raise failures.status_error(status, raw, headers, who, key, request.response_format)
        return native.parse(raw, plan.label, plan.rates, started, key)

    # ------------------------------------------------------------------ through litellm

    async def _through_litellm(self, request: ProviderRequest, params: dict[str, Any]) -> Completion:
        litellm = await _litellm()
        route = self._route(litellm, request.model.model, request.model.api_base)
        guard_endpoint(route.label, route.provider, request.model.api_base)
        key = self._api_key(request, route.provider)
        url = route.url if self.direct and params.keys() <= DIRECT_PARAMS else None
        who = Who(route.label, request.model.name, route.api_base)
        try:
            if url is not None:
                return await self._direct(litellm, route, url, request, params, key)
            return await self._via_litellm(litellm, route, request, params, key)
        except ProviderError:
            raise
        except Exception as exc:
            error = failures.litellm_error(litellm, exc, who, request.timeout, key)
            status, reason = failures.status_of(exc), str(exc).lower()
            raise failures.refused_schema(error, who, status, reason, request.response_format) from exc

    def _route(self, litellm: Any, model: str, api_base: str | None) -> _Route:
        route = self._routes.get((model, api_base))
        if route is None:
            route = self._routes[(model, api_base)] = self._resolve(litellm, model, api_base)
        return route

    def _resolve(self, litellm: Any, model: str, api_base: str | None) -> _Route:
        try:
            name, provider, _, resolved_base = litellm.get_llm_provider(model=model, api_base=api_base)
        except Exception as exc:
            raise ProviderError(
                "not_found",
                f"litellm does not know the provider of {model!r}: {one_line(exc)}",
                hint="write the model as provider/model, e.g. openai/gpt-4o-mini",
            ) from exc
        rates = None
        try:
            info = litellm.get_model_info(model=name, custom_llm_provider=provider)
            rates = (float(info["input_cost_per_token"] or 0), float(info["output_cost_per_token"] or 0))
        except Exception:  # a model litellm has no price for: cost unknown
            rates = None
        url, config, headers = None, None, {}
        if provider == "openai":
            config = litellm.ProviderConfigManager.get_provider_chat_config(
                model=name, provider=litellm.LlmProviders(provider)
            )
            base = (
                resolved_base
                or self.env.get("OPENAI_BASE_URL")
                or self.env.get("OPENAI_API_BASE")
                or native.OPENAI_BASE
            )
            url = config.get_complete_url(
                api_base=base, api_key=None, model=name, optional_params={}, litellm_params={}
            )
            resolved_base = base
            if self.env.get("OPENAI_ORGANIZATION"):
                headers["OpenAI-Organization"] = self.env["OPENAI_ORGANIZATION"]
        return _Route(model, name, provider, resolved_base, url, config, headers, rates)

    async def _direct(
        self, litellm: Any, route: _Route, url: str, request: ProviderRequest, params: dict[str, Any], key: str | None
    ) -> Completion:
        started = time.perf_counter()
        messages = [m.as_dict() for m in request.messages]
        optional = self._optional_params(litellm, route, params, request.response_format)
        body = route.config.transform_request(
            model=route.model, messages=messages, optional_params=dict(optional), litellm_params={}, headers={}
        )
        body.update(body.pop("extra_body", None) or {})
        if body.get("stream") is False:
            del body["stream"]
        headers = route.config.validate_environment(
            headers={},
            model=route.model,
            messages=messages,
            optional_params=optional,
            litellm_params={},
            api_key=key,
            api_base=route.api_base,
        )
        headers.update(route.headers)
        status, raw, answer_headers = await self._transport.post(
            url, json.dumps(body).encode(), headers, request.timeout
        )
        if status != 200:
            who = Who(route.label, request.model.name, route.api_base)
            raise failures.status_error(status, raw, answer_headers, who, key, request.response_format)
        rates = native.prices.Rates(*route.rates) if route.rates else None
        return native.parse(raw, route.label, rates, started, key)

    def _optional_params(
        self, litellm: Any, route: _Route, params: dict[str, Any], response_format: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """litellm's mapping of our parameters for this model (renames, drops, refusals), cached."""
        if response_format is not None:
            params = {**params, "response_format": dict(response_format)}
        cache_key = (route.label, json.dumps(params, sort_keys=True, default=repr))
        mapped = self._params.get(cache_key)
        if mapped is None:
            mapped = litellm.get_optional_params(model=route.model, custom_llm_provider=route.provider, **params)
            self._params[cache_key] = mapped
        return mapped

    async def _via_litellm(
        self, litellm: Any, route: _Route, request: ProviderRequest, params: dict[str, Any], key: str | None
    ) -> Completion:
        started = time.perf_counter()
        if request.response_format is not None:
            params["response_format"] = dict(request.response_format)
        response = await litellm.acompletion(
            model=request.model.model,
            messages=[m.as_dict() for m in request.messages],
            api_base=request.model.api_base,
            api_key=NO_KEY if key is None and request.model.api_base else key,
            timeout=request.timeout,
            **params,
            num_retries=0,
        )
        usage = getattr(response, "usage", None)
        prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion = int(getattr(usage, "completion_tokens", 0) or 0)
        cost = (getattr(response, "_hidden_params", None) or {}).get("response_cost")
        rates = route.rates
        return Completion(
            text=response.choices[0].message.content or "",
            prompt_tokens=prompt,
            completion_tokens=completion,
            cost=float(cost) if cost is not None else (prompt * rates[0] + completion * rates[1] if rates else None),
            latency_ms=(time.perf_counter() - started) * 1000,
            model=getattr(response, "model", None) or route.label,
        )


def needs_litellm(request: ProviderRequest) -> bool:
    """Whether a call needs litellm: False for the calls the native route takes (OpenAI-compatible models with
    the common parameters). Decided by the model, its endpoint and the parameters' names, once for each."""
    spec = request.model
    return _needs_litellm(spec.model, spec.api_base, tuple(request.params), request.response_format is not None)


@functools.lru_cache(maxsize=1024)
def _needs_litellm(model: str, api_base: str | None, names: tuple[str, ...], response_format: bool) -> bool:
    params = dict.fromkeys(name for name in names if name not in RESERVED)
    return not native.takes(model, api_base, params, {} if response_format else None)


def unpriced(models: Iterable[ModelSpec]) -> list[ModelSpec]:
    """The models that have no price: none in routing.yaml, none in the native route's table, and (for the
    models litellm calls, which imports it) none that litellm knows."""
    missing: list[ModelSpec] = []
    for model in models:
        if model.price is not None:
            continue
        name = native.model_name(model.model, model.api_base)
        known = native.prices.rates(name) is not None if name is not None else _litellm_price_known(model)
        if not known:
            missing.append(model)
    return missing


def _litellm_price_known(model: ModelSpec) -> bool:
    prefetch()
    assert _import is not None
    try:
        litellm = _import.result()
        name, provider, _, _ = litellm.get_llm_provider(model=model.model, api_base=model.api_base)
        info = litellm.get_model_info(model=name, custom_llm_provider=provider)
        return info.get("input_cost_per_token") is not None and info.get("output_cost_per_token") is not None
    except Exception:  # unknown to litellm, or litellm missing: no price
        return False


def _priced(completion: Completion, cost: Any) -> Completion:
    return replace(completion, cost=cost(completion.prompt_tokens, completion.completion_tokens))


def guard_endpoint(label: str, provider: str, api_base: str | None) -> None:
    """Refuse a call that would send credentials the user did not pair with this endpoint.

    Keyed providers are safe by construction (`_api_key` sends a custom endpoint only its paired key). Providers
    with ambient credentials attach them whatever `api_key` says, so their `api_base` must be on the provider's
    own domains; a pull request that edits routing.yaml must not be able to send CI's cloud identity elsewhere.
    """
    domains = AMBIENT_CREDENTIALS.get(provider)
    if not api_base or domains is None:
        return
    host = (urllib.parse.urlsplit(api_base).hostname or "").lower().rstrip(".")
    if urllib.parse.urlsplit(api_base).scheme == "https" and any(host.endswith(d) for d in domains):
        return
    raise ProviderError(
        "bad_request",
        f"model {label!r} would send {provider} credentials from the environment to {host or endpoint(api_base)!r}, "
        f"which is not one of {provider}'s own endpoints ({', '.join('*' + d for d in domains)})",
        hint="remove api_base to use the provider's endpoint, or reach this server as an OpenAI-compatible "
        "model (openai/<model>) with api_key_env naming its own key",
    )
