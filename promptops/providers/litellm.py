"""litellm behind the provider seam: every hosted and local model litellm knows.

The only module that imports litellm, and only on first use: importing this module costs nothing. litellm
takes seconds to import, so `prefetch()` starts the import on a background thread and a caller can overlap it
with planning and cache lookups; `complete` waits for it. `LITELLM_LOCAL_MODEL_COST_MAP` is set before the
import so litellm never fetches its price list from the network.

Why there are two routes
------------------------
An eval run makes thousands of calls with tens in flight, so once a provider answers in ~100 ms the CPU spent
per call sets the wall time. benchmarks/litellm_overhead.py (1,000 calls, 50 in flight, 100 ms latency, 2
cores) measured a bare `litellm.acompletion` at 3.2-3.4 ms of CPU per call and 2.1-2.5x the ideal wall time,
and the openai SDK alone at 1.3-1.7 ms and 1.6-1.8x. In litellm 1.110 that work is behind no switch: the `@client`
wrapper, a `Logging` object, the sync `completion()` run on a thread pool, `completion_cost` for every
response, an async success-logging task, then the openai SDK (httpx request building, pydantic parsing). The
callback lists are empty by default, and the settings `_configure` applies (`turn_off_message_logging`,
`disable_streaming_logging`, `suppress_debug_info`, ...) change nothing measurable. So:

* The direct route, for models litellm resolves to its OpenAI chat provider (the common case, including any
  OpenAI-compatible server given as `openai/<model>` with an `api_base`). litellm still decides everything
  that makes the call right: `get_llm_provider` resolves provider and model name; the provider's chat config
  builds the URL, headers and body (`get_complete_url`, `validate_environment`, `transform_request`);
  `get_optional_params` maps and validates the parameters (cached per model and parameter set); its
  context-window test classifies 400s; prices come from `litellm.model_cost` (cached per model, prompt and
  completion tokens only). Only the transport is ours: one aiohttp session per event loop (litellm's own
  transport library, with litellm's SSL settings), so concurrent calls share one connection pool, and the
  JSON answer is read without building a ModelResponse. Measured: 0.24 ms of CPU per call and 1.47x, the
  same as a bare aiohttp loop with no LLM library; the rest is the test server, which writes headers and body
  in two sends without TCP_NODELAY (Nagle plus delayed ACK, ~40 ms an answer): with it set, 1.05x.
* The litellm route, for every other provider, for parameters the direct route does not know, or with
  `direct=False`: `litellm.acompletion(..., num_retries=0)` (our engine retries). litellm pools connections
  itself (one cached client per provider, base URL and key).

Failures of both routes become `ProviderError` with a kind and one short message that never contains the API
key. The module is longer than most (two routes and one error mapping) because it is litellm's only home.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import email.utils
import gc
import importlib
import json
import logging
import os
import re
import threading
import time
import urllib.parse
from collections.abc import AsyncGenerator, Iterator, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .. import redaction
from . import ENDPOINT_PARAMS, RETRYABLE, Completion, ProviderError, ProviderRequest

if TYPE_CHECKING:
    import aiohttp

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
OPENAI_BASE = "https://api.openai.com/v1"
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
    """How calls to one model go, decided once per (model, api_base)."""

    label: str  # the model as configured, e.g. "openai/gpt-4o-mini"
    model: str  # the model name the provider knows
    provider: str
    api_base: str | None
    url: str | None  # set when the direct route applies
    config: Any  # litellm's chat config for the provider (direct route only)
    headers: Mapping[str, str]  # sent with every direct call, as litellm would
    rates: tuple[float, float] | None  # USD per prompt token, per completion token


@dataclass
class _Loop:
    """Per event loop: the aiohttp session of the direct route and the generator that closes it."""

    session: aiohttp.ClientSession
    closer: AsyncGenerator[None, None]


class LitellmProvider:
    """Chat completions through litellm.

    `env` is where API keys are looked up when a request carries none (callers pass os.environ; the core never
    reads it). `direct=False` sends every call through `litellm.acompletion`. `request.params` go out as given:
    merging model and route parameters is the engine's job. `aclose()` closes the running loop's connection
    pool; `asyncio.run` does it anyway when it ends.
    """

    name = "litellm"

    def __init__(self, *, env: Mapping[str, str] | None = None, direct: bool = True) -> None:
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.direct = direct
        self._routes: dict[tuple[str, str | None], _Route] = {}
        self._params: dict[tuple[str, str], dict[str, Any]] = {}
        self._loops: dict[asyncio.AbstractEventLoop, _Loop] = {}
        self._timeouts: dict[float, Any] = {}

    async def ready(self) -> None:
        """Wait until litellm is imported, so request pacing and timeouts measure calls, not the import."""
        await _litellm()

    async def complete(self, request: ProviderRequest) -> Completion:
        variable = request.model.api_key_env
        if variable and not (request.api_key or self.env.get(variable)):  # said before paying for the import
            raise ProviderError(
                "auth",
                f"{variable} is not set (the API key of model {request.model.model!r})",
                hint=f"export {variable}=...",
            )
        litellm = await _litellm()
        route = self._route(litellm, request.model.model, request.model.api_base)
        guard_endpoint(route.label, route.provider, request.model.api_base)
        key = self._api_key(request, route)
        refused = sorted(set(request.params) & ENDPOINT_PARAMS)
        if refused:
            raise ProviderError(
                "bad_request",
                f"parameter {refused[0]!r} of {request.model.name!r} would choose the endpoint or the credentials",
                hint="set api_base and api_key_env on the model in routing.yaml",
            )
        params = {k: v for k, v in request.params.items() if k not in RESERVED}
        url = route.url if self.direct and params.keys() <= DIRECT_PARAMS else None
        try:
            if url is not None:
                return await self._direct(litellm, route, url, request, params, key)
            return await self._via_litellm(litellm, route, request, params, key)
        except ProviderError:
            raise
        except Exception as exc:
            raise _error(litellm, exc, route, request.timeout, key) from exc

    async def aclose(self) -> None:
        """Close the connection pool of the running event loop (also done when `asyncio.run` ends)."""
        state = self._loops.pop(asyncio.get_running_loop(), None)
        if state is not None:
            await state.closer.aclose()

    # ------------------------------------------------------------------ routing

    def _api_key(self, request: ProviderRequest, route: _Route) -> str | None:
        """The key this call may send, and to whom (see `guard_endpoint`).

        The request's key, else the model's `api_key_env`, else -- only for the provider's own endpoint -- the
        provider's usual `<PROVIDER>_API_KEY` (None lets litellm find it). A model with its own `api_base` and no
        `api_key_env` sends no key at all: on the litellm route `NO_KEY` stands in, because litellm reads the
        provider's default variable from the process environment whenever `api_key` is None.
        """
        variable = request.model.api_key_env
        if request.api_key or variable:  # `complete` has made sure that a named variable is set
            return request.api_key or self.env.get(str(variable))
        return None if request.model.api_base else self.env.get(f"{route.provider.upper()}_API_KEY")

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
                f"litellm does not know the provider of {model!r}: {_first_line(exc)}",
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
            base = resolved_base or self.env.get("OPENAI_BASE_URL") or self.env.get("OPENAI_API_BASE") or OPENAI_BASE
            url = config.get_complete_url(
                api_base=base, api_key=None, model=name, optional_params={}, litellm_params={}
            )
            resolved_base = base
            if self.env.get("OPENAI_ORGANIZATION"):
                headers["OpenAI-Organization"] = self.env["OPENAI_ORGANIZATION"]
        return _Route(model, name, provider, resolved_base, url, config, headers, rates)

    # ------------------------------------------------------------------ the direct route

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
        session = await self._session(litellm)
        timeout = self._timeout(request.timeout)
        async with session.post(url, data=json.dumps(body), headers=headers, timeout=timeout) as response:
            raw = await response.read()
            status, answer_headers = response.status, response.headers
        if status != 200:
            raise _status_error(litellm, status, raw, answer_headers, route, key)
        return _parse(raw, route, started, key)

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

    async def _session(self, litellm: Any) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        state = self._loops.get(loop)
        if state is not None and not state.session.closed:
            return state.session
        import aiohttp  # litellm's transport, loaded with litellm

        ssl = litellm.llms.custom_httpx.http_handler.get_ssl_configuration()  # SSL_VERIFY, SSL_CERT_FILE, certifi
        connector = aiohttp.TCPConnector(limit=0, ssl=ssl, ttl_dns_cache=300)
        session = aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(), trust_env=bool(litellm.aiohttp_trust_env)
        )
        closer = _close_at_loop_end(session)
        self._loops = {lp: st for lp, st in self._loops.items() if not lp.is_closed()}
        self._loops[loop] = _Loop(session, closer)
        await closer.__anext__()
        return session

    def _timeout(self, seconds: float) -> Any:
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            import aiohttp

            timeout = self._timeouts[seconds] = aiohttp.ClientTimeout(total=seconds)
        return timeout

    # ------------------------------------------------------------------ the litellm route

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
        return Completion(
            text=response.choices[0].message.content or "",
            prompt_tokens=prompt,
            completion_tokens=completion,
            cost=float(cost) if cost is not None else _cost(route, prompt, completion),
            latency_ms=(time.perf_counter() - started) * 1000,
            model=getattr(response, "model", None) or route.label,
        )


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
        f"model {label!r} would send {provider} credentials from the environment to {host or api_base!r}, "
        f"which is not one of {provider}'s own endpoints ({', '.join('*' + d for d in domains)})",
        hint="remove api_base to use the provider's endpoint, or reach this server as an OpenAI-compatible "
        "model (openai/<model>) with api_key_env naming its own key",
    )


async def _close_at_loop_end(session: aiohttp.ClientSession) -> AsyncGenerator[None, None]:
    """An async generator the loop knows: `asyncio.run` closes it at shutdown, which closes the session.

    Without it a caller that never calls `aclose()` would get aiohttp's "Unclosed client session" error.
    """
    try:
        yield  # suspended here until the loop's shutdown_asyncgens() (or aclose) closes the generator
    finally:
        await session.close()


# ---------------------------------------------------------------------- answers and failures


def _parse(raw: bytes, route: _Route, started: float, key: str | None) -> Completion:
    try:
        data = json.loads(raw)
        text = data["choices"][0]["message"].get("content") or ""
        if not isinstance(text, str):
            raise TypeError(f"the message content is {type(text).__name__}, not text")
        usage = data.get("usage") or {}
        prompt, completion = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    except (ValueError, LookupError, TypeError, AttributeError, OverflowError) as exc:  # Infinity tokens overflow
        message = f"{route.label} sent an unreadable answer: {_first_line(exc)}"
        raise ProviderError("malformed", _scrub(message, key)) from exc
    return Completion(
        text=text,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost=_cost(route, prompt, completion),
        latency_ms=(time.perf_counter() - started) * 1000,
        model=data.get("model") or route.label,
    )


def _cost(route: _Route, prompt: int, completion: int) -> float | None:
    if route.rates is None:
        return None
    return prompt * route.rates[0] + completion * route.rates[1]


def _status_error(
    litellm: Any, status: int, raw: bytes, headers: Mapping[str, str], route: _Route, key: str | None
) -> ProviderError:
    """A non-200 answer of the direct route, classified as litellm classifies OpenAI's."""
    text = raw.decode("utf-8", "replace")
    try:
        detail = json.loads(text)["error"]["message"]
    except (ValueError, LookupError, TypeError):
        detail = text
    checkers = litellm.litellm_core_utils.exception_mapping_utils.ExceptionCheckers
    if status in (400, 413) and checkers.is_error_str_context_window_exceeded(text):
        kind = "context_window"
    else:
        kind = _kind_of_status(status)
    return _make(kind, route, status, str(detail), _retry_after(headers), key)


