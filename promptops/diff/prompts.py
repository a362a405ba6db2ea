"""Prompts compared: added, removed, renamed or modified, with every change classified.

A prompt's entry gathers its front matter (contracts.py judges inputs and output), its template and the
changed partials it includes, its rendered eval cases (rendered.py), its resolved route (routes.py) and
its pinned source documents.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import replace

from ..model import Prompt
from ..render import Renderer
from ..workspace import DictSource, Source
from .context import _broken, _Context
from .contracts import _inputs, _output_breaks
from .includes import reaching
from .model import Change, PromptDiff, RenderedCase, _field_diff, _plain, _unified
from .rendered import _render_cases
from .routes import _route

FRONTMATTER = ("description", "owner", "risk", "tags", "inputs", "required", "output", "sources", "fallback", "params")
METADATA = frozenset({"description", "owner", "risk", "tags"})  # fields that do not change what a caller gets


def _templates(r: Renderer) -> dict[str, str]:
    texts = {name: p.body for name, p in r.snapshot.partials.items()}
    texts.update({r.name_of(p): p.body for p in r.snapshot.prompts.values()})
    return texts


def _changed_templates(ctx: _Context) -> set[str]:
    old, new = _templates(ctx.base_r), _templates(ctx.head_r)
    return {n for n in set(old) | set(new) if old.get(n) != new.get(n)}


def _prompts(ctx: _Context, renames: Mapping[str, str], partials: set[str]) -> list[PromptDiff]:
    base, head = ctx.base.prompts, ctx.head.prompts
    by_path = {p.path: pid for pid, p in head.items()}
    renamed: dict[str, str] = {}  # old id -> new id
    for pid in sorted(set(base) - set(head)):
        new_id = by_path.get(renames.get(base[pid].path, ""))
        if new_id is not None and new_id not in base and new_id not in renamed.values():
            renamed[pid] = new_id
    pairs = [(base[pid], head[pid]) for pid in set(base) & set(head)] + [(base[o], head[n]) for o, n in renamed.items()]
    changed = _changed_templates(ctx)
    candidates = reaching({**_templates(ctx.base_r), **_templates(ctx.head_r)}, changed) | changed if changed else set()
    out = []
    for pid in set(base) - set(head) - set(renamed):
        if not _broken(ctx.head, base[pid].path):  # one that failed to load is shown as a problem
            out.append(_one_sided(base[pid], "removed"))
    for pid in set(head) - set(base) - set(renamed.values()):
        if not _broken(ctx.base, head[pid].path):
            out.append(_one_sided(head[pid], "added"))
    for old, new in pairs:
        reached = _reached(ctx, old, new, changed, candidates)
        for name in reached:
            if name in partials:
                ctx.reached_by.setdefault(name, set()).add(new.id)
        entry = _modified(ctx, old, new, reached)
        if entry is not None:
            out.append(entry)
    return sorted(out, key=lambda p: p.id)


def _one_sided(p: Prompt, status: str) -> PromptDiff:
    if status == "removed":
        change = Change(
            "prompt", p.id, behaviour=True, breaking=True, note=f"prompt {p.id!r} removed: its callers break"
        )
    else:
        change = Change("prompt", p.id, behaviour=True, note=f"new prompt {p.id!r}")
    return PromptDiff(
        id=p.id, status=status, path=p.path, risk=p.risk, owner=p.owner, high_risk=p.risk == "high", changes=(change,)
    )


def _reached(ctx: _Context, old: Prompt, new: Prompt, changed: set[str], candidates: set[str]) -> list[str]:
    """Changed templates (other than the prompt's own file) that the prompt includes on either side."""
    if not {ctx.base_r.name_of(old), ctx.head_r.name_of(new)} & candidates:
        return []
    found: set[str] = set()
    for r, p in ((ctx.base_r, old), (ctx.head_r, new)):
        own = r.name_of(p)
        found |= {info.name for info in r.closure(own)[0] if info.name != own and info.name in changed}
    return sorted(found)


def _modified(ctx: _Context, old: Prompt, new: Prompt, reached: list[str]) -> PromptDiff | None:
    changes: list[Change] = []
    if old.id != new.id:
        note = f"prompt id {old.id!r} is now {new.id!r}: callers of the old id break"
        changes.append(Change("prompt", "id", old.id, new.id, behaviour=True, breaking=True, note=note))
    changes += _frontmatter(old, new)
    template = ""
    if old.body != new.body:
        template = _unified(old.body, new.body, f"a/{old.path}", f"b/{new.path}")
        changes.append(Change("template", new.path, behaviour=True))
    changes += [Change("partial", name, behaviour=True, note=f"includes {name}, which changed") for name in reached]
    sources = _sources(ctx, old, new)
    rendered: tuple[RenderedCase, ...] = ()
    count = 0
    if template or reached or old.inputs != new.inputs or sources:  # source() puts a document in the messages
        rendered, count = _render_cases(ctx, old, new)
    route_changes, route = _route(ctx, old, new)
    changes += route_changes
    changes += sources
    if not changes:
        return None
    return PromptDiff(
        id=new.id,
        status="renamed" if old.id != new.id else "modified",
        path=new.path,
        old_id=old.id if old.id != new.id else None,
        old_path=old.path if old.path != new.path else None,
        risk=new.risk,
        owner=new.owner,
        high_risk="high" in (old.risk, new.risk),
        changes=tuple(changes),
        template_diff=template,
        rendered=rendered,
        rendered_cases=count,
        route=route,
    )


def _frontmatter(old: Prompt, new: Prompt) -> list[Change]:
    changes: list[Change] = []
    for name in FRONTMATTER:
        a, b = getattr(old, name), getattr(new, name)
        if name == "required":
            a, b = sorted(old.required_inputs), sorted(new.required_inputs)
        if _plain(a) == _plain(b):
            continue
        if name == "inputs":
            changes += _inputs(old, new)
        elif name == "params":
            changes += [replace(c, kind="frontmatter", behaviour=True) for c in _field_diff(a, b, "params")]
        elif name == "output":
            reasons = _output_breaks(a, b)
            changes.append(
                Change("frontmatter", "output", _plain(a), _plain(b), True, bool(reasons), note="; ".join(reasons))
            )
        elif name == "required":
            added = [n for n in b if n not in a]
            notes = [f"input {n!r} is now required" if n in old.inputs else f"new required input {n!r}" for n in added]
            changes.append(Change("frontmatter", "required", a, b, True, bool(notes), note="; ".join(notes)))
        elif name == "risk":
            weakened = a == "high"
            note = "risk lowered from high: the high-risk lint rules no longer apply" if weakened else ""
            changes.append(Change("frontmatter", "risk", a, b, weakened=weakened, note=note))
        else:
            changes.append(Change("frontmatter", name, _plain(a), _plain(b), behaviour=name not in METADATA))
    return changes


def _docs(source: Source, patterns: Sequence[str]) -> dict[str, str]:
    out = {}
    for pattern in patterns:
        for path in source.glob(pattern):
            data = source.read(path)
            if data is not None:
                out[path] = hashlib.sha256(data).hexdigest()
    return out


def _sources(ctx: _Context, old: Prompt, new: Prompt) -> list[Change]:
    if not old.sources and not new.sources:
        return []
    if ctx.changed is not None and old.sources == new.sources:
        touched = DictSource(dict.fromkeys(ctx.changed, b""))
        if not any(touched.glob(p) for p in {*old.sources, *new.sources}):
            return []
    a, b = _docs(ctx.base_source, old.sources), _docs(ctx.head_source, new.sources)
    return [
        Change("source", path, a.get(path), b.get(path), behaviour=True, note="pinned source document changed")
        for path in sorted(set(a) | set(b))
        if a.get(path) != b.get(path)
    ]
