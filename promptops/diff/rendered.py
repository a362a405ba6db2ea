"""Eval cases rendered on both sides: the messages a changed prompt now sends."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from ..errors import InputError
from ..model import Case, Message, Prompt, Snapshot
from ..redaction import scrub
from ..render import Renderer, shown
from .context import _Context
from .model import MessageChange, RenderedCase


def _cases_of(snapshot: Snapshot, prompt_id: str) -> dict[tuple[str, str], Case]:
    return {(s.id, c.id): c for s in snapshot.suites.values() if s.prompt == prompt_id for c in s.cases}


def _render(r: Renderer, prompt_id: str, case: Case, secrets: Sequence[str]) -> tuple[list[Message] | None, str | None]:
    """The case's messages as they may be shown (keys scrubbed), or why it does not render."""
    try:
        return shown(r.render(prompt_id, case.vars), secrets), None
    except InputError as exc:
        return None, scrub(str(exc), secrets)


def _render_cases(ctx: _Context, old: Prompt, new: Prompt) -> tuple[tuple[RenderedCase, ...], int]:
    """Every eval case of the prompt (present on both sides) rendered at both; those that differ."""
    base_cases, head_cases = _cases_of(ctx.base, old.id), _cases_of(ctx.head, new.id)
    shared = sorted(set(base_cases) & set(head_cases))
    out = []
    for key in shared:
        a, a_err = _render(ctx.base_r, old.id, base_cases[key], ctx.secrets)
        b, b_err = _render(ctx.head_r, new.id, head_cases[key], ctx.secrets)
        if a_err or b_err:
            if a_err != b_err:
                out.append(RenderedCase(key[0], key[1], base_error=a_err, head_error=b_err))
            continue
        assert a is not None and b is not None
        if a != b:
            out.append(RenderedCase(key[0], key[1], messages=tuple(message_changes(a, b))))
    return tuple(out), len(shared)


def message_changes(a: Sequence[Message], b: Sequence[Message]) -> list[MessageChange]:
    """Messages aligned by role and content; changed ones with a line diff, the rest as added or removed."""
    matcher = difflib.SequenceMatcher(a=[(m.role, m.content) for m in a], b=[(m.role, m.content) for m in b])
    out: list[MessageChange] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        pairs = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        for k in range(pairs):
            old, new = a[i1 + k], b[j1 + k]
            role = old.role if old.role == new.role else f"{old.role} → {new.role}"
            text = "\n".join(
                list(difflib.unified_diff(old.content.splitlines(), new.content.splitlines(), n=2, lineterm=""))[2:]
            )
            out.append(MessageChange(j1 + k + 1, role, "changed", text))
        for i in range(i1 + pairs, i2):
            out.append(
                MessageChange(i + 1, a[i].role, "removed", "\n".join("-" + x for x in a[i].content.splitlines()))
            )
        for j in range(j1 + pairs, j2):
            out.append(MessageChange(j + 1, b[j].role, "added", "\n".join("+" + x for x in b[j].content.splitlines())))
    return out
