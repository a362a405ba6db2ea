"""Replay: answers recorded in the repository (evals/recordings/), so CI without keys runs deterministically."""

from __future__ import annotations

from collections.abc import Mapping

from . import Completion, ProviderError, ProviderRequest


class ReplayProvider:
    name = "replay"

    def __init__(self, recordings: Mapping[str, Completion]) -> None:
        self.recordings = recordings

    async def ready(self, request: ProviderRequest | None = None) -> None:
        return None

    async def complete(self, request: ProviderRequest) -> Completion:
        found = self.recordings.get(request.key())
        if found is None:
            raise ProviderError(
                "replay_miss",
                f"no recording for this request to {request.model.name}",
                hint="record it: `promptops eval --record` with the provider's key set",
            )
        return found
