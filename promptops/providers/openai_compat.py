"""The OpenAI chat-completions protocol, spoken without litellm: for `openai/<model>` models, on OpenAI's endpoint
or any OpenAI-compatible server given as `api_base`.

Importing litellm costs seconds, most of a cold eval. For the models this module takes, promptops builds the
request (URL, headers, body), maps the parameters and prices the answer itself, exactly as litellm would:
tests/providers/test_openai_drift.py imports litellm and checks, over generated models, parameters and token
counts, that the body, URL, headers and price equal litellm's own (`get_llm_provider`, `get_optional_params`,
the provider chat config's `transform_request`/`get_complete_url`/`validate_environment`, `cost_per_token`).

`plan()` takes a model only where that equality is established: the `openai` provider's plain chat
configuration (not the o-series or gpt-5/gpt-6 reasoning configurations, not an alias of another model, not a
row whose price depends on a time or tier table) and the parameters in `PARAMS`. Anything else returns None and
goes through litellm, as does every other provider.

The transport is `http1.Client`: one pool of keep-alive connections per event loop, shared by every call.
"""

from __future__ import annotations

import concurrent.futures
import functools
import json
import os
import re
import ssl
import threading
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..model import Message
from . import Completion, ProviderError, prices
from .failures import one_line, scrub

if TYPE_CHECKING:
    from . import http1

PREFIX = "openai/"
OPENAI_BASE = "https://api.openai.com/v1"
ENDPOINT = "chat/completions"
# Parameters sent as given (what litellm's OpenAI chat configuration passes through unchanged).
PARAMS = frozenset(
    {
        "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed", "n", "presence_penalty",
        "frequency_penalty", "logit_bias", "logprobs", "top_logprobs", "tools", "tool_choice", "parallel_tool_calls",
        "store",
    }
)  # fmt: skip
NO_RESPONSE_FORMAT = frozenset({"gpt-3.5-turbo-16k", "gpt-4"})  # litellm refuses response_format for these
_O_SERIES = re.compile(r"^o\d")
_REASONING = ("gpt-5", "gpt-6")


@dataclass(frozen=True)
class Plan:
    """How one model is called natively: the name the server knows, where, and its price."""

    label: str  # as configured: openai/<name>
    name: str
    url: str
    api_base: str
    rates: prices.Rates | None
    headers: Mapping[str, str] = field(default_factory=dict)


@functools.lru_cache(maxsize=1024)
def model_name(model: str, api_base: str | None = None) -> str | None:
    """The name the server knows for a model the native route may take, else None: `openai/<name>` on any
    endpoint, or a bare name litellm knows as an OpenAI chat model (`gpt-4o-mini`) on OpenAI's own."""
    if model.startswith(PREFIX) and len(model) > len(PREFIX):
        name = model[len(PREFIX) :]
    elif "/" not in model and api_base is None and prices.row(model) is not None and prices.is_catalog(model):
        name = model
    else:
        return None
    if _O_SERIES.match(name) or any(marker in name for marker in _REASONING):
        return None  # litellm's o-series and reasoning configurations remap parameters and messages
    if prices.is_alias(name) or not prices.plain_chat(name):
        return None
    return name


def takes(
    model: str, api_base: str | None, params: Mapping[str, Any], response_format: Mapping[str, Any] | None
) -> bool:
    """Whether a call with these parameters goes the native route (no litellm import)."""
    name = model_name(model, api_base)
    if name is None:
        return False
    if (response_format is not None or "response_format" in params) and name in NO_RESPONSE_FORMAT:
        return False
    keys = params.keys() - {"response_format"}  # a prompt's own; the output schema's, when it has one, wins
    return keys <= PARAMS or keys <= _with_user(name)


@functools.lru_cache(maxsize=1024)
def _with_user(name: str) -> frozenset[str]:
    """`user` is sent only to models litellm knows as OpenAI's own (other servers may refuse it)."""
    return PARAMS | {"user"} if prices.is_catalog(name) else PARAMS


def plan(model: str, api_base: str | None, env: Mapping[str, str]) -> Plan:
    """Where and at what price `model` (one `takes` accepted) is called."""
    name = model.removeprefix(PREFIX)
    base = api_base or env.get("OPENAI_BASE_URL") or env.get("OPENAI_API_BASE") or OPENAI_BASE
    headers = {"OpenAI-Organization": env["OPENAI_ORGANIZATION"]} if env.get("OPENAI_ORGANIZATION") else {}
    return Plan(model, name, complete_url(base), base, prices.rates(name), headers)