def _error(litellm: Any, exc: Exception, route: _Route, timeout: float, key: str | None) -> ProviderError:
    """Any failure of a call (litellm's exceptions, or aiohttp's on the direct route) as a ProviderError."""
    import aiohttp  # all three are loaded with litellm: no import cost here
    import httpx
    import openai

    chain = list(_causes(exc))
    status = getattr(exc, "status_code", None)
    status = status if isinstance(status, int) else None
    headers = getattr(getattr(exc, "response", None), "headers", None) or getattr(exc, "litellm_response_headers", None)
    malformed = [e for e in chain if isinstance(e, json.JSONDecodeError)]
    dropped = [e for e in chain if isinstance(e, (aiohttp.ClientError, httpx.TransportError, OSError))]
    if isinstance(exc, litellm.Timeout) or any(
        isinstance(e, (asyncio.TimeoutError, openai.APITimeoutError, httpx.TimeoutException)) for e in chain
    ):
        kind, detail = "timeout", _detail(exc)
    elif isinstance(exc, litellm.ContextWindowExceededError):
        kind, detail = "context_window", _detail(exc)
    elif malformed:  # litellm reports a 200 with a body that is not JSON as a 500
        kind, detail, status = "malformed", _detail(malformed[-1]), None
    elif dropped or any(isinstance(e, (openai.APIConnectionError, litellm.APIConnectionError)) for e in chain):
        kind, detail, status = "connection", _detail((dropped or chain)[-1]), None  # litellm says 500 here too
    elif isinstance(exc, (litellm.BadRequestError, litellm.UnprocessableEntityError)):
        kind, detail = "bad_request", _detail(exc)
    elif status is not None:
        kind, detail = _kind_of_status(status), _detail(exc)
    else:  # litellm refused the call before sending it (unknown parameter, missing key, ...)
        kind, detail = "bad_request", _detail(exc)
    retry_after = _retry_after(headers) if headers is not None else None
    return _make(kind, route, status, detail, retry_after, key, timeout)


