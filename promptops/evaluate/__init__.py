"""Evaluating prompts: planning (plan.py; planned.py, the tasks as a run takes them, planned before or while the
first calls are made), running, async and bounded (runner.py), the SQLite cache and results (store.py),
summaries and baseline classes (summary.py), recordings, overrides, shard merging, and the engine that drives
them (engine.py: `Evaluation(...).plan().run()`)."""

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

    refuse_committed_state(root / STATE_DIR)
    with yamltext.memo(root / STATE_DIR / "yaml"):
        yield


_CLEARED: set[Path] = set()  # state directories found untracked in this process (an eval checks twice)


def refuse_committed_state(state_dir: Path) -> None:
    """Refuse (exit 2) a `.promptops/` that git tracks. It holds this machine's response cache, results and kept
    YAML parses, which a run trusts as they are: committed, a change could carry planted answers or cases that
    no review reads (a binary database, files named by digests). Nothing is asked of git when the directory
    does not exist, outside a git repository, when git is not installed, or when this process already found
    the directory untracked (the kept parses, then the store)."""
    if not state_dir.exists() or state_dir.resolve() in _CLEARED:
        return
    from ..errors import GitError, InputError, NotAGitRepository
    from ..git import GitRepo

    try:
        repo = GitRepo(state_dir)
        rel = state_dir.resolve().relative_to(repo.root.resolve()).as_posix()
        tracked = repo.tracked(f":(literal){rel}")
    except (NotAGitRepository, GitError, ValueError):
        return
    if tracked:
        raise InputError(
            f"{rel}/ is committed ({len(tracked)} file(s), e.g. {tracked[0]}): it holds this machine's response "
            "cache and kept parses, which an eval would trust without review",
            hint=f"untrack it (`git rm -r --cached {rel}` at the repository's root), then add `.promptops/` to "
            ".gitignore",
        )
    _CLEARED.add(state_dir.resolve())