def complete_url(api_base: str) -> str:
    """The chat-completions URL of a base URL, as litellm joins them."""
    base = api_base.rstrip("/")
    if ENDPOINT in base:
        return base
    parts = urllib.parse.urlsplit(base)
    if parts.scheme and not (parts.netloc or parts.path or parts.query or parts.fragment):
        base = api_base
    elif parts.query and parts.path.endswith("/"):
        before, _, query = base.partition("?")
        base = f"{before.rstrip('/')}?{query}"
    return f"{base}/{ENDPOINT}"


def body(
    name: str, messages: Sequence[Message], params: Mapping[str, Any], response_format: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The request body litellm would send for these messages and parameters."""
    sent = {k: v for k, v in params.items() if v is not None}
    if response_format is not None:
        sent["response_format"] = dict(response_format)
    if not sent.get("tools") and not sent.get("functions"):
        sent.pop("tool_choice", None)
    return {"model": name, "messages": [m.as_dict() for m in messages], **sent}


def headers(plan: Plan, key: str | None) -> dict[str, str]:
    sent = {"Authorization": f"Bearer {key}"} if key is not None else {}
    sent["Content-Type"] = "application/json"
    sent.update(plan.headers)
    return sent


# ---------------------------------------------------------------------------------------------- the transport

_import_lock = threading.Lock()
_import: concurrent.futures.Future[None] | None = None


def prefetch() -> concurrent.futures.Future[None]:
    """Import the HTTP client on a background thread, once; the future says when it is done."""
    global _import
    with _import_lock:
        if _import is None:
            _import = concurrent.futures.Future()
            threading.Thread(target=_load, args=(_import,), name="promptops-http-import", daemon=True).start()
        return _import


def _load(future: concurrent.futures.Future[None]) -> None:
    try:
        from . import http1  # noqa: F401
    except BaseException as exc:  # handed to whoever waits
        future.set_exception(exc)
    else:
        future.set_result(None)


class Transport:
    """The HTTP client of every native and direct call (`http1.Client`: a connection pool per event loop)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self._client: http1.Client | None = None

    async def post(self, url: str, data: bytes, headers: Mapping[str, str], timeout: float) -> http1.Answer:
        client = self._client
        if client is None:
            from . import http1

            client = self._client = http1.Client(tls=functools.partial(tls_context, self.env))
        return await client.post(url, data, headers, timeout)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()


def tls_context(env: Mapping[str, str]) -> ssl.SSLContext:
    """litellm's SSL settings: SSL_VERIFY (false: no verification, or a CA bundle), SSL_CERT_FILE, else certifi's
    bundle."""
    verify = env.get("SSL_VERIFY")
    cafile: str | None = None
    if verify is not None:
        if os.path.exists(verify):
            cafile = verify
        elif verify.strip().lower() in ("false", "0", "no", "off"):
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
    if cafile is None and env.get("SSL_CERT_FILE") and os.path.exists(env["SSL_CERT_FILE"]):
        cafile = env["SSL_CERT_FILE"]
    if cafile is None:
        try:
            import certifi

            cafile = certifi.where()
        except ImportError:
            cafile = None
    context = ssl.create_default_context(cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


# ---------------------------------------------------------------------------------------------- answers


def parse(raw: bytes, label: str, rates: prices.Rates | None, started: float, key: str | None) -> Completion:
    """A 200 answer as a Completion (priced with `rates`; None: unknown)."""
    try:
        data = json.loads(raw)
        text = data["choices"][0]["message"].get("content") or ""
        if not isinstance(text, str):
            raise TypeError(f"the message content is {type(text).__name__}, not text")
        usage = data.get("usage") or {}
        prompt, completion = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    except (ValueError, LookupError, TypeError, AttributeError, OverflowError) as exc:  # Infinity tokens overflow
        raise ProviderError("malformed", scrub(f"{label} sent an unreadable answer: {one_line(exc)}", key)) from exc
    return Completion(
        text=text,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost=rates.cost(prompt, completion) if rates is not None else None,
        latency_ms=(time.perf_counter() - started) * 1000,
        model=data.get("model") or label,
    )
