"""What a runtime call gives back: a rendered prompt, an answer and how it came about, and the one error of its own.

Kept apart from api.py so that type checkers and readers find the public shapes in one short place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import UnavailableError

AnsweredBy = Literal["primary", "fallback", "kill-switch", "fallback-template"]


class PromptKilled(UnavailableError):
    """A killed prompt with no fallback answer was called (it was killed with --allow-error). Exit 3."""


@dataclass(frozen=True)
class Rendered:
    """A prompt rendered for an application that calls the model itself."""

    prompt: str
    messages: list[dict[str, str]]
    params: dict[str, Any]
    route: dict[str, Any]
    response_format: dict[str, Any] | None
    killed: bool
    version: str
    digest: str


@dataclass(frozen=True)
class Result:
    """One answer and how it came about."""

    text: str
    prompt: str
    answered_by: AnsweredBy
    model: str | None  # the model string that answered; None for the kill switch and the fallback template
    data: Any = None  # the parsed JSON answer of a prompt with an output schema
    latency_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None
    record_id: str | None = None
    environment: str = ""
    version: str = ""
    digest: str = ""
    errors: tuple[str, ...] = field(default=())  # why earlier models of the chain did not answer (redacted)
