"""The options of an eval run: what the command line gives, else the `eval:` defaults of promptops.yaml."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

BACKOFF_BASE = 0.2
MAX_RETRY_WAIT = 60.0


@dataclass
class Options:
    concurrency: int = 8
    rpm: int | None = None
    max_cost: float | None = None
    use_cache: bool = True
    record: bool = False
    backoff_base: float = BACKOFF_BASE
    seed: int | None = None
    max_retry_wait: float = MAX_RETRY_WAIT  # the longest Retry-After honoured; a longer one fails the task
    timeout: float | None = None  # eval.timeout: bounds every call of the run (the route's timeout, if lower, wins)

    @classmethod
    def from_config(
        cls,
        defaults: Mapping[str, Any],
        *,
        concurrency: int | None = None,
        rpm: int | None = None,
        max_cost: float | None = None,
        use_cache: bool = True,
    ) -> Options:
        """The options of a run: what the command line gives, else the `eval:` defaults of promptops.yaml
        (concurrency, rpm, max_cost, max_retry_wait, timeout).

        `eval`, `diff --eval` and the evals that gate a release all build their options here, and only here."""
        timeout = defaults.get("timeout")
        return cls(
            concurrency=concurrency or int(defaults.get("concurrency", 8)),
            rpm=rpm or defaults.get("rpm"),
            max_cost=max_cost if max_cost is not None else defaults.get("max_cost"),
            use_cache=use_cache,
            max_retry_wait=float(defaults.get("max_retry_wait", MAX_RETRY_WAIT)),
            timeout=float(timeout) if timeout is not None else None,
        )
