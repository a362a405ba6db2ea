"""The provider seam: a small protocol and a name table. Built-ins register through the same door."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .. import digest
from ..errors import InputError, UnavailableError
from ..model import Message, ModelSpec
from ..quickinit import quick_init

# Where a call goes and with which credentials is set by routing.yaml's `api_base` and `api_key_env`, never by a
# parameter: litellm would take any of these from `params` and send the environment's key along. The schemas of
# routing.yaml and prompt files refuse them too (tests keep the two lists equal).
ENDPOINT_PARAMS = frozenset(
    {"model", "messages", "api_base", "base_url", "api_key", "api_version", "custom_llm_provider", "organization",
     "headers", "extra_headers", "timeout", "num_retries", "stream", "stream_options", "azure_ad_token",
     "azure_ad_token_provider", "azure_username", "azure_password", "tenant_id", "client_id", "client_secret",
     "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "aws_profile_name", "aws_role_name",
     "aws_web_identity_token", "aws_bedrock_runtime_endpoint", "aws_region_name", "vertex_credentials",
     "vertex_project", "vertex_location", "api_key_env", "litellm_params", "client", "proxy", "mock_response",
     "input_cost_per_token", "output_cost_per_token", "deployment_id", "user_api_key"}
)  # fmt: skip

# Kinds of provider failure. Retryable kinds are retried with backoff; the rest fail the task at once.
RETRYABLE = frozenset({"rate_limit", "timeout", "server", "connection", "malformed"})
KINDS = RETRYABLE | {"auth", "bad_request", "context_window", "not_found", "budget", "replay_miss"}


@quick_init
@dataclass(frozen=True)
class ProviderRequest:
    """One chat completion to make. `api_key` is resolved from the environment and never serialised."""

    model: ModelSpec
    messages: tuple[Message, ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    response_format: Mapping[str, Any] | None = None
    timeout: float = 60.0
    repeat: int = 0
    api_key: str | None = field(default=None, repr=False, compare=False)

    def canonical(self) -> dict[str, Any]:
        """The request as data, without secrets: the input of the cache key."""
        return {
            "model": self.model.model,
            "api_base": self.model.api_base,
            "params": dict(sorted(self.params.items())),
            "messages": [m.as_dict() for m in self.messages],
            "response_format": dict(self.response_format) if self.response_format else None,
            "repeat": self.repeat,
        }

    def key(self) -> str:
        """Content address of the request: the cache and recording key. Each repeat has its own."""
        return digest.key_of(self.canonical())


@quick_init
@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None
    latency_ms: float = 0.0
    model: str = ""


class ProviderError(UnavailableError):
    """A provider call failed. `kind` says how; retryable kinds are retried. Exit 3 if it remains."""

    def __init__(self, kind: str, message: str, *, retry_after: float | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.kind = kind
        self.retry_after = retry_after
        self.answer: Completion | None = None  # an answer that was made (and paid for) but refused as no use

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE


class Provider(Protocol):
    """A provider may also have `keeps_time(request) -> bool`: True when the call ends by `request.timeout` on its
    own, so the runner sets no timer of its own around it (`LitellmProvider`'s native route)."""

    name: str

    async def ready(self, request: ProviderRequest | None = None) -> None:
        """Return once the provider can make this call (or, without one, any call) at once (e.g. the SDK the
        call needs is imported)."""
        ...

    async def complete(self, request: ProviderRequest) -> Completion: ...


ProviderFactory = Callable[..., Provider]
_REGISTRY: dict[str, ProviderFactory] = {}


def register(name: str, factory: ProviderFactory) -> None:
    _REGISTRY[name] = factory


def get(name: str) -> ProviderFactory:
    _builtins()
    if name not in _REGISTRY:
        raise InputError(f"unknown provider {name!r}", hint=f"known providers: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def names() -> list[str]:
    """The registered provider names, built-ins included."""
    _builtins()
    return sorted(_REGISTRY)


def _builtins() -> None:
    """Register the built-in providers (cheap: their heavy imports happen at first call)."""
    if "litellm" in _REGISTRY:
        return
    from . import litellm as litellm_provider
    from .fallback import FallbackProvider
    from .replay import ReplayProvider

    register("litellm", litellm_provider.LitellmProvider)
    register("replay", ReplayProvider)
    register("fallback", FallbackProvider)
