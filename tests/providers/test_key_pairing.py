"""No API key reaches an endpoint the user did not pair it with (routing.yaml can be edited by a pull request).

A loopback server logs every request whole (method, path and query, every header, body). Each provider family
is pointed at it with `api_base`, with every default key variable litellm might read set to a distinct canary:
none may arrive, on either route, whatever parameters send the call through `litellm.acompletion`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from provider_server import ProviderServer

from promptops.model import Message, ModelSpec
from promptops.providers import ProviderError, ProviderRequest
from promptops.providers.litellm import LitellmProvider

pytestmark = pytest.mark.filterwarnings("ignore:.*ReadOnly.*:UserWarning")

DEFAULT_KEY_VARIABLES = (
    "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GROQ_API_KEY", "MISTRAL_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY",
    "COHERE_API_KEY", "CO_API_KEY", "DEEPSEEK_API_KEY", "TOGETHERAI_API_KEY", "TOGETHER_AI_API_KEY",
    "TOGETHER_API_KEY", "FIREWORKS_AI_API_KEY", "FIREWORKS_API_KEY", "OPENROUTER_API_KEY", "OR_API_KEY",
    "XAI_API_KEY", "PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY", "AZURE_API_KEY", "AZURE_OPENAI_API_KEY",
    "AZURE_AD_TOKEN", "AZURE_AI_API_KEY", "HUGGINGFACE_API_KEY", "HF_TOKEN", "CEREBRAS_API_KEY",
    "NVIDIA_NIM_API_KEY", "HOSTED_VLLM_API_KEY", "DEEPINFRA_API_KEY", "ANYSCALE_API_KEY", "LITELLM_API_KEY",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
)  # fmt: skip
CANARIES = {name: f"canary{i:02d}x{name.lower().replace('_', '')}" for i, name in enumerate(DEFAULT_KEY_VARIABLES)}

# Provider families whose key litellm takes from `api_key`, each pointed at the loopback server.
KEYED = (
    "openai/gpt-4o-mini", "anthropic/claude-3-5-haiku-20241022", "groq/llama-3.1-8b-instant",
    "mistral/mistral-small-latest", "gemini/gemini-1.5-flash", "cohere_chat/command-r", "deepseek/deepseek-chat",
    "together_ai/meta-llama/Llama-3-8b-chat-hf", "fireworks_ai/accounts/fireworks/models/llama-v3-8b-instruct",
    "openrouter/openai/gpt-4o-mini", "xai/grok-2", "perplexity/sonar", "hosted_vllm/my-model",
    "huggingface/meta-llama/Llama-3.1-8B-Instruct", "cerebras/llama3.1-8b", "deepinfra/meta-llama/Llama-3-8b",
)  # fmt: skip
# Parameters that take an OpenAI model off the direct route and through `litellm.acompletion`.
ROUTE_CHANGERS: tuple[dict[str, Any], ...] = ({}, {"top_k": 3}, {"metadata": {"a": "b"}})


@pytest.fixture(scope="module")
def server() -> Iterator[ProviderServer]:
    with ProviderServer(hang=2.0) as srv:
        yield srv


@pytest.fixture
def srv(server: ProviderServer, monkeypatch: pytest.MonkeyPatch) -> ProviderServer:
    for name, value in CANARIES.items():  # litellm reads os.environ itself, whatever env we hand the provider
        monkeypatch.setenv(name, value)
    server.configure(latency=0.0, faults=None, responder=None, api_key=None)
    server.reset()
    return server


def call(spec: ModelSpec, *, direct: bool, params: dict[str, Any] | None = None, **fields: Any) -> None:
    request = ProviderRequest(spec, (Message("user", "hello"),), params=params or {}, timeout=5.0, **fields)
    provider = LitellmProvider(env=dict(CANARIES), direct=direct)
    # A non-OpenAI family gets a 404 from the test server: what matters is what it was sent.
    with contextlib.suppress(ProviderError):
        asyncio.run(provider.complete(request))


def leaks(srv: ProviderServer) -> list[str]:
    sent = "\n\n".join(r.text() for r in srv.raw_requests)
    return [name for name, value in CANARIES.items() if value in sent]


@pytest.mark.parametrize("model", KEYED)
@pytest.mark.parametrize("direct", [True, False], ids=["direct", "litellm"])
def test_a_custom_endpoint_never_gets_a_default_key(srv: ProviderServer, model: str, direct: bool) -> None:
    call(ModelSpec(name="m", model=model, api_base=srv.base_url), direct=direct)
    assert srv.raw_requests, f"{model} sent nothing: the check would prove nothing"
    assert leaks(srv) == []


@pytest.mark.parametrize("params", ROUTE_CHANGERS, ids=["plain", "top_k", "metadata"])
@pytest.mark.parametrize("response_format", [None, {"type": "json_object"}], ids=["text", "json"])
def test_no_parameter_opens_a_path_for_the_default_key(
    srv: ProviderServer, params: dict[str, Any], response_format: dict[str, Any] | None
) -> None:
    spec = ModelSpec(name="m", model="openai/test-model", api_base=srv.base_url)
    call(spec, direct=True, params=params, response_format=response_format)
    assert srv.raw_requests
    assert leaks(srv) == []


@pytest.mark.parametrize("model", ["openai/test-model", "anthropic/claude-3-5-haiku-20241022", "groq/llama-3.1-8b"])
@pytest.mark.parametrize("params", ROUTE_CHANGERS, ids=["plain", "top_k", "metadata"])
def test_the_paired_key_and_only_it_is_sent(srv: ProviderServer, model: str, params: dict[str, Any]) -> None:
    paired = "paired-key-5b1e0c7d"
    spec = ModelSpec(name="m", model=model, api_base=srv.base_url, api_key_env="MY_GATEWAY_KEY")
    request = ProviderRequest(spec, (Message("user", "hello"),), params=params, timeout=5.0)
    provider = LitellmProvider(env={**CANARIES, "MY_GATEWAY_KEY": paired}, direct=True)
    with contextlib.suppress(ProviderError):
        asyncio.run(provider.complete(request))
    sent = "\n".join(r.text() for r in srv.raw_requests)
    assert paired in sent
    assert leaks(srv) == []


def test_a_paired_variable_that_is_unset_sends_nothing(srv: ProviderServer) -> None:
    spec = ModelSpec(
        name="m", model="anthropic/claude-3-5-haiku-20241022", api_base=srv.base_url, api_key_env="UNSET_KEY"
    )
    request = ProviderRequest(spec, (Message("user", "hello"),), timeout=5.0)
    with pytest.raises(ProviderError) as caught:
        asyncio.run(LitellmProvider(env=dict(CANARIES), direct=False).complete(request))
    assert caught.value.kind == "auth"
    assert "UNSET_KEY is not set" in caught.value.message
    assert srv.raw_requests == []


@pytest.mark.parametrize(
    "model", ["azure/my-deployment", "azure_ai/my-model", "vertex_ai/gemini-1.5-flash", "bedrock/anthropic.claude-v2"]
)
@pytest.mark.parametrize("direct", [True, False], ids=["direct", "litellm"])
def test_ambient_credentials_only_go_to_the_providers_own_domains(
    srv: ProviderServer, model: str, direct: bool
) -> None:
    spec = ModelSpec(name="m", model=model, api_base=srv.base_url, api_key_env="MY_GATEWAY_KEY")
    request = ProviderRequest(spec, (Message("user", "hello"),), timeout=5.0)
    provider = LitellmProvider(env={**CANARIES, "MY_GATEWAY_KEY": "k"}, direct=direct)
    with pytest.raises(ProviderError) as caught:
        asyncio.run(provider.complete(request))
    assert caught.value.kind == "bad_request"
    assert "credentials from the environment" in caught.value.message
    assert srv.raw_requests == []


@pytest.mark.parametrize("name", ["base_url", "api_base", "custom_llm_provider", "extra_headers", "aws_region_name"])
@pytest.mark.parametrize("direct", [True, False], ids=["direct", "litellm"])
def test_no_parameter_can_choose_the_endpoint_or_the_credentials(srv: ProviderServer, name: str, direct: bool) -> None:
    spec = ModelSpec(name="m", model="openai/gpt-4o-mini")  # no api_base: the provider's default key applies
    request = ProviderRequest(spec, (Message("user", "hello"),), params={name: srv.base_url}, timeout=5.0)
    with pytest.raises(ProviderError) as caught:
        asyncio.run(LitellmProvider(env=dict(CANARIES), direct=direct).complete(request))
    assert caught.value.kind == "bad_request" and name in caught.value.message
    assert srv.raw_requests == []


def test_the_schemas_refuse_exactly_the_endpoint_parameters() -> None:
    from promptops.loader import schema
    from promptops.providers import ENDPOINT_PARAMS

    found = []
    for name in ("routing", "prompt"):
        text = json.dumps(schema(name))
        found += [set(json.loads(m)) for m in re.findall(r'"propertyNames": \{"not": \{"enum": (\[[^\]]*\])', text)]
    assert len(found) == 4 and all(f == ENDPOINT_PARAMS for f in found)


def test_lint_and_eval_name_the_line_of_an_endpoint_parameter(make_repo, cli) -> None:
    routing = (
        "defaults:\n  model: main\nmodels:\n  main: {model: openai/gpt-4o-mini, api_key_env: K}\n"
        "routes:\n  a:\n    params: {base_url: 'http://127.0.0.1:9/v1'}\n"
    )
    root = make_repo({"routing.yaml": routing, "prompts/a.prompt": "hi", "evals/a.yaml": "prompt: a\ncases: []\n"})
    code, out, _ = cli("lint", "--repo", root)
    assert code == 1 and "routing.yaml:7" in out and "base_url" in out
    code, _, err = cli("eval", "--repo", root)
    assert code == 2 and "routing.yaml:7" in err
