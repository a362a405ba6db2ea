"""The native OpenAI route against litellm itself: the request body, URL, headers and price promptops builds for
an OpenAI-compatible model equal what litellm's own functions build, over generated models and parameters, so
the two cannot drift apart when litellm (or its price table) is upgraded."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptops.model import Message
from promptops.providers import openai_compat as native
from promptops.providers import prices

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # as the provider sets it: the price table litellm ships
litellm = pytest.importorskip("litellm")
pytestmark = pytest.mark.filterwarnings("ignore:.*ReadOnly.*:UserWarning")

TABLE = json.loads(prices.table_path().read_bytes())  # type: ignore[union-attr]
CATALOG = sorted(k for k, v in TABLE.items() if isinstance(v, dict) and v.get("litellm_provider") == "openai")
CUSTOM = ["test-model", "llama-3.1-8b-instruct", "qwen2.5:7b", "my-org/fine.tuned-v2", "Mistral-7B", "gpt-4o-mini"]
BASES = [
    None,
    "http://127.0.0.1:8080/v1",
    "http://localhost:1234/v1/",
    "https://gateway.example.com/openai/v1/chat/completions",
    "https://llm.example.org/api/v1?api-version=2",
    "http://[::1]:9000",
]
FLOATS = st.floats(min_value=0, max_value=2, allow_nan=False, width=32)
INTS = st.integers(min_value=1, max_value=4096)
TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}
PARAM_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "temperature": FLOATS,
    "top_p": FLOATS,
    "max_tokens": INTS,
    "max_completion_tokens": INTS,
    "stop": st.one_of(st.text(min_size=1, max_size=5), st.lists(st.text(min_size=1, max_size=5), max_size=3)),
    "seed": st.integers(min_value=0, max_value=2**31),
    "n": st.integers(min_value=1, max_value=4),
    "presence_penalty": FLOATS,
    "frequency_penalty": FLOATS,
    "logit_bias": st.dictionaries(st.sampled_from(["50256", "11"]), st.integers(-100, 100), max_size=2),
    "logprobs": st.booleans(),
    "top_logprobs": st.integers(min_value=0, max_value=5),
    "tools": st.just([TOOL]),
    "tool_choice": st.sampled_from(["auto", "none", "required"]),
    "parallel_tool_calls": st.booleans(),
    "store": st.booleans(),
    "user": st.text(min_size=1, max_size=10),
    "response_format": st.sampled_from([{"type": "json_object"}, {"type": "text"}]),
    "service_tier": st.sampled_from(["auto", "priority", "flex"]),  # not native: litellm prices tiers
    "reasoning_effort": st.sampled_from(["low", "high"]),  # not native
    "top_k": st.integers(1, 50),  # not an OpenAI parameter: not native
}
RESPONSE_FORMATS = [
    None,
    {"type": "json_object"},
    {"type": "json_schema", "json_schema": {"name": "output", "schema": {"type": "object"}}},
]
MESSAGES = st.lists(
    st.builds(Message, st.sampled_from(["system", "user", "assistant", "developer"]), st.text(max_size=20)),
    min_size=1,
    max_size=4,
)
MODELS = st.one_of(
    st.sampled_from(CATALOG).map(lambda n: f"openai/{n}"),
    st.sampled_from(CATALOG),
    st.sampled_from(CUSTOM).map(lambda n: f"openai/{n}"),
    st.from_regex(r"[a-z][a-z0-9.\-]{0,12}", fullmatch=True).map(lambda n: f"openai/{n}"),
)


def theirs(model: str, api_base: str | None, messages: list[Message], params: dict[str, Any], rf: Any) -> Any:
    """What litellm sends: provider resolution, parameter mapping, the chat config's request building."""
    name, provider, _, base = litellm.get_llm_provider(model=model, api_base=api_base)
    config = litellm.ProviderConfigManager.get_provider_chat_config(model=name, provider=litellm.LlmProviders(provider))
    merged = {**params, **({"response_format": rf} if rf is not None else {})}  # as both routes merge them
    optional = litellm.get_optional_params(model=name, custom_llm_provider=provider, **merged)
    sent = [m.as_dict() for m in messages]
    body = config.transform_request(
        model=name, messages=sent, optional_params=dict(optional), litellm_params={}, headers={}
    )
    body.update(body.pop("extra_body", None) or {})
    if body.get("stream") is False:
        del body["stream"]
    url = config.get_complete_url(
        api_base=base or native.OPENAI_BASE, api_key=None, model=name, optional_params={}, litellm_params={}
    )
    headers = config.validate_environment(
        headers={},
        model=name,
        messages=sent,
        optional_params=optional,
        litellm_params={},
        api_key="sk-k",
        api_base=base,
    )
    return provider, name, body, url, headers


