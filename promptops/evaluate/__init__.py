"""Evaluating prompts: planning (plan.py), running, async and bounded (runner.py), the SQLite cache and results
(store.py), summaries and baseline classes (summary.py), recordings, overrides, shard merging, and the engine
that drives them (engine.py: `Evaluation(...).plan().run()`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path


def prefetch_http(root: Path) -> None:
    """Start importing the HTTP client (about 0.2 s) on a background thread when the project at `root` has no
    response cache yet, so every call of the eval will be made: the import then overlaps loading and planning.
    A project with a cache waits for the plan, which may find every answer cached and send nothing."""
    from .store import STATE_FILE

    if not (root / STATE_FILE).exists():
        from ..providers import openai_compat

        openai_compat.prefetch()


@contextlib.contextmanager
def parses_kept(root: Path) -> Iterator[None]:
    """Within the block, long YAML files (a suite of thousands of cases) are parsed once and read back on the
    next run from `.promptops/yaml/` (see yamltext.memo)."""
    from .. import yamltext
    from .store import STATE_DIR

    with yamltext.memo(root / STATE_DIR / "yaml"):
        yield
