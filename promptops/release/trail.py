"""The audit trail: the chain of a prompt (or of every prompt) read from git alone, oldest first.

Three histories meet here: the commits that changed the prompt file (with their `Change-Reason:` and
`Approved-by:` trailers), the release tags whose records carry the evidence that gated them, and the ledger
branch with every promote, rollback, kill and revive. Each becomes one record with a `type`, the `prompt` id
and a `time`. The order is causal first (a release after the commits it ships, a promote after the release
it promotes, each history in its own order) and by time between histories, so a skewed clock cannot put
a promote before the release it names. The histories are read from git in release/histories.py; this module
turns them into records and orders them.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..config_model import Config
from ..errors import InputError
from ..git import GitRepo
from .approving import labels
from .environments import Context
from .histories import (
    History,
    Layout,
    Release,
    Version,
    all_histories,
    contained_in_releases,
    included_partials,
    partial_versions,
    prompt_history,
    release_tags,
)
from .ledger import Event, Ledger


def trail(repo: GitRepo, root: Path, config: Config, prompt: str | None = None) -> list[dict[str, Any]]:
    """The audit trail of `prompt` (or of every prompt that ever existed when None), oldest first."""
    rel = root.resolve().relative_to(repo.root).as_posix()
    layout = Layout("" if rel == "." else rel + "/", config.prompts_dir)
    if not repo.has_commits():
        if prompt is not None:
            raise InputError(f"unknown prompt {prompt!r}: the repository has no commits yet")
        return []
    releases = release_tags(repo, config.tag_prefix)
    revs = sorted({"HEAD", *(r.commit for r in releases)})
    histories = [prompt_history(repo, revs, layout, prompt)] if prompt else all_histories(repo, revs, layout)
    ids = [_current_id(h, layout) for h in histories]
    partials = included_partials(repo, root, layout, ids)
    via = {path: partial_versions(repo, revs, path) for path in sorted({p for ps in partials.values() for p in ps})}
    wanted = {v.entry.sha for h in histories for v in h.versions} | {v.entry.sha for vs in via.values() for v in vs}
    contained = contained_in_releases(repo, releases, wanted)
    ledger = Ledger(repo, config.ledger_branch)
    events = list(reversed(ledger.events()))
    marks = labels(Context(repo, config, ledger, who="", root=root), events)
    nodes: list[_Node] = []
    for history in sorted(histories, key=lambda h: _current_id(h, layout)):
        through = {p: via[p] for p in partials.get(_current_id(history, layout), [])}
        nodes += _chain(history, layout, releases, contained, events, through)
    for node in nodes:
        if "ledger" in node.record:
            node.record["approval"] = marks.get(node.record["ledger"])
    return [n.record for n in _ordered(nodes)]


# -- records -------------------------------------------------------------------------------------------------


@dataclass
class _Node:
    record: dict[str, Any]
    chain: str = ""  # "commit" or "ledger": a history whose own order the trail keeps
    rank: tuple[int, str] = (0, "")  # the place in that history
    after: list[_Node] = field(default_factory=list)  # records that must come before this one


def _current_id(history: History, layout: Layout) -> str:
    for version in reversed(history.versions):
        pid = layout.prompt_id(version.path)
        if pid is not None:
            return pid
    return history.latest.path


def _head(kind: str, prompt: str, time: str) -> dict[str, Any]:
    return {"type": kind, "prompt": prompt, "time": _utc(time)}


def _chain(
    history: History,
    layout: Layout,
    releases: Sequence[Release],
    contained: Mapping[str, set[str]],
    events: Sequence[Event],
    via: Mapping[str, Sequence[Version]],
) -> list[_Node]:
    """The nodes of one prompt: its commits and those of the partials it includes (`via`: partial path ->
    its versions), the releases that first shipped them, and its ledger events."""
    pid = _current_id(history, layout)
    own = {v.entry.sha for v in history.versions}
    born = min((_seconds(_utc(v.committed)) for v in history.versions), default=float("inf"))
    through = [  # partial changes from the prompt's first version on (before it, they did not reach it)
        v
        for versions in via.values()
        for v in versions
        if v.entry.sha not in own and _seconds(_utc(v.committed)) >= born
    ]
    first: dict[str, str] = {}  # version sha -> the first release containing it
    shipped: dict[str, Version | None] = {}  # release tag -> the newest version it contains
    for release in releases:
        inside = [v for v in history.versions if v.entry.sha in contained.get(release.tag, ())]
        shipped[release.tag] = max(inside, key=lambda v: v.position) if inside else None
        for version in [*inside, *(v for v in through if v.entry.sha in contained.get(release.tag, ()))]:
            first.setdefault(version.entry.sha, release.tag)
    nodes: list[_Node] = []
    commit_node: dict[str, _Node] = {}
    for version in history.versions:
        node = _Node(_commit_record(pid, version, first.get(version.entry.sha)), "commit", (version.position, pid))
        commit_node[version.entry.sha] = node
        nodes.append(node)
    for version in through:  # a change to an included partial changes the prompt's messages
        if version.entry.sha in commit_node:
            continue
        record = _commit_record(pid, version, first.get(version.entry.sha)) | {"via": version.path}
        commit_node[version.entry.sha] = _Node(record)
        nodes.append(commit_node[version.entry.sha])
    release_node: dict[str, _Node] = {}
    for release in releases:
        includes = [v for v in history.versions if first.get(v.entry.sha) == release.tag]
        partial = [v for v in through if first.get(v.entry.sha) == release.tag]
        if includes or (partial and shipped[release.tag] is not None):
            record = _release_record(pid, release, shipped[release.tag], includes, layout)
            record["via_partials"] = sorted({v.entry.sha for v in partial})
            node = _Node(record)
            node.after = [commit_node[v.entry.sha] for v in [*includes, *partial]]
            release_node[release.tag] = node
            nodes.append(node)
    return nodes + _ledger_nodes(pid, history, layout, events, shipped, first, release_node)


def _ledger_nodes(
    pid: str,
    history: History,
    layout: Layout,
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
    pid: str, release: Release, version: Version | None, includes: Iterable[Version], layout: Layout
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
