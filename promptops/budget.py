"""Budgets for work that files in a repository control: a template render (time and output size) and a
user-supplied regular expression (time). A pull request must not be able to hang CI or exhaust its memory.

Regular expressions run on the `regex` engine, whose `timeout=` stops a catastrophic backtrack; its default
(VERSION0) syntax is the standard library's.
"""

from __future__ import annotations

import time
from typing import Any

RENDER_SECONDS = 5.0
RENDER_CHARS = 4_000_000
REGEX_SECONDS = 1.0
MAX_INT_BITS = 1_000_000


class OverBudget(Exception):
    """Work ran past its budget. Turned into an InputError naming the file by whoever knows it."""


class Clock:
    """A deadline that cheap, frequent `tick()` calls check."""

    def __init__(self, seconds: float = RENDER_SECONDS, chars: int = RENDER_CHARS) -> None:
        self.seconds = seconds
        self.chars = chars
        self.deadline = float("inf")

    def start(self) -> None:
        self.deadline = time.monotonic() + self.seconds

    def stop(self) -> None:
        self.deadline = float("inf")

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise OverBudget(f"rendering took longer than {self.seconds:g} s")

    def size(self, length: int) -> None:
        """Refuse a value (or an output) longer than the budget, before or after it is built."""
        if length > self.chars:
            raise OverBudget(f"rendering would produce more than {self.chars:,} characters")


def compile_regex(pattern: str) -> Any:
    """A compiled pattern of the `regex` engine. The standard library checks the syntax first, so what is
    valid (and the message when it is not) is exactly Python's; raises ValueError when invalid."""
    import re

    import regex

    try:
        re.compile(pattern)
        return regex.compile(pattern)
    except (re.error, regex.error, OverflowError, RecursionError, MemoryError, TypeError) as exc:
        raise ValueError(str(exc) or type(exc).__name__) from None


def search(pattern: Any, text: str, seconds: float = REGEX_SECONDS) -> Any:
    """`pattern.search(text)` under a time budget; OverBudget when the engine gives up."""
    try:
        return pattern.search(text, timeout=seconds)
    except TimeoutError:
        raise OverBudget(
            f"regular expression {pattern.pattern!r} ran longer than {seconds:g} s (catastrophic backtracking?)"
        ) from None
