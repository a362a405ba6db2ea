"""The audit trail: the chain of a prompt (or of every prompt) read from git alone, oldest first.

Three histories meet here: the commits that changed the prompt file (with their `Change-Reason:` and
`Approved-by:` trailers), the release tags whose records carry the evidence that gated them, and the ledger
branch with every promote, rollback, kill and revive. Each becomes one record with a `type`, the `prompt` id
and a `time`. The order is causal first (a release after the commits it ships, a promote after the release
it promotes, each history in its own order) and by time between histories, so a skewed clock cannot put
a promote before the release it names.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..git import GitRepo, LogEntry
from ..loader import PROMPT_EXTENSIONS, is_partial, prompt_id_of
from ..model import Config
from .ledger import Event, Ledger
from .record import parse_message
from .versions import released

TYPES = ("commit", "release", "promote", "rollback", "kill", "revive")
CHANGES = {"A": "added", "M": "modified", "T": "modified", "R": "renamed", "C": "copied", "D": "deleted"}
LOG_FORMAT = "--format=%x00%H%x1f%an%x1f%ae%x1f%aI%x1f%cI%x1f%B%x1f"


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
class _Layout:
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


def trail(repo: GitRepo, root: Path, config: Config, prompt: str | None = None) -> list[dict[str, Any]]:
    """The audit trail of `prompt` (or of every prompt that ever existed when None), oldest first."""
    rel = root.resolve().relative_to(repo.root).as_posix()
    layout = _Layout("" if rel == "." else rel + "/", config.prompts_dir)
    if not repo.has_commits():
        if prompt is not None:
            raise InputError(f"unknown prompt {prompt!r}: the repository has no commits yet")
        return []
    releases = release_tags(repo, config.tag_prefix)
    revs = sorted({"HEAD", *(r.commit for r in releases)})
    histories = [prompt_history(repo, revs, layout, prompt)] if prompt else all_histories(repo, revs, layout)
    contained = _contained(repo, releases, {v.entry.sha for h in histories for v in h.versions})
    events = list(reversed(Ledger(repo, config.ledger_branch).events()))
    nodes: list[_Node] = []
    for history in sorted(histories, key=lambda h: _current_id(h, layout)):
        nodes += _chain(history, layout, releases, contained, events)
    return [n.record for n in _ordered(nodes)]


# -- reading git ---------------------------------------------------------------------------------------------


def _walk(repo: GitRepo, revs: Sequence[str], path: str, follow: bool) -> list[tuple[LogEntry, str, list[list[str]]]]:
    """(commit, commit date, name-status rows) of the commits touching `path`, newest first."""
    args = ["-c", "core.quotePath=false", "log", LOG_FORMAT, "--date-order", "--name-status", "-M"]
    out = repo.run(*args, *(["--follow"] if follow else []), *revs, "--", path)
    walked = []
    for chunk in out.split("\x00")[1:]:
        sha, author, email, authored, committed, message, rest = chunk.split("\x1f", 6)
        rows = [line.split("\t") for line in rest.splitlines() if "\t" in line]
        walked.append((LogEntry(sha, author, email, authored, message.strip()), committed, rows))
    return walked


def _version(entry: LogEntry, committed: str, row: list[str], position: int) -> Version:
    change = CHANGES.get(row[0][:1], "modified")
    if len(row) >= 3:
        return Version(entry, committed, change, row[2], row[1] if change == "renamed" else "", position)
    return Version(entry, committed, change, row[1], "", position)


def prompt_history(repo: GitRepo, revs: Sequence[str], layout: _Layout, prompt: str) -> History:
    """Every version of one prompt, following renames (`git log --follow`)."""
    path = _path_of(repo, revs, layout, prompt)
    walked = _walk(repo, revs, path, follow=True)
    history = History()
    for position, (entry, committed, rows) in enumerate(reversed(walked)):
        if rows:
            history.versions.append(_version(entry, committed, rows[-1], position))
    return history


def _path_of(repo: GitRepo, revs: Sequence[str], layout: _Layout, prompt: str) -> str:
    """The file of a prompt id: at HEAD, else the last path with that id in the history (a removed prompt)."""
    at_head = repo.run("-c", "core.quotePath=false", "ls-tree", "-r", "--name-only", "HEAD", "--", layout.pathspec)
    for path in at_head.splitlines():
        if layout.prompt_id(path) == prompt:
            return path
    ever = repo.run(
        "-c", "core.quotePath=false", "log", "--format=", "--name-only", "--no-renames", *revs, "--", layout.pathspec
    )
    for path in ever.splitlines():
        if layout.prompt_id(path) == prompt:
            return path
    raise InputError(
        f"unknown prompt {prompt!r}: no file under {layout.pathspec}/ has had that id in the history",
        hint="run `promptops list` for the prompt ids; the trail needs the prompt committed",
    )


def all_histories(repo: GitRepo, revs: Sequence[str], layout: _Layout) -> list[History]:
    """Every prompt file that ever existed, each across its renames, from one walk of the history.

    Walking from the newest commit back, a rename `old -> new` means the file known as `new` was called
    `old` before; an addition means nothing of that name existed before it.
    """
    walked = _walk(repo, revs, layout.pathspec, follow=False)
    alias: dict[str, int] = {}
    histories: list[History] = []

    def ident(path: str) -> int:
        if path not in alias:
            alias[path] = len(histories)
            histories.append(History())
        return alias[path]

    for age, (entry, committed, rows) in enumerate(walked):
        position = len(walked) - 1 - age
        for row in sorted(rows, key=lambda r: r[0].startswith("R")):  # renames last: a swap reuses a name
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
    fields = ("%(refname:short)", "%(objectname)", "%(*objectname)", "%(taggername) %(taggeremail)")
    out = repo.run(
        "for-each-ref",
        "--format=%00" + "%1f".join((*fields, "%(taggerdate:iso-strict)", "%(contents)")),
        f"refs/tags/{prefix}*",
    )
    found: dict[str, Release] = {}
    for chunk in out.split("\x00")[1:]:
        name, obj, peeled, tagger, date, message = chunk.split("\x1f", 5)
        try:
            record = parse_message(message, name)
        except InputError:
            continue  # a tag that is not a promptops release
        found[name] = Release(name, peeled or obj, tagger.strip(), date.strip(), record)
    return [found[tag] for _, tag in released(list(found), prefix)]


def _contained(repo: GitRepo, releases: Sequence[Release], wanted: set[str]) -> dict[str, set[str]]:
    """For each release tag, which of the `wanted` commits its commit contains (one `rev-list` of the graph)."""
    if not releases or not wanted:
        return {r.tag: set() for r in releases}
    parents: dict[str, list[str]] = {}
    for line in repo.run("rev-list", "--parents", *sorted({r.commit for r in releases})).splitlines():
        sha, *rest = line.split()
        parents[sha] = rest
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


# -- records -------------------------------------------------------------------------------------------------


@dataclass
class _Node:
    record: dict[str, Any]
    chain: str = ""  # "commit" or "ledger": a history whose own order the trail keeps
    rank: tuple[int, str] = (0, "")  # the place in that history
    after: list[_Node] = field(default_factory=list)  # records that must come before this one


def _current_id(history: History, layout: _Layout) -> str:
    for version in reversed(history.versions):
        pid = layout.prompt_id(version.path)
        if pid is not None:
            return pid
    return history.latest.path


def _head(kind: str, prompt: str, time: str) -> dict[str, Any]:
    return {"type": kind, "prompt": prompt, "time": _utc(time)}


def _chain(
    history: History,
    layout: _Layout,
    releases: Sequence[Release],
    contained: Mapping[str, set[str]],
    events: Sequence[Event],
) -> list[_Node]:
    """The nodes of one prompt: its commits, the releases that first shipped them, and its ledger events."""
    pid = _current_id(history, layout)
    first: dict[str, str] = {}  # version sha -> the first release containing it
    shipped: dict[str, Version | None] = {}  # release tag -> the newest version it contains
    for release in releases:
        inside = [v for v in history.versions if v.entry.sha in contained.get(release.tag, ())]
        shipped[release.tag] = max(inside, key=lambda v: v.position) if inside else None
        for version in inside:
            first.setdefault(version.entry.sha, release.tag)
    nodes: list[_Node] = []
    commit_node: dict[str, _Node] = {}
    for version in history.versions:
        node = _Node(_commit_record(pid, version, first.get(version.entry.sha)), "commit", (version.position, pid))
        commit_node[version.entry.sha] = node
        nodes.append(node)
    release_node: dict[str, _Node] = {}
    for release in releases:
        includes = [v for v in history.versions if first.get(v.entry.sha) == release.tag]
        if includes:
            node = _Node(_release_record(pid, release, shipped[release.tag], includes, layout))
            node.after = [commit_node[v.entry.sha] for v in includes]
            release_node[release.tag] = node
            nodes.append(node)
    return nodes + _ledger_nodes(pid, history, layout, events, shipped, first, release_node)


def _ledger_nodes(
    pid: str,
    history: History,
    layout: _Layout,
    events: Sequence[Event],
    shipped: Mapping[str, Version | None],
    first: Mapping[str, str],
    release_node: Mapping[str, _Node],
) -> list[_Node]:
    """Promotes and rollbacks of releases that hold the prompt (before or after), kills and revives of it."""

    def present(tag: str | None) -> Version | None:
        version = shipped.get(tag or "")
        return version if version is not None and version.change != "deleted" else None

    ids = {layout.prompt_id(v.path) for v in history.versions} - {None}
    running: dict[str, str] = {}  # environment -> release, replayed from the start of the ledger
    nodes = []
    for position, event in enumerate(events):
        previous = running.get(event.environment)
        if event.action in ("promote", "rollback"):
            running[event.environment] = event.version
            version = present(event.version)
            if version is None and present(previous) is None:
                continue
            node = _Node(_deploy_record(pid, event, previous, version), "ledger", (position, pid))
            source = first.get(version.entry.sha, "") if version else ""
            node.after = [release_node[source]] if source in release_node else []
        else:
            if event.prompt not in ids:
                continue
            if event.version in shipped:  # the release the environment ran says which file had that id
                version = present(event.version)
                if version is None or layout.prompt_id(version.path) != event.prompt:
                    continue
            node = _Node(_switch_record(pid, event), "ledger", (position, pid))
        nodes.append(node)
    return nodes


def _commit_record(pid: str, version: Version, release: str | None) -> dict[str, Any]:
    entry = version.entry
    record = _head("commit", pid, version.committed)
    record.update(commit=entry.sha, path=version.path, change=version.change)
    if version.old_path:
        record["from"] = version.old_path
    record.update(
        author=f"{entry.author} <{entry.email}>",
        authored=_utc(entry.date),
        subject=entry.subject,
        reasons=entry.trailers("Change-Reason"),
        approved_by=entry.trailers("Approved-by"),
        release=release,
    )
    return record


def _release_record(
    pid: str, release: Release, version: Version | None, includes: Iterable[Version], layout: _Layout
) -> dict[str, Any]:
    rec = release.record
    record = _head("release", pid, release.time or str(rec.get("commit_time", "")))
    path = layout.project_path(version.path) if version else ""
    removed = version is None or version.change == "deleted"
    changed = [c.get("change") for c in rec.get("changed", []) if c.get("prompt") == pid]
    record.update(
        release=release.tag,
        version=rec.get("version"),
        commit=release.commit,
        digest=rec.get("digest"),
        by=release.tagger,
        prompt_commit=version.entry.sha if version else None,
        prompt_hash=None if removed else rec.get("hashes", {}).get("prompts", {}).get(path),
        removed=removed,
        change=changed[0] if changed else None,
        includes=[v.entry.sha for v in includes],
        evidence=_evidence(rec.get("evidence") or {}, {pid, layout.prompt_id(version.path) if version else pid}),
    )
    if rec.get("commit") != release.commit:
        record["warning"] = f"the tag points at {release.commit[:12]}, its record at {str(rec.get('commit'))[:12]}"
    return record


def _evidence(evidence: Mapping[str, Any], ids: set[str | None]) -> dict[str, Any]:
    """The eval evidence of a release, narrowed to the suites of this prompt."""
    suites = [
        {k: s.get(k) for k in ("suite", "cases", "passed", "failed", "errors", "pass_rate", "threshold", "gate_passed")}
        for s in evidence.get("suites", [])
        if s.get("prompt") in ids
    ]
    names = {s["suite"] for s in suites}
    return {
        "skipped": evidence.get("skipped"),
        "mode": evidence.get("mode"),
        "results_digest": evidence.get("results_digest"),
        "suites": suites,
        "overrides": [o for o in evidence.get("overrides", []) if o.get("suite") in names],
    }


def _deploy_record(pid: str, event: Event, previous: str | None, version: Version | None) -> dict[str, Any]:
    record = _head(event.action, pid, event.time)
    record.update(
        environment=event.environment,
        release=event.version,
        previous=previous,
        digest=event.digest,
        prompt_commit=version.entry.sha if version else None,
        by=event.by,
        reason=event.reason,
        approved_by=[event.approved_by] if event.approved_by else [],
        ledger=event.commit,
    )
    return record


def _switch_record(pid: str, event: Event) -> dict[str, Any]:
    record = _head(event.action, pid, event.time)
    record.update(
        environment=event.environment,
        release=event.version or None,
        event_prompt=event.prompt,
        by=event.by,
        reason=event.reason,
        approved_by=[event.approved_by] if event.approved_by else [],
        ledger=event.commit,
    )
    return record


# -- order ---------------------------------------------------------------------------------------------------


def _ordered(nodes: list[_Node]) -> list[_Node]:
    """Causal order first, time between independent records, then the order the records were made.

    Commits keep the order of the history walk and ledger events the order of the ledger; a release comes
    after the commits it ships and a promote after the release that shipped its prompt. A topological sort
    that, among the records free to go next, takes the earliest.
    """
    index = {id(n): i for i, n in enumerate(nodes)}
    deps: list[set[int]] = [{index[id(d)] for d in n.after} for n in nodes]
    for chain in ("commit", "ledger"):
        members = sorted((i for i, n in enumerate(nodes) if n.chain == chain), key=lambda i: (nodes[i].rank, i))
        for before, after in itertools.pairwise(members):
            deps[after].add(before)
    waiting = [len(d) for d in deps]
    users: list[list[int]] = [[] for _ in nodes]
    for i, d in enumerate(deps):
        for j in d:
            users[j].append(i)
    ready = [(_seconds(n.record["time"]), i) for i, n in enumerate(nodes) if not waiting[i]]
    heapq.heapify(ready)
    out = []
    while ready:
        _, i = heapq.heappop(ready)
        out.append(nodes[i])
        for j in users[i]:
            waiting[j] -= 1
            if not waiting[j]:
                heapq.heappush(ready, (_seconds(nodes[j].record["time"]), j))
    return out


def _seconds(text: str) -> float:
    try:
        return _parse(text).timestamp()
    except ValueError:
        return float("-inf")


def _parse(text: str) -> datetime:
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _utc(text: str) -> str:
    """An ISO time in UTC (`2026-01-01T09:30:00Z`); text that is not a time is kept as it is."""
    try:
        return _parse(text).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return text
