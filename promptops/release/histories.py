"""The histories the audit trail is read from, each from git alone: the versions of a prompt file across
renames (`git log --follow`, or one walk for every prompt), the release tags with their records, and which
commits each release contains (one `rev-list` of the graph)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..git import GitRepo, LogEntry
from ..loader import PROMPT_EXTENSIONS, is_partial, prompt_id_of
from .record import parse_message
from .versions import released

CHANGES = {"A": "added", "M": "modified", "T": "modified", "R": "renamed", "C": "copied", "D": "deleted"}


@dataclass(frozen=True)
class Version:
    """One commit's change to a prompt file. `path` is the path after the change (the removed one for a
    deletion), relative to the repository root, as git names it."""

    entry: LogEntry
    committed: str
    change: str
    path: str
    old_path: str = ""
    position: int = 0  # in the walk, oldest first: the order of the commit chain


@dataclass
class History:
    """The life of one prompt file across renames, oldest version first."""

    versions: list[Version] = field(default_factory=list)

    @property
    def latest(self) -> Version:
        return self.versions[-1]


@dataclass(frozen=True)
class Release:
    tag: str
    commit: str
    tagger: str
    time: str
    record: dict[str, Any]


@dataclass
class Layout:
    """Where prompts live in the repository: `prefix` is the project's directory ("" at the root)."""

    prefix: str
    prompts_dir: str

    @property
    def pathspec(self) -> str:
        return (self.prefix + self.prompts_dir).rstrip("/") or "."

    def prompt_id(self, path: str) -> str | None:
        """The prompt id of a repository path, or None when the path is not a prompt file."""
        base = self.prefix + (self.prompts_dir + "/" if self.prompts_dir else "")
        if not path.startswith(base):
            return None
        rel = path[len(base) :]
        if not rel.endswith(PROMPT_EXTENSIONS) or is_partial(rel):
            return None
        return prompt_id_of(rel)

    def project_path(self, path: str) -> str:
        return path[len(self.prefix) :] if path.startswith(self.prefix) else path


def _version(entry: LogEntry, committed: str, row: Sequence[str], position: int) -> Version:
    change = CHANGES.get(row[0][:1], "modified")
    if len(row) >= 3:
        return Version(entry, committed, change, row[2], row[1] if change == "renamed" else "", position)
    return Version(entry, committed, change, row[1], "", position)


def prompt_history(repo: GitRepo, revs: Sequence[str], layout: Layout, prompt: str) -> History:
    """Every version of one prompt, following renames (`git log --follow`)."""
    path = _path_of(repo, revs, layout, prompt)
    walked = repo.path_log(revs, path, follow=True)
    history = History()
    for position, commit in enumerate(reversed(walked)):
        if commit.changes:
            history.versions.append(_version(commit.entry, commit.committed, commit.changes[-1], position))
    return history


def _path_of(repo: GitRepo, revs: Sequence[str], layout: Layout, prompt: str) -> str:
    """The file of a prompt id: at HEAD, else the last path with that id in the history (a removed prompt)."""
    for path in repo.tree_paths("HEAD", layout.pathspec):
        if layout.prompt_id(path) == prompt:
            return path
    for path in repo.paths_in_history(revs, layout.pathspec):
        if layout.prompt_id(path) == prompt:
            return path
    raise InputError(
        f"unknown prompt {prompt!r}: no file under {layout.pathspec}/ has had that id in the history",
        hint="run `promptops list` for the prompt ids; the trail needs the prompt committed",
    )