def _kind_of_status(status: int) -> str:
    if status == 429:
        return "rate_limit"
    if status in (401, 403):
        return "auth"
    if status == 404:
        return "not_found"
    if status == 408:
        return "timeout"
    return "server" if status >= 500 else "bad_request"


def _make(
    kind: str,
    route: _Route,
    status: int | None,
    detail: str,
    retry_after: float | None,
    key: str | None,
    timeout: float | None = None,
) -> ProviderError:
    """One short message per kind, never with the key in it."""
    who, code = route.label, f" ({status})" if status else ""
    detail = _first_line(_scrub(str(detail), key))  # scrub before cutting: half a key is still a leak
    message = {
        "rate_limit": f"rate limited by {who}{code}",
        "timeout": f"{who} did not answer within {timeout:g} s" if timeout else f"{who} timed out: {detail}",
        "server": f"{who} failed{code}: {detail}",
        "connection": f"could not reach {who} at {route.api_base or 'its default address'}: {detail}",
        "malformed": f"{who} sent an unreadable answer: {detail}",
        "auth": f"{who} refused the API key{code}: {detail}",
        "bad_request": f"{who} rejected the request{code}: {detail}",
        "context_window": f"the prompt does not fit the context window of {who}: {detail}",
        "not_found": f"{who} was not found{code}: {detail}",
    }[kind]
    if retry_after is not None and kind in RETRYABLE:  # a 503 may say when to come back, as a 429 does
        message += f"; retry after {retry_after:g} s"
    else:
        retry_after = None
    hint = "check the API key and its environment variable" if kind == "auth" else None
    return ProviderError(kind, _scrub(message, key), retry_after=retry_after, hint=hint)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from `retry-after-ms` or `Retry-After` (seconds or an HTTP date), if the answer has one."""
    try:
        if headers.get("retry-after-ms"):
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if not value:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (ValueError, TypeError):
        return None


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


_LITELLM_PREFIX = re.compile(r"^(?:litellm\.\w+:\s*)?(?:\w+(?:Error|Timeout):\s*)?(?:\w+Exception\s*-\s*)?")


def _detail(exc: BaseException) -> str:
    """The provider's own words, without litellm's `litellm.XError: XError: OpenAIException - ` prefix."""
    message = getattr(exc, "message", None)
    text = message if isinstance(message, str) and message else str(exc) or type(exc).__name__
    return _LITELLM_PREFIX.sub("", _first_line(text)) or type(exc).__name__


def _first_line(value: object) -> str:
    text = str(value).strip()
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= 200 else line[:197] + "..."


def _scrub(text: str, key: str | None) -> str:
    return redaction.scrub(text, (key,) if key else ())
