"""The diff report: frozen dataclasses (data, never text), and the two forms their values take.

Every comparison speaks one vocabulary, `Change`; values in it are plain JSON (`_plain`), and text that
differs is kept as a unified diff (`_unified`).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

DIFF_CONTEXT = 3


@dataclass(frozen=True)
class Change:
    """One difference. `field` names what changed; `note` says why it breaks or weakens something."""

    kind: str  # prompt | frontmatter | template | partial | route | source | routing | suite | case | assertion
    field: str
    before: Any = None
    after: Any = None
    behaviour: bool = False
    breaking: bool = False
    weakened: bool = False
    note: str = ""


@dataclass(frozen=True)
class MessageChange:
    index: int  # 1-based, on the side that has the message (head, unless removed)
    role: str  # "user", or "system → user" when the role changed
    status: str  # changed | added | removed
    diff: str  # unified diff lines of the content, without file headers


@dataclass(frozen=True)
class RenderedCase:
    """An eval case whose messages differ between the two sides, or that fails to render on one."""

    suite: str
    case: str
    messages: tuple[MessageChange, ...] = ()
    base_error: str | None = None
    head_error: str | None = None


@dataclass(frozen=True)
class PromptDiff:
    id: str
    status: str  # added | removed | renamed | modified
    path: str
    old_id: str | None = None
    old_path: str | None = None
    risk: str = "low"
    owner: str = ""
    high_risk: bool = False  # risk: high on either side
    changes: tuple[Change, ...] = ()
    template_diff: str = ""
    rendered: tuple[RenderedCase, ...] = ()
    rendered_cases: int = 0  # eval cases rendered on both sides
    route: tuple[Mapping[str, Any] | None, Mapping[str, Any] | None] | None = None

    @property
    def behaviour(self) -> bool:
        return any(c.behaviour for c in self.changes)


@dataclass(frozen=True)
class PartialDiff:
    name: str
    path: str
    status: str  # added | removed | modified
    diff: str
    reaches: tuple[str, ...] = ()  # prompt ids whose templates include it (either side)


@dataclass(frozen=True)
class CaseDiff:
    id: str
    status: str  # added | removed | modified
    changes: tuple[Change, ...] = ()


@dataclass(frozen=True)
class SuiteDiff:
    id: str
    status: str  # added | removed | renamed | modified
    path: str
    prompt: str
    old_id: str | None = None
    changes: tuple[Change, ...] = ()
    cases: tuple[CaseDiff, ...] = ()

    @property
    def all_changes(self) -> tuple[Change, ...]:
        return self.changes + tuple(c for case in self.cases for c in case.changes)


@dataclass(frozen=True)
class Problem:
    """A file that failed to load on one side only: it is shown, not compared."""

    side: str  # base | head
    file: str
    line: int
    message: str


@dataclass(frozen=True)
class EvalSuite:
    suite: str
    prompt: str
    base_pass_rate: float | None
    head_pass_rate: float
    threshold: float
    gate_passed: bool
    classes: Mapping[str, int]
    gate: str = ""  # pass | fail | incomplete
    axes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EvalCase:
    suite: str
    case: str
    model: str
    variant: str
    change: str  # regressed | fixed | still-failing | flaky | unchecked | unchanged | new | removed
    base_verdict: str | None
    head_verdict: str | None
    output_diff: str = ""
    error: str = ""  # why a run ended in error ("base: ..." when it was the baseline's)
    base_model: str | None = None  # the model at BASE (differs from `model` after a model swap)
    axes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EvalDiff:
    """The paired baseline eval of the affected suites (`diff --eval`)."""

    suites: tuple[EvalSuite, ...] = ()
    cases: tuple[EvalCase, ...] = ()
    errors: int = 0
    interrupted: bool = False
    skipped: str = ""  # why no eval ran (no affected suites)

    @property
    def regressions(self) -> list[EvalCase]:
        return [c for c in self.cases if c.change == "regressed"]


@dataclass(frozen=True)
class DiffReport:
    base: str
    head: str
    prompts: tuple[PromptDiff, ...] = ()
    partials: tuple[PartialDiff, ...] = ()
    routing: tuple[Change, ...] = ()
    suites: tuple[SuiteDiff, ...] = ()
    problems: tuple[Problem, ...] = ()
    eval: EvalDiff | None = None

    @property
    def changed(self) -> bool:
        return bool(self.prompts or self.partials or self.routing or self.suites or self.problems)

    def changes(self) -> Iterator[tuple[str, Change]]:
        """Every change with the subject it belongs to ("prompt ID", "suite ID", "routing", "partial NAME")."""
        for p in self.prompts:
            yield from ((f"prompt {p.id}", c) for c in p.changes)
        for part in self.partials:
            yield f"partial {part.name}", Change("partial", part.name, behaviour=bool(part.reaches))
        yield from (("routing", c) for c in self.routing)
        for s in self.suites:
            yield from ((f"suite {s.id}", c) for c in s.all_changes)


def _unified(before: str, after: str, a: str, b: str, context: int = DIFF_CONTEXT) -> str:
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(), a, b, n=context, lineterm="")
    return "\n".join(lines)


def _field_diff(a: Any, b: Any, prefix: str) -> list[Change]:
    """Changes between two JSON values, one per differing leaf; a key on one side only is one change."""
    if a == b:
        return []
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        out = []
        for key in sorted(set(a) | set(b), key=str):
            where = f"{prefix}.{key}" if prefix else str(key)
            if key not in a or key not in b:
                out.append(Change("", where, _plain(a.get(key)), _plain(b.get(key))))
            else:
                out += _field_diff(a[key], b[key], where)
        return out
    return [Change("", prefix, _plain(a), _plain(b))]


def _plain(value: Any) -> Any:
    """JSON data: mappings to dicts, tuples to lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
