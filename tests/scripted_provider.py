"""A scripted fake provider that records every request it gets, for engine tests that run in milliseconds.

It goes through the real seam: `promptops.providers.register` puts it in the name table under the name the
engine asks for live answers ("litellm"), and the `scripted` fixture (tests/conftest.py) puts the built-in
back afterwards. Everything above the provider is the real code: planning, rendering, the runner's retries
and backoff, the SQLite cache and results store, checks, summaries and gates.

Answers, in order of precedence:
  1. the next scripted outcome, if any: a `ProviderError` to raise or a `Completion`/text to return;
  2. `responder(request)`, if set;
  3. the rest of the last user message's `REPLY:` line (as tests/provider_server.py answers);
  4. `echo: <last user message>`.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from promptops.providers import Completion, ProviderError, ProviderRequest

Outcome = ProviderError | Completion | str


@dataclass(frozen=True)
class Call:
    """One request as the provider received it, and when (time.monotonic())."""

    request: ProviderRequest
    at: float

    @property
    def model(self) -> str:
        return self.request.model.model

    @property
    def user(self) -> str:
        """The text of the last user message."""
        return last_user(self.request)


def last_user(request: ProviderRequest) -> str:
    return next((m.content for m in reversed(request.messages) if m.role == "user"), "")


@dataclass
class ScriptedProvider:
    """A provider whose answers a test scripts, and which remembers what it was asked."""

    name: str = "litellm"  # the engine's live provider; the runner caches and retries only its answers
    responder: Callable[[ProviderRequest], str] | None = None
    cost: float | None = None  # the cost of every completion (budgets)
    delay: float = 0.0  # seconds each call takes (concurrency)
    on_call: Callable[[ProviderRequest], None] | None = None  # told of each call as it starts
    calls: list[Call] = field(default_factory=list)
    script: deque[Outcome] = field(default_factory=deque)
    in_flight: int = 0
    most_in_flight: int = 0

    def then(self, *outcomes: Outcome | str) -> ScriptedProvider:
        """Queue outcomes for the next calls, in order: "429", "500", "timeout"... raise; other text answers."""
        for outcome in outcomes:
            self.script.append(FAULTS[outcome]() if isinstance(outcome, str) and outcome in FAULTS else outcome)
        return self

    def __call__(self, **_: object) -> ScriptedProvider:
        """The factory the name table holds: the engine builds its provider with keyword arguments (env=...)."""
        return self

    async def ready(self, request: ProviderRequest | None = None) -> None:
        return None

    async def complete(self, request: ProviderRequest) -> Completion:
        self.calls.append(Call(request, time.monotonic()))
        if self.on_call is not None:
            self.on_call(request)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            outcome = self.script.popleft() if self.script else self._answer(request)
        finally:
            self.in_flight -= 1
        if isinstance(outcome, ProviderError):
            raise outcome
        if isinstance(outcome, Completion):
            return outcome
        return Completion(text=outcome, prompt_tokens=3, completion_tokens=2, cost=self.cost, model=request.model.model)

    def _answer(self, request: ProviderRequest) -> str:
        if self.responder is not None:
            return self.responder(request)
        last = last_user(request)
        for line in last.splitlines():
            if line.lstrip().startswith("REPLY:"):
                return line.lstrip()[len("REPLY:") :].strip()
        return f"echo: {last}"

    # -- what tests ask of it ------------------------------------------------------------------------------------
    @property
    def users(self) -> list[str]:
        """The last user message of every call, in the order the calls came."""
        return [c.user for c in self.calls]


FAULTS: dict[str, Callable[[], ProviderError]] = {
    "429": lambda: ProviderError("rate_limit", "429 Too Many Requests"),
    "500": lambda: ProviderError("server", "500 Internal Server Error"),
    "503": lambda: ProviderError("server", "503 Service Unavailable"),
    "timeout": lambda: ProviderError("timeout", "the provider did not answer in time"),
    "malformed": lambda: ProviderError("malformed", "the answer was not valid JSON"),
    "401": lambda: ProviderError("auth", "401 Unauthorized: invalid API key"),
    "400": lambda: ProviderError("bad_request", "400 Bad Request"),
}
