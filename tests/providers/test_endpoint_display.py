"""An endpoint is shown without what can carry a key: user info, query string, fragment."""

from __future__ import annotations

import asyncio

import pytest

from promptops.model import Message, ModelSpec
from promptops.providers import ProviderError, ProviderRequest
from promptops.providers.litellm import LitellmProvider, guard_endpoint

pytestmark = pytest.mark.filterwarnings("ignore:.*ReadOnly.*:UserWarning")

CODE = "Gw7pQ2xL9mZ4vR8kAb"


def test_an_unreachable_endpoint_is_named_without_its_query_or_user_info() -> None:
    api_base = f"http://u:{CODE}x@127.0.0.1:9/v1?code={CODE}#{CODE}"
    spec = ModelSpec(name="m", model="openai/gpt-4o-mini", api_base=api_base)
    request = ProviderRequest(spec, (Message("user", "hello"),), params={}, timeout=5.0)
    with pytest.raises(ProviderError) as info:
        asyncio.run(LitellmProvider(env={"OPENAI_API_KEY": "k"}, direct=True).complete(request))
    assert info.value.kind == "connection"
    assert "http://127.0.0.1:9/v1" in str(info.value)
    assert CODE not in str(info.value) and CODE not in (info.value.hint or "")


def test_an_endpoint_refused_for_ambient_credentials_is_named_without_its_secrets() -> None:
    with pytest.raises(ProviderError) as info:
        guard_endpoint("m", "bedrock", f"file:///k?code={CODE}")
    assert "would send" in str(info.value) and CODE not in str(info.value)