def their_cost(name: str, prompt: int, completion: int) -> float | None:
    try:
        cost_in, cost_out = litellm.cost_per_token(
            model=name, custom_llm_provider="openai", prompt_tokens=prompt, completion_tokens=completion
        )
    except Exception:  # litellm has no price for the model
        return None
    return float(cost_in + cost_out)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    model=MODELS,
    api_base=st.sampled_from(BASES),
    messages=MESSAGES,
    params=st.dictionaries(st.sampled_from(sorted(PARAM_VALUES)), st.none(), max_size=5).flatmap(
        lambda keys: st.fixed_dictionaries({k: PARAM_VALUES[k] for k in keys})
    ),
    rf=st.sampled_from(RESPONSE_FORMATS),
    tokens=st.tuples(st.integers(0, 400_000), st.integers(0, 100_000)),
)
def test_the_native_request_and_price_are_litellms(
    model: str,
    api_base: str | None,
    messages: list[Message],
    params: dict[str, Any],
    rf: Any,
    tokens: tuple[int, int],
) -> None:
    if not native.takes(model, api_base, params, rf):
        return  # litellm sends it
    plan = native.plan(model, api_base, {})
    provider, name, body, url, headers = theirs(model, api_base, messages, params, rf)
    assert (provider, name) == ("openai", plan.name)
    assert native.body(plan.name, messages, params, rf) == body
    assert plan.url == url
    assert native.headers(plan, "sk-k") == headers
    ours = plan.rates.cost(*tokens) if plan.rates is not None else None
    expected = their_cost(name, *tokens)
    if ours is None:
        assert not expected  # unknown here: litellm has no price (or prices it at 0, which we call unknown)
    else:
        assert ours == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_the_models_people_run_go_native() -> None:
    """Not vacuous: custom servers, OpenAI's chat models and the usual parameters take the native route."""
    common = {"temperature": 0.2, "max_tokens": 100, "seed": 1}
    for model, base in [
        ("openai/test-model", "http://127.0.0.1:1/v1"),
        ("openai/llama-3.1-8b-instruct", "http://localhost:8000/v1"),
        ("openai/gpt-4o-mini", None),
        ("gpt-4o-mini", None),
        ("openai/gpt-4.1", None),
    ]:
        assert native.takes(model, base, common, RESPONSE_FORMATS[2]), model
    assert not native.takes("openai/o3-mini", None, {}, None)  # litellm remaps its parameters
    assert not native.takes("openai/test-model", None, {"top_k": 3}, None)  # not an OpenAI parameter
    assert not native.takes("anthropic/claude-3-5-sonnet", None, {}, None)
    assert prices.rates("gpt-4o-mini") is not None and prices.rates("test-model") is None


@pytest.mark.parametrize("tokens", [(1_000, 200), (300_000, 5_000)], ids=["small", "above-272k"])
def test_every_native_catalog_model_costs_what_litellm_says(tokens: tuple[int, int]) -> None:
    """Every OpenAI model of the table the native route takes, below and above a price tier's threshold."""
    checked = 0
    for name in CATALOG:
        if native.model_name(f"openai/{name}") is None:
            continue
        rates = prices.rates(name)
        expected = their_cost(name, *tokens)
        if rates is None:
            assert not expected, name
            continue
        assert rates.cost(*tokens) == pytest.approx(expected, rel=1e-9, abs=1e-12), name
        checked += 1
    assert checked >= 20
