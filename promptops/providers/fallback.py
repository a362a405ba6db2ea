"""The kill-switch provider: the prompt's deterministic fallback answer, already rendered; no model call."""

from __future__ import annotations

from . import Completion, ProviderRequest


class FallbackProvider:
    name = "fallback"

    async def ready(self, request: ProviderRequest | None = None) -> None:
        return None

    async def complete(self, request: ProviderRequest) -> Completion:
        text = request.messages[-1].content if request.messages else ""
        return Completion(text=text, cost=0.0, model=request.model.model)  # no call: it costs nothing
