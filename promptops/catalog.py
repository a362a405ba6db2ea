"""The prompt catalogue behind `promptops list`: metadata, route, eval coverage and last change."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import routing
from .git import GitRepo, toplevel
from .model import Snapshot


@dataclass(frozen=True)
class Entry:
    id: str
    path: str
    description: str
    owner: str
    risk: str
    model: str | None
    fallbacks: list[str]
    eval_cases: int
    suites: list[str]
    last_commit: dict[str, str] | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def catalog(snapshot: Snapshot, root: Path | None = None, with_git: bool = True) -> list[Entry]:
    """One entry per prompt, sorted by id. The last commit comes from git when `root` is in a repository."""
    history: dict[str, Any] = {}
    prefix = ""
    if with_git and root is not None and toplevel(root) is not None:
        repo = GitRepo(root)
        rel = root.resolve().relative_to(repo.root).as_posix()
        prefix = "" if rel == "." else rel + "/"
        history = repo.last_commits([prefix + p.path for p in snapshot.prompts.values()])
    entries = []
    for prompt in sorted(snapshot.prompts.values(), key=lambda p: p.id):
        resolved = routing.resolve(snapshot.routing, prompt)
        suites = sorted(s.id for s in snapshot.suites.values() if s.prompt == prompt.id)
        commit = history.get(prefix + prompt.path)
        entries.append(
            Entry(
                id=prompt.id,
                path=prompt.path,
                description=prompt.description,
                owner=prompt.owner,
                risk=prompt.risk,
                model=resolved.model.name if resolved.model else None,
                fallbacks=[m.name for m in resolved.fallbacks],
                eval_cases=sum(len(snapshot.suites[s].cases) for s in suites),
                suites=suites,
                last_commit={"sha": commit.sha, "author": commit.author, "date": commit.date, "subject": commit.subject}
                if commit
                else None,
            )
        )
    return entries
