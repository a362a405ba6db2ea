"""promptops: git-native prompt operations. `promptops.load(...)` is the runtime API (see promptops.runtime)."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_RUNTIME = ("load", "Runtime", "Result", "Rendered", "PromptKilled")


def __getattr__(name: str) -> Any:
    """The runtime API, imported on first use so that `import promptops` (and the CLI) stays light."""
    if name in _RUNTIME:
        from . import runtime

        return getattr(runtime, name)
    raise AttributeError(f"module 'promptops' has no attribute {name!r}")
