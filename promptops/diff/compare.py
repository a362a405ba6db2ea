"""`diff(base, head)`: two snapshots compared, every difference classified, as a DiffReport."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import replace

from ..model import Snapshot
from ..render import Renderer, Shared
from ..workspace import Source
from .context import _Context
from .model import DiffReport, PartialDiff, Problem, _unified
from .prompts import _prompts
from .routes import _routing
from .suites import _suites


def diff(
    base: Snapshot,
    head: Snapshot,
    *,
    base_source: Source,
    head_source: Source,
    renames: Mapping[str, str] | None = None,
    changed: Collection[str] | None = None,
    secrets: Sequence[str] = (),
) -> DiffReport:
    """Everything that differs between two snapshots, classified.

    `renames` maps old file paths to new ones (git's rename detection), for prompts and suites. `changed`,
    when given, is every path that differs between the sources: pinned documents outside it are not read.
    Rendered messages are shown scrubbed: of the key values in `secrets`, and of anything shaped like a key.
    """
    renames = dict(renames or {})
    shared = Shared()  # a template the change left alone is analysed and compiled once, not once a side
    renderers = Renderer(base, shared), Renderer(head, shared)
    ctx = _Context(base, head, *renderers, base_source, head_source, changed, secrets=tuple(secrets))
    partials = _partials(ctx)
    prompts = _prompts(ctx, renames, {p.name for p in partials})
    return DiffReport(
        base=base.label,
        head=head.label,
        prompts=tuple(prompts),
        partials=tuple(replace(p, reaches=tuple(sorted(ctx.reached_by.get(p.name, ())))) for p in partials),
        routing=tuple(_routing(base.routing, head.routing)),
        suites=tuple(_suites(ctx, renames)),
        problems=tuple(_problems(base, head)),
    )


def _problems(base: Snapshot, head: Snapshot) -> Iterator[Problem]:
    def errors(s: Snapshot) -> dict[tuple[str, str], int]:
        return {(p.file, p.message): p.line for p in s.problems if p.severity == "error"}

    b, h = errors(base), errors(head)
    for key in sorted(set(b) - set(h)):
        yield Problem("base", key[0], b[key], key[1])
    for key in sorted(set(h) - set(b)):
        yield Problem("head", key[0], h[key], key[1])


def _partials(ctx: _Context) -> list[PartialDiff]:
    base, head = ctx.base.partials, ctx.head.partials
    out = []
    for name in sorted(set(base) | set(head)):
        old, new = base.get(name), head.get(name)
        if old is not None and new is not None and old.body == new.body:
            continue
        status = "added" if old is None else "removed" if new is None else "modified"
        path = (new or old).path  # type: ignore[union-attr]
        text = _unified(old.body if old else "", new.body if new else "", f"a/{path}", f"b/{path}")
        out.append(PartialDiff(name=name, path=path, status=status, diff=text))
    return out
