"""The wall clock that dates what promptops records (ledger events), read through one function.

A caller that needs fixed, reproducible times (a replay of a story, a demo, the test suite) installs its own
source with `use`; everything else reads the system clock. Nothing here knows or asks who the caller is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

Source = Callable[[], datetime]


def system() -> datetime:
    """The system clock, in UTC."""
    return datetime.now(timezone.utc)


_source: Source = system


def use(source: Source) -> Source:
    """Read times from `source` from now on; returns the source it replaces, to put back when done."""
    global _source
    previous, _source = _source, source
    return previous


def now() -> datetime:
    """The current time, timezone-aware."""
    return _source()


def stamp() -> str:
    """The current time as recorded: UTC, whole seconds, `Z` suffix (2026-03-01T10:00:00Z)."""
    return now().astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
