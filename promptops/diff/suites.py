"""Eval suites compared: their settings, cases and assertions; a lower bar is a weakened gate."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from ..model import Case, Suite
from ..wording import count
from .context import _broken, _Context
from .contracts import _show
from .model import CaseDiff, Change, SuiteDiff, _field_diff, _plain


def _suites(ctx: _Context, renames: Mapping[str, str]) -> Iterator[SuiteDiff]:
    base, head = ctx.base.suites, ctx.head.suites
    by_path = {s.path: sid for sid, s in head.items()}
    matched: dict[str, str] = {}  # base id -> head id
    for sid, old in base.items():
        if sid in head:
            matched[sid] = sid
        elif by_path.get(renames.get(old.path, "")) not in (None, *base):
            matched[sid] = by_path[renames[old.path]]
    out = []
    for sid, old in base.items():
        if sid not in matched:
            if not _broken(ctx.head, old.path):
                note = f"suite removed: its {count(len(old.cases), 'case')} no longer run"
                change = Change("suite", sid, weakened=True, note=note)
                out.append(SuiteDiff(sid, "removed", old.path, old.prompt, changes=(change,)))
            continue
        entry = _suite(old, head[matched[sid]])
        if entry is not None:
            out.append(entry)
    for sid, new in head.items():
        if sid not in matched.values() and not _broken(ctx.base, new.path):
            out.append(SuiteDiff(sid, "added", new.path, new.prompt, changes=(Change("suite", sid, note="new suite"),)))
    return iter(sorted(out, key=lambda s: s.id))


def _suite(old: Suite, new: Suite) -> SuiteDiff | None:
    changes = []
    if old.id != new.id:
        changes.append(Change("suite", "id", old.id, new.id))
    for name in ("prompt", "description", "threshold", "repeat", "min_consistency", "max_flaky", "datasets"):
        a, b = _plain(getattr(old, name)), _plain(getattr(new, name))
        if a != b:
            note = _weaker_gate(name, a, b)
            changes.append(Change("suite", name, a, b, weakened=bool(note), note=note))
    base_cases, head_cases = {c.id: c for c in old.cases}, {c.id: c for c in new.cases}
    cases = []
    for cid in sorted(set(base_cases) | set(head_cases)):
        a_case, b_case = base_cases.get(cid), head_cases.get(cid)
        if a_case is None:
            cases.append(CaseDiff(cid, "added", (Change("case", cid, note="new case"),)))
        elif b_case is None:
            cases.append(CaseDiff(cid, "removed", (Change("case", cid, weakened=True, note="case removed"),)))
        else:
            found = _case(a_case, b_case)
            if found:
                cases.append(CaseDiff(cid, "modified", tuple(found)))
    if not changes and not cases:
        return None
    status = "renamed" if old.id != new.id else "modified"
    return SuiteDiff(
        new.id, status, new.path, new.prompt, old.id if status == "renamed" else None, tuple(changes), tuple(cases)
    )


def _lowered(a: Any, b: Any) -> bool:
    """b is a lower bar than a. Written as `not b >= a` so that a NaN (which compares false with
    everything, and so disables a gate) always counts as lowered."""
    return a is not None and (b is None or not b >= a)


def _raised(a: Any, b: Any) -> bool:
    return a is not None and (b is None or not b <= a)


def _weaker_gate(name: str, a: Any, b: Any) -> str:
    if name in ("threshold", "repeat", "min_consistency") and _lowered(a, b):
        return f"{name} lowered from {a} to {b}" if b is not None else f"{name} {a} removed"
    if name == "max_flaky" and _raised(a, b):
        return f"max_flaky raised from {a} to {b}" if b is not None else f"max_flaky {a} removed (no limit)"
    return ""


def _case(old: Case, new: Case) -> list[Change]:
    changes = [replace(c, kind="case") for c in _field_diff(_plain(old.vars), _plain(new.vars), "vars")]
    if old.description != new.description:
        changes.append(Change("case", "description", old.description, new.description))
    return changes + _assertions([_assertion(a) for a in old.asserts], [_assertion(a) for a in new.asserts])


def _assertion(a: Any) -> dict[str, Any]:
    data = {
        "type": ("not-" if a.negate else "") + a.type,
        "value": _plain(a.value),
        "weight": a.weight,
        "threshold": a.threshold,
        "fallback": a.fallback,
    }
    data.update(_plain(a.config))
    return data


def _label(a: Mapping[str, Any]) -> str:
    value = "" if a.get("value") is None else " " + _short(_show(a["value"]), 60)
    return f"{a['type']}{value}"


def _assertions(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[Change]:
    """Removed, added and changed assertions; removing one or loosening it weakens the gate."""
    removed, added = list(old), []
    for a in new:
        if a in removed:
            removed.remove(a)
        else:
            added.append(a)
    out = []
    for a in list(removed):
        twin = next((b for b in added if _same_check(a, b)), None)
        if twin is None:
            continue
        removed.remove(a)
        added.remove(twin)
        notes = _looser_check(a, twin)
        out.append(Change("assertion", _label(a), a, twin, weakened=bool(notes), note="; ".join(notes)))
    out += [
        Change("assertion", _label(a), a, None, weakened=True, note=f"assertion {_label(a)} removed") for a in removed
    ]
    out += [Change("assertion", _label(b), None, b) for b in added]
    return out


def _same_check(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return all(a.get(k) == b.get(k) for k in ("type", "value", "path"))


def _looser_check(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    notes = []
    if _lowered(a.get("threshold"), b.get("threshold")):
        notes.append(f"{_label(a)}: threshold lowered from {a['threshold']} to {b.get('threshold')}")
    if a.get("fallback") and not b.get("fallback"):
        notes.append(f"{_label(a)}: no longer checks the kill-switch answer")
    if _lowered(a.get("min"), b.get("min")):
        notes.append(f"{_label(a)}: min lowered from {a['min']} to {b.get('min')}")
    if _raised(a.get("max"), b.get("max")):
        notes.append(f"{_label(a)}: max raised from {a['max']} to {b.get('max')}")
    return notes


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