def all_histories(repo: GitRepo, revs: Sequence[str], layout: Layout) -> list[History]:
    """Every prompt file that ever existed, each across its renames, from one walk of the history.

    Walking from the newest commit back, a rename `old -> new` means the file known as `new` was called
    `old` before; an addition means nothing of that name existed before it.
    """
    walked = repo.path_log(revs, layout.pathspec)
    alias: dict[str, int] = {}
    histories: list[History] = []

    def ident(path: str) -> int:
        if path not in alias:
            alias[path] = len(histories)
            histories.append(History())
        return alias[path]

    for age, commit in enumerate(walked):
        entry, committed, position = commit.entry, commit.committed, len(walked) - 1 - age
        for row in sorted(commit.changes, key=lambda r: r[0].startswith("R")):  # renames last: a swap reuses a name
            version = _version(entry, committed, row, position)
            was_prompt = bool(version.old_path) and layout.prompt_id(version.old_path) is not None
            if layout.prompt_id(version.path) is None:
                if was_prompt:  # renamed away from prompts: for the old name, the end of its life
                    gone = Version(entry, committed, "deleted", version.old_path, "", position)
                    histories[ident(version.old_path)].versions.append(gone)
                continue
            if version.change == "renamed" and not was_prompt:
                version = Version(entry, committed, "added", version.path, "", position)
            key = ident(version.path)
            histories[key].versions.append(version)
            if version.change in ("added", "copied", "renamed"):
                del alias[version.path]
            if version.change == "renamed":
                alias[version.old_path] = key
    for history in histories:
        history.versions.reverse()
    return [h for h in histories if h.versions]


def release_tags(repo: GitRepo, prefix: str) -> list[Release]:
    """Every release (a semantic-version tag with a release record), oldest version first (one git call)."""
    found: dict[str, Release] = {}
    for tag in repo.tag_details(f"refs/tags/{prefix}*"):
        try:
            record = parse_message(tag.message, tag.name)
        except InputError:
            continue  # a tag that is not a promptops release
        found[tag.name] = Release(tag.name, tag.commit, tag.tagger, tag.date, record)
    return [found[tag] for _, tag in released(list(found), prefix)]


def contained_in_releases(repo: GitRepo, releases: Sequence[Release], wanted: set[str]) -> dict[str, set[str]]:
    """For each release tag, which of the `wanted` commits its commit contains (one `rev-list` of the graph)."""
    if not releases or not wanted:
        return {r.tag: set() for r in releases}
    parents = repo.parent_graph(sorted({r.commit for r in releases}))
    reach: dict[str, set[str]] = {}
    for release in releases:
        if release.commit not in reach:
            reach[release.commit] = _reachable(release.commit, parents, wanted, reach)
    return {r.tag: reach[r.commit] for r in releases}


def _reachable(tip: str, parents: Mapping[str, list[str]], wanted: set[str], known: Mapping[str, set[str]]) -> set[str]:
    hits: set[str] = set()
    seen: set[str] = set()
    stack = [tip]
    while stack:
        sha = stack.pop()
        if sha in seen:
            continue
        seen.add(sha)
        if sha in known:  # an earlier release below this one: its answer covers everything under it
            hits |= known[sha]
            continue
        if sha in wanted:
            hits.add(sha)
        stack.extend(parents.get(sha, ()))
    return hits


def included_partials(repo: GitRepo, root: Path, layout: Layout, prompts: Sequence[str]) -> dict[str, list[str]]:
    """The partials each prompt includes (transitively), as repository paths, by the include graph at HEAD."""
    from ..loader import load
    from ..render import Renderer
    from ..workspace import GitSource

    snapshot = load(GitSource(root, "HEAD", repo))
    renderer = Renderer(snapshot)
    out: dict[str, list[str]] = {}
    for pid in prompts:
        prompt = snapshot.prompts.get(pid)
        if prompt is None:
            continue
        infos, _ = renderer.closure(renderer.name_of(prompt))
        names = sorted(i.name for i in infos if i.name in snapshot.partials)
        out[pid] = [layout.prefix + snapshot.partials[n].path for n in names]
    return out


def partial_versions(repo: GitRepo, revs: Sequence[str], path: str) -> list[Version]:
    """Every commit that changed a partial file (across renames), oldest first."""
    walked = repo.path_log(revs, path, follow=True)
    return [
        _version(commit.entry, commit.committed, commit.changes[-1], position)
        for position, commit in enumerate(reversed(walked))
        if commit.changes
    ]
