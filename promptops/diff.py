"""What a change does to prompts, routing, evals and sources, for the reviewer of a pull request.

`diff(base, head)` compares two snapshots and returns a DiffReport: data, never text (report/diff.py writes
it). Every change is classified: does it affect behaviour (what a caller gets), does it break a contract
(a prompt removed or renamed, its inputs or output schema changed incompatibly), does it weaken a gate
(a lower threshold, fewer cases or assertions). Only loaded data is compared, so a comment or whitespace
edit in YAML is no change; lines are ignored. `version_bump` turns a report into the semantic version bump
a release needs.

`open_sides` loads the two sides of a git change. It asks git which files changed and loads only what
they can reach (the prompts including a changed partial, the suites of an affected prompt, the prompts a
routing change re-routes), so a one-prompt change in a repository of thousands costs a few files, not two
full loads; when HEAD is the working tree, files git reports unchanged are read from disk on both sides.

The module is longer than most (about 1,300 lines) because the comparisons share one vocabulary (Change)
and the loader of the two sides must agree with them on what "affected" means; the contract rules of JSON
Schemas (`_admits_more`) and the scoped loading are its two self-contained halves, candidates for their
own modules if either grows.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from . import __version__, loader, routing
from .errors import GitError, InputError
from .git import GitRepo
from .model import Case, EvalReport, Message, Prompt, Routing, Snapshot, Suite, TaskResult
from .render import Renderer
from .workspace import CONFIG_FILE, DictSource, GitSource, Source, TreeSource

FORMAT_VERSION = 1
Bump = Literal["major", "minor", "patch"]
FAIL_ON = ("weakened-gate", "breaking", "high-risk", "regression")
DEFAULT_BRANCHES = ("origin/HEAD", "main", "master", "origin/main", "origin/master")
FRONTMATTER = ("description", "owner", "risk", "tags", "inputs", "required", "output", "sources", "fallback", "params")
METADATA = frozenset({"description", "owner", "risk", "tags"})  # fields that do not change what a caller gets
DIFF_CONTEXT = 3

# -- the report ----------------------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class EvalCase:
    suite: str
    case: str
    model: str
    variant: str
    change: str  # regressed | fixed | still-failing | flaky | unchanged | new | removed
    base_verdict: str | None
    head_verdict: str | None
    output_diff: str = ""
    error: str = ""  # why a run ended in error ("base: ..." when it was the baseline's)


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


# -- the semantic version bump and policies ------------------------------------------------------------------


def is_breaking(report: DiffReport) -> bool:
    return any(c.breaking for _, c in report.changes())


def version_bump(report: DiffReport) -> Bump | None:
    """major: a prompt removed (or renamed) or a breaking change to inputs or output; minor: a new prompt;
    patch: any other change; None: no change."""
    if is_breaking(report):
        return "major"
    if any(p.status == "added" for p in report.prompts):
        return "minor"
    return "patch" if report.changed else None


def changed_prompts(report: DiffReport) -> list[dict[str, str]]:
    """[{"prompt": id, "change": what}] for release notes."""
    out = []
    for p in report.prompts:
        what = f"renamed from {p.old_id}" if p.status == "renamed" else p.status
        kinds = sorted({c.field if c.kind == "frontmatter" else c.kind for c in p.changes if c.kind != "prompt"})
        if kinds and p.status in ("modified", "renamed"):
            what += ": " + ", ".join(kinds)
        if any(c.breaking for c in p.changes):
            what += " (breaking)"
        out.append({"prompt": p.id, "change": what})
    return out


def high_risk(report: DiffReport) -> list[str]:
    return [p.id for p in report.prompts if p.high_risk]


def policy_failures(report: DiffReport, fail_on: Collection[str]) -> list[str]:
    """One line per finding that `--fail-on` turns into a failed gate."""
    lines = []
    if "breaking" in fail_on:
        lines += [f"breaking: {s}: {c.note}" for s, c in report.changes() if c.breaking]
    if "weakened-gate" in fail_on:
        lines += [f"weakened gate: {s}: {c.note}" for s, c in report.changes() if c.weakened]
    if "high-risk" in fail_on:
        lines += [f"high-risk prompt changed: {pid}" for pid in high_risk(report)]
    if "regression" in fail_on and report.eval is not None:
        lines += [f"regressed: {c.suite} / {c.case} ({c.model})" for c in report.eval.regressions]
    return lines


def affected_suites(report: DiffReport, head: Snapshot) -> list[str]:
    """Head suites worth evaluating: changed suites and every suite of a prompt whose behaviour changed."""
    prompts = {p.id for p in report.prompts if p.behaviour}
    changed = {s.id for s in report.suites if s.status != "removed"}
    return sorted(sid for sid, s in head.suites.items() if sid in changed or s.prompt in prompts)


# -- comparing two snapshots ---------------------------------------------------------------------------------


def diff(
    base: Snapshot,
    head: Snapshot,
    *,
    base_source: Source,
    head_source: Source,
    renames: Mapping[str, str] | None = None,
    changed: Collection[str] | None = None,
) -> DiffReport:
    """Everything that differs between two snapshots, classified.

    `renames` maps old file paths to new ones (git's rename detection), for prompts and suites. `changed`,
    when given, is every path that differs between the sources: pinned documents outside it are not read.
    """
    renames = dict(renames or {})
    ctx = _Context(base, head, Renderer(base), Renderer(head), base_source, head_source, changed)
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


@dataclass
class _Context:
    base: Snapshot
    head: Snapshot
    base_r: Renderer
    head_r: Renderer
    base_source: Source
    head_source: Source
    changed: Collection[str] | None
    reached_by: dict[str, set[str]] = field(default_factory=dict)  # changed template -> prompt ids


def _problems(base: Snapshot, head: Snapshot) -> Iterator[Problem]:
    def errors(s: Snapshot) -> dict[tuple[str, str], int]:
        return {(p.file, p.message): p.line for p in s.problems if p.severity == "error"}

    b, h = errors(base), errors(head)
    for key in sorted(set(b) - set(h)):
        yield Problem("base", key[0], b[key], key[1])
    for key in sorted(set(h) - set(b)):
        yield Problem("head", key[0], h[key], key[1])


def _broken(snapshot: Snapshot, path: str) -> bool:
    return any(p.file == path and p.severity == "error" for p in snapshot.problems)


def _unified(before: str, after: str, a: str, b: str, context: int = DIFF_CONTEXT) -> str:
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(), a, b, n=context, lineterm="")
    return "\n".join(lines)


# -- partials and templates ----------------------------------------------------------------------------------


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


_STATEMENT = re.compile(r"\{%[-+]?\s*(?:include|import|from|extends)\b(.*?)[-+]?%\}", re.S)
_LITERAL = re.compile(
    r"""\s*(["'])([^"'\\]*)\1(?:\s+(?:ignore\s+missing|with\s+context|without\s+context|import\b.*|as\b.*))*\s*""",
    re.S,
)


def template_refs(text: str) -> tuple[set[str], bool]:
    """(literal template names a template includes or imports, whether it has a non-literal one).

    A superset of what Jinja resolves (an include inside a comment counts), so it can only over-select.
    """
    names: set[str] = set()
    dynamic = False
    for match in _STATEMENT.finditer(text):
        literal = _LITERAL.fullmatch(match.group(1))
        if literal:
            names.add(literal.group(2))
        else:
            dynamic = True
    return names, dynamic


def reaching(texts: Mapping[str, str], targets: Collection[str]) -> set[str]:
    """Templates that may include one of `targets`, directly or through others (targets excluded)."""
    refs = {name: template_refs(text) for name, text in texts.items()}
    found: set[str] = set()
    frontier = set(targets)
    while frontier:
        new = {n for n, (names, dyn) in refs.items() if n not in found and (dyn or names & frontier)}
        new -= set(targets)
        found |= new
        frontier = new
    return found


def _templates(r: Renderer) -> dict[str, str]:
    texts = {name: p.body for name, p in r.snapshot.partials.items()}
    texts.update({r.name_of(p): p.body for p in r.snapshot.prompts.values()})
    return texts


def _changed_templates(ctx: _Context) -> set[str]:
    old, new = _templates(ctx.base_r), _templates(ctx.head_r)
    return {n for n in set(old) | set(new) if old.get(n) != new.get(n)}


# -- prompts -------------------------------------------------------------------------------------------------


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
    rendered: tuple[RenderedCase, ...] = ()
    count = 0
    if template or reached or old.inputs != new.inputs:
        rendered, count = _render_cases(ctx, old, new)
    route_changes, route = _route(ctx, old, new)
    changes += route_changes
    changes += _sources(ctx, old, new)
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


def _inputs(old: Prompt, new: Prompt) -> list[Change]:
    out = []
    for name in sorted(set(old.inputs) | set(new.inputs)):
        a, b = old.inputs.get(name), new.inputs.get(name)
        if _plain(a) == _plain(b):
            continue
        reasons: list[str] = []
        if a is not None and b is not None:
            # Callers break when the new schema rejects a value the old one accepted.
            reasons = _admits_more(_plain(b), _plain(a), f"inputs.{name}", forward=False, tolerant=False)
        out.append(
            Change(
                "frontmatter", f"inputs.{name}", _plain(a), _plain(b), True, bool(reasons), False, "; ".join(reasons)
            )
        )
    return out


def _output_breaks(old: Any, new: Any) -> list[str]:
    """Why a consumer of the JSON answer may break: the new schema allows answers the old one did not."""
    if old is None:
        return ["the answer becomes JSON checked against a schema (it was free text)"]
    if new is None:
        return ["the answer is no longer JSON checked against a schema"]
    return _admits_more(_plain(old), _plain(new), "output", forward=True, tolerant=True)


# -- JSON Schema contracts -----------------------------------------------------------------------------------

_ANNOTATIONS = frozenset(
    {"description", "title", "examples", "$comment", "default", "deprecated", "readOnly", "writeOnly"}
)
_LOWER = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties", "minContains")
_UPPER = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties", "maxContains")
_SUBSCHEMA = ("items", "additionalProperties", "contains", "propertyNames", "unevaluatedProperties")
_ALL_TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})
_NONE = object()


def _admits_more(narrow: Any, wide: Any, at: str, *, forward: bool, tolerant: bool) -> list[str]:
    """Reasons `wide` may accept a value `narrow` rejects, worded as the change before -> after.

    `forward`: narrow is the old schema (an output: new answers may surprise its consumer); otherwise narrow
    is the new one (an input: values callers sent may now be refused). `tolerant`: the consumer ignores
    properties it does not know, so new properties break nothing. Every keyword is a constraint, so one
    only `wide` has cannot loosen it; a keyword this cannot compare counts as a reason (conservative).
    """
    if narrow == wide or narrow is True or narrow == {} or wide is False:
        return []
    if not isinstance(narrow, dict) or not isinstance(wide, dict):
        return [f"{at}: {_moved(narrow, wide, forward)}"]
    reasons: list[str] = []
    for key in sorted((set(narrow) | set(wide)) - _ANNOTATIONS):
        a, b = narrow.get(key, _NONE), wide.get(key, _NONE)
        if a == b or (a is _NONE and key != "properties"):
            continue
        where = f"{at}.{key}"
        if key == "type":
            if _types(b) - _types(a) - ({"integer"} if "number" in _types(a) else set()):
                old_t, new_t = (a, b) if forward else (b, a)
                reasons.append(f"{at}: type {_type_names(old_t)} → {_type_names(new_t)}")
        elif key in ("enum", "const"):
            allowed = a if key == "enum" else [a]
            values = None if b is _NONE else b if key == "enum" else [b]
            extra = None if values is None else [v for v in values if v not in allowed]
            if extra is None:
                reasons.append(f"{where}: {_moved(a, b, forward)}")
            elif extra:
                reasons.append(f"{at}: {'now allows' if forward else 'no longer allows'} {_show(extra)}")
        elif key == "required":
            for name in sorted(set(a) - set(b if b is not _NONE else [])):
                reasons.append(f"{at}: {name!r} is {'no longer' if forward else 'now'} required")
        elif key == "properties":
            reasons += _properties(narrow, wide, at, forward=forward, tolerant=tolerant)
        elif key in _SUBSCHEMA:
            if not (key == "additionalProperties" and tolerant):
                reasons += _admits_more(a, True if b is _NONE else b, where, forward=forward, tolerant=tolerant)
        elif key in _LOWER or key in _UPPER:
            numbers = isinstance(a, int | float) and isinstance(b, int | float)
            if b is _NONE or (numbers and (b < a if key in _LOWER else b > a)):
                reasons.append(f"{where}: {_moved(a, b, forward)}")
        elif key != "uniqueItems" or a is True:
            reasons.append(f"{where}: {_moved(a, b, forward)}")
    return reasons


def _moved(narrow: Any, wide: Any, forward: bool) -> str:
    before, after = (narrow, wide) if forward else (wide, narrow)
    return f"{_show(before)} → {_show(after)}"


def _properties(narrow: dict[str, Any], wide: dict[str, Any], at: str, *, forward: bool, tolerant: bool) -> list[str]:
    a, b = narrow.get("properties", {}), wide.get("properties", {})
    if not isinstance(a, dict) or not isinstance(b, dict):
        return [f"{at}.properties: changed"]
    reasons = []
    for name in sorted(set(a) | set(b)):
        if name in a and name in b:
            reasons += _admits_more(a[name], b[name], f"{at}.{name}", forward=forward, tolerant=tolerant)
        elif name in a and wide.get("additionalProperties", True) is not False:
            # The property is no longer described: anything goes under its name.
            reasons.append(f"{at}.{name}: {'removed' if forward else 'added'}")
        elif name in b and not tolerant and narrow.get("additionalProperties", True) is False:
            reasons.append(f"{at}.{name}: {'added' if forward else 'removed'}")
    return reasons


def _types(value: Any) -> set[str]:
    if value is _NONE:
        return set(_ALL_TYPES)
    return {value} if isinstance(value, str) else {str(v) for v in value} if isinstance(value, list) else set()


def _type_names(value: Any) -> str:
    if value is _NONE:
        return "any"
    return value if isinstance(value, str) else "|".join(str(v) for v in value)


def _show(value: Any) -> str:
    if value is _NONE:
        return "(none)"
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


# -- rendering eval cases on both sides ----------------------------------------------------------------------


def _cases_of(snapshot: Snapshot, prompt_id: str) -> dict[tuple[str, str], Case]:
    return {(s.id, c.id): c for s in snapshot.suites.values() if s.prompt == prompt_id for c in s.cases}


def _render(r: Renderer, prompt_id: str, case: Case) -> tuple[list[Message] | None, str | None]:
    try:
        return r.render(prompt_id, case.vars), None
    except InputError as exc:
        return None, str(exc)


def _render_cases(ctx: _Context, old: Prompt, new: Prompt) -> tuple[tuple[RenderedCase, ...], int]:
    """Every eval case of the prompt (present on both sides) rendered at both; those that differ."""
    base_cases, head_cases = _cases_of(ctx.base, old.id), _cases_of(ctx.head, new.id)
    shared = sorted(set(base_cases) & set(head_cases))
    out = []
    for key in shared:
        a, a_err = _render(ctx.base_r, old.id, base_cases[key])
        b, b_err = _render(ctx.head_r, new.id, head_cases[key])
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


# -- routing -------------------------------------------------------------------------------------------------


def _spec(m: Any) -> dict[str, Any] | None:
    return None if m is None else {"name": m.name, "model": m.model}


def _route(ctx: _Context, old: Prompt, new: Prompt) -> tuple[list[Change], tuple[Any, Any] | None]:
    a = routing.resolve(ctx.base.routing, old).as_dict()
    b = routing.resolve(ctx.head.routing, new).as_dict()
    a.pop("prompt"), b.pop("prompt")
    if a == b:
        return [], None
    changes = []
    if a["model"] != b["model"]:
        swap = (a["model"] or {}).get("model") != (b["model"] or {}).get("model")
        note = "model swap" if swap else ""
        changes.append(Change("route", "model", a["model"], b["model"], behaviour=True, note=note))
    if a["fallbacks"] != b["fallbacks"]:
        changes.append(Change("route", "fallbacks", a["fallbacks"], b["fallbacks"], behaviour=True))
    changes += [replace(c, kind="route", behaviour=True) for c in _field_diff(a["params"], b["params"], "params")]
    for key in ("timeout", "retries"):
        if a[key] != b[key]:
            changes.append(Change("route", key, a[key], b[key], behaviour=True))
    if a["route"] != b["route"]:
        changes.append(Change("route", "route", a["route"], b["route"]))
    return changes, (a, b)


def _routing_data(r: Routing) -> dict[str, Any]:
    return _plain(
        {
            "defaults": {
                "model": r.model,
                "params": r.params,
                "timeout": r.timeout,
                "retries": r.retries,
                "fallbacks": r.fallbacks,
            },
            "models": {
                n: {"model": m.model, "api_base": m.api_base, "api_key_env": m.api_key_env, "params": m.params}
                for n, m in r.models.items()
            },
            "routes": {
                x.pattern: {
                    "model": x.model,
                    "fallbacks": x.fallbacks,
                    "params": x.params,
                    "timeout": x.timeout,
                    "retries": x.retries,
                }
                for x in r.routes
            },
        }
    )


def _routing(base: Routing, head: Routing) -> list[Change]:
    """routing.yaml itself: what was edited (the effect on each prompt is under the prompt)."""
    changes = [replace(c, kind="routing") for c in _field_diff(_routing_data(base), _routing_data(head), "")]
    a, b = _spec(routing.judge(base)), _spec(routing.judge(head))
    if a != b or base.judge != head.judge:
        changes.append(Change("routing", "judge", a or base.judge, b or head.judge, note="grades llm-rubric checks"))
    return changes


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


# -- pinned sources ------------------------------------------------------------------------------------------


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


# -- eval suites ---------------------------------------------------------------------------------------------


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
                note = f"suite removed: its {len(old.cases)} case{'s' * (len(old.cases) != 1)} no longer run"
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


def _weaker_gate(name: str, a: Any, b: Any) -> str:
    if name in ("threshold", "repeat", "min_consistency") and a is not None and (b is None or b < a):
        return f"{name} lowered from {a} to {b}" if b is not None else f"{name} {a} removed"
    if name == "max_flaky" and a is not None and (b is None or b > a):
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
    if a.get("threshold") is not None and (b.get("threshold") is None or b["threshold"] < a["threshold"]):
        notes.append(f"{_label(a)}: threshold lowered from {a['threshold']} to {b.get('threshold')}")
    if a.get("fallback") and not b.get("fallback"):
        notes.append(f"{_label(a)}: no longer checks the kill-switch answer")
    if a.get("min") is not None and (b.get("min") is None or b["min"] < a["min"]):
        notes.append(f"{_label(a)}: min lowered from {a['min']} to {b.get('min')}")
    if a.get("max") is not None and (b.get("max") is None or b["max"] > a["max"]):
        notes.append(f"{_label(a)}: max raised from {a['max']} to {b.get('max')}")
    return notes


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain(value: Any) -> Any:
    """JSON data: mappings to dicts, tuples to lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


# -- the paired baseline eval --------------------------------------------------------------------------------


def eval_changes(report: EvalReport, base_results: Iterable[TaskResult]) -> EvalDiff:
    """Per suite (pass rate base -> head) and per case (its baseline class), with the output diffs of cases
    whose answer changed. `base_results` are the baseline runs of the same eval."""
    Key = tuple[str, str, str, str]
    base_runs: dict[Key, list[TaskResult]] = {}
    for r in sorted(base_results, key=lambda r: r.repeat):
        base_runs.setdefault((r.suite, r.case, r.model, r.variant), []).append(r)
    head_first: dict[Key, TaskResult] = {}
    for r in sorted(report.results, key=lambda r: r.repeat):
        head_first.setdefault((r.suite, r.case, r.model, r.variant), r)

    def verdict(runs: Sequence[TaskResult]) -> str:
        statuses = {r.status for r in runs}
        return "error" if "error" in statuses else "pass" if statuses == {"pass"} else "fail"

    suites = []
    for s in report.suites:
        runs = [r for k, rs in base_runs.items() if k[0] == s.suite for r in rs]
        rate = round(sum(r.status == "pass" for r in runs) / len(runs), 6) if runs else None
        classes: dict[str, int] = {}
        for c in report.cases:
            if c.suite == s.suite and c.baseline:
                classes[c.baseline] = classes.get(c.baseline, 0) + 1
        suites.append(EvalSuite(s.suite, s.prompt, rate, s.pass_rate, s.threshold, s.gate_passed, classes))
    cases = []
    for c in report.cases:
        key = (c.suite, c.case, c.model, c.variant)
        base, head = base_runs.get(key, []), head_first.get(key)
        old = base[0].output if base else None
        new = head.output if head is not None and c.baseline != "removed" else None
        diff_text = (
            _unified(old, new, "base", "head", context=2) if old is not None and new is not None and old != new else ""
        )
        if c.baseline == "unchanged" and not diff_text:
            continue
        head_error = head.error if head is not None and c.baseline != "removed" and head.error else ""
        base_error = next((r.error for r in base if r.error), "")
        error = head_error or (f"base: {base_error}" if base_error else "")
        head_verdict = None if c.baseline == "removed" else c.verdict
        change = EvalCase(
            c.suite,
            c.case,
            c.model,
            c.variant,
            c.baseline or "new",
            verdict(base) if base else None,
            head_verdict,
            diff_text,
            error,
        )
        cases.append(change)
    return EvalDiff(tuple(suites), tuple(cases), errors=report.errors, interrupted=report.interrupted)


# -- the document (JSON, and what the text and Markdown writers read) ----------------------------------------


def summary(report: DiffReport) -> dict[str, Any]:
    counts = {k: 0 for k in ("added", "removed", "renamed", "modified")}
    for p in report.prompts:
        counts[p.status] += 1
    changes = list(report.changes())
    return {
        "changed": report.changed,
        "bump": version_bump(report),
        "prompts": counts,
        "partials": len(report.partials),
        "suites": len(report.suites),
        "routing": len(report.routing),
        "changes": len(changes),
        "behaviour_affecting": [p.id for p in report.prompts if p.behaviour],
        "high_risk": high_risk(report),
        "breaking": [{"subject": s, "reason": c.note} for s, c in changes if c.breaking],
        "weakened_gates": [{"subject": s, "reason": c.note} for s, c in changes if c.weakened],
        "problems": len(report.problems),
    }


def as_dict(report: DiffReport) -> dict[str, Any]:
    """The diff document of the published schema (schemas/diff.json)."""
    from dataclasses import asdict

    def change(c: Change) -> dict[str, Any]:
        return _plain(asdict(c))

    def prompt(p: PromptDiff) -> dict[str, Any]:
        data = _plain(asdict(p))
        data["changes"] = [change(c) for c in p.changes]
        data["behaviour"] = p.behaviour
        data["breaking"] = any(c.breaking for c in p.changes)
        data["route"] = None if p.route is None else {"base": _plain(p.route[0]), "head": _plain(p.route[1])}
        return data

    doc: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "promptops_version": __version__,
        "base": report.base,
        "head": report.head,
        "summary": summary(report),
        "prompts": [prompt(p) for p in report.prompts],
        "partials": [_plain(asdict(p)) for p in report.partials],
        "routing": [change(c) for c in report.routing],
        "suites": [{**_plain(asdict(s)), "weakened": any(c.weakened for c in s.all_changes)} for s in report.suites],
        "problems": [_plain(asdict(p)) for p in report.problems],
        "eval": None if report.eval is None else _plain(asdict(report.eval)),
    }
    if report.eval is not None:
        doc["eval"]["regressions"] = len(report.eval.regressions)
    return doc


# -- loading the two sides of a git change -------------------------------------------------------------------


@dataclass
class Sides:
    base: Snapshot
    head: Snapshot
    base_source: Source
    head_source: Source
    base_sha: str
    head_sha: str | None  # None: the working tree
    renames: dict[str, str]
    changed: frozenset[str]


def default_base(repo: GitRepo, head: str | None) -> tuple[str, str]:
    """(label, sha): the merge-base of HEAD with the default branch, or an InputError saying what to fetch."""
    branch = next((b for b in DEFAULT_BRANCHES if repo.read_ref(f"{b}^{{commit}}")), None)
    shallow = repo.shallow
    if branch is None:
        hint = "name the base: `promptops diff BASE`, e.g. `promptops diff origin/develop`"
        if shallow:
            hint = (
                "this is a shallow clone without the default branch; fetch it: `git fetch origin main` "
                "(or `git fetch --unshallow`), or name the base: `promptops diff BASE`"
            )
        raise InputError(
            "no default branch to compare with: none of " + ", ".join(DEFAULT_BRANCHES) + " exists", hint=hint
        )
    target = head or "HEAD"
    if not repo.has_commits():
        raise InputError(
            "the repository has no commits yet", hint="commit first, or name the base: `promptops diff BASE`"
        )
    found = repo.run("merge-base", branch, target, check=False)
    name = branch.removeprefix("origin/")
    if not found:
        if shallow:
            hint = (
                f"this is a shallow clone that does not reach the fork point of {target} and {branch}: "
                f"`git fetch --unshallow` (or deepen it: `git fetch --deepen=200 origin {name}`); "
                "in GitHub Actions check out with `fetch-depth: 0`"
            )
        else:
            hint = f"{target} and {branch} share no history; name the base: `promptops diff BASE`"
        raise InputError(f"cannot find the merge-base of {target} and {branch}", hint=hint)
    return f"merge-base with {branch} ({found[:10]})", found


def _status(repo: GitRepo, base: str, head: str | None, prefix: str) -> tuple[set[str], dict[str, str]]:
    """(changed paths, renames old -> new), relative to the project, from `git diff --name-status -M`."""
    args = ["diff", "--name-status", "-z", "-M", "--no-ext-diff", "--no-textconv", base]
    out = repo.run(*args, *([head] if head else []), "--", prefix or ".")
    tokens = out.split("\x00")
    changed: set[str] = set()
    renames: dict[str, str] = {}
    n = len(prefix)
    i = 0
    while i < len(tokens) and tokens[i]:
        status = tokens[i]
        if status[0] in "RC":
            old, new = tokens[i + 1][n:], tokens[i + 2][n:]
            changed |= {old, new} if status[0] == "R" else {new}
            if status[0] == "R":
                renames[old] = new
            i += 3
        else:
            changed.add(tokens[i + 1][n:])
            i += 2
    if head is None:
        # Untracked files are changes too; ignored ones are left out (they are the same on both sides).
        listed = repo.run("ls-files", "-z", "--others", "--exclude-standard", "--", prefix or ".")
        changed |= {p[n:] for p in listed.split("\x00") if p}
    return changed, renames


class _Overlay:
    """The base side when HEAD is the working tree: files git reports unchanged are read from disk."""

    def __init__(self, tree: TreeSource, git: GitSource, changed: frozenset[str]) -> None:
        self.tree, self.git, self.changed = tree, git, changed
        self.label = git.label

    def list_dir(self, prefix: str) -> list[str]:
        pre = prefix.rstrip("/") + "/" if prefix else ""
        same = [p for p in self.tree.list_dir(prefix) if p not in self.changed]
        return sorted(same + [p for p in self.changed if p.startswith(pre) and self.git.read(p) is not None])

    def read(self, path: str) -> bytes | None:
        return self.git.read(path) if path in self.changed else self.tree.read(path)

    def glob(self, pattern: str) -> list[str]:
        return self.git.glob(pattern)


class _Scoped:
    """A source whose listings hold only the files a change can reach (reads pass through)."""

    def __init__(self, source: Source, scope: Collection[str] | None) -> None:
        self.source, self.scope = source, scope
        self.label = source.label

    def list_dir(self, prefix: str) -> list[str]:
        found = self.source.list_dir(prefix)
        return found if self.scope is None else [p for p in found if p in self.scope]

    def read(self, path: str) -> bytes | None:
        return self.source.read(path)

    def glob(self, pattern: str) -> list[str]:
        return self.source.glob(pattern)


def open_sides(root: Path, base: str | None, head: str | None) -> Sides:
    """Both sides of a change, loaded through the Source seam (nothing is checked out).

    BASE defaults to the merge-base with the default branch, HEAD to the working tree.
    """
    repo = GitRepo(root)
    rel = root.resolve().relative_to(repo.root).as_posix()
    prefix = "" if rel == "." else rel + "/"
    head_sha = repo.resolve(head) if head else None
    if base is None:
        label, base_sha = default_base(repo, head_sha)
    else:
        base_sha = repo.resolve(base)
        label = f"{base} ({base_sha[:10]})"
    try:
        changed_set, renames = _status(repo, base_sha, head_sha, prefix)
    except GitError as exc:
        raise InputError(f"git could not compare {base_sha[:10]} with {head or 'the working tree'}: {exc}") from None
    changed = frozenset(changed_set)
    base_git = GitSource(root, base_sha, repo)
    base_git.label = label
    head_source: Source
    if head_sha is None:
        head_source = TreeSource(root)
        base_source: Source = _Overlay(head_source, base_git, changed)
    else:
        head_source = GitSource(root, head_sha, repo)
        head_source.label = f"{head} ({head_sha[:10]})"
        base_source = base_git
    scope = None if CONFIG_FILE in changed else _scope(base_source, head_source, changed, renames)
    return Sides(
        base=loader.load(_Scoped(base_source, scope)),
        head=loader.load(_Scoped(head_source, scope)),
        base_source=base_source,
        head_source=head_source,
        base_sha=base_sha,
        head_sha=head_sha,
        renames=renames,
        changed=changed,
    )


_SUITE_PROMPT = re.compile(
    r"""^prompt:[ \t]*(?:"([^"\\]*)"|'([^']*)'|([^\s'"&*!|>{\[#][^#\n]*?))[ \t]*(?:#.*)?$""", re.M
)


def _scope(base: Source, head: Source, changed: frozenset[str], renames: Mapping[str, str]) -> set[str]:
    """The files both sides must load: what changed, and every file whose comparison a change can reach.

    Supersets are cheap and safe (a file in scope that did not change compares equal); a file left out
    that a change reaches would be a wrong diff, so every test below errs towards keeping a file. Files are
    read only when a question needs them (no change reads nothing).
    """
    config = loader.load_config(head)
    pre = config.prompts_dir + "/" if config.prompts_dir else ""
    epre = config.evals_dir + "/" if config.evals_dir else ""
    texts: dict[str, str] = {}

    def text(path: str) -> str:
        if path not in texts:
            sides = (head, base) if path in changed else (head,)
            texts[path] = "\n".join((s.read(path) or b"").decode("utf-8", "replace") for s in sides)
        return texts[path]

    paths = {*head.list_dir(config.prompts_dir), *(p for p in changed if p.startswith(pre))}
    name_of = {p: p[len(pre) :] for p in paths if p.endswith(loader.PROMPT_EXTENSIONS)}
    prompts = {name: path for path, name in name_of.items() if not loader.is_partial(name)}
    targets = {name_of[p] for p in changed if p in name_of}
    scope = {p for p in name_of if p in changed or loader.is_partial(name_of[p])}
    if targets:
        scope |= {prompts[n] for n in reaching({name_of[p]: text(p) for p in name_of}, targets) if n in prompts}
    # Prompts whose messages may change: their eval cases are rendered, so their suites are loaded.
    ids = {loader.prompt_id_of(name_of[p]) for p in scope if name_of[p] in prompts}
    ids |= {loader.prompt_id_of(old[len(pre) :]) for old in renames if old.startswith(pre)}
    if config.routing_file in changed:
        scope |= _rerouted(base, head, config.routing_file, prompts)
    if any(not p.startswith((pre, epre)) and p not in (config.routing_file, CONFIG_FILE) for p in changed):
        scope |= {path for path in prompts.values() if "sources" in text(path)}
    frontier = set(scope)  # closed under includes, so every prompt in scope renders on both sides
    while frontier:
        refs = [template_refs(text(p)) for p in frontier]
        if any(dynamic for _, dynamic in refs):
            frontier = set(prompts.values()) - scope
        else:
            frontier = {prompts[n] for names, _ in refs for n in names if n in prompts} - scope
        scope |= frontier
    suites = {*head.list_dir(config.evals_dir), *(p for p in changed if p.startswith(epre))}
    suites = {
        p
        for p in suites
        if p.endswith(loader.SUITE_EXTENSIONS) and p[len(epre) :].split("/")[0] not in loader.RESERVED_EVAL_DIRS
    }
    scope |= suites & changed
    data = [p[len(epre) :] for p in changed if p.startswith(epre) and p not in suites]
    if ids or data:
        for path in suites - changed:
            body = text(path)
            found = {next(g for g in m.groups() if g is not None).strip() for m in _SUITE_PROMPT.finditer(body)}
            if len(found) != 1 or found & ids or any(d in body for d in data):
                scope.add(path)
    return scope


def _rerouted(base: Source, head: Source, path: str, prompts: Mapping[str, str]) -> set[str]:
    """Prompt files whose resolved route may differ: resolved without and with every parameter overridden,
    since a prompt's own params sit between the model's and the route's (equal twice means equal for all)."""
    try:
        a, b = loader.load_routing(base, path), loader.load_routing(head, path)
    except InputError:
        return set(prompts.values())
    keys = {
        k
        for r in (a, b)
        for d in (r.params, *(m.params for m in r.models.values()), *(x.params for x in r.routes))
        for k in d
    }
    marker = {k: object() for k in keys}
    out = set()
    for name, file in prompts.items():
        pid = loader.prompt_id_of(name)
        for params in ({}, marker):
            stub = Prompt(id=pid, path=file, body="", params=params)
            if routing.resolve(a, stub).as_dict() != routing.resolve(b, stub).as_dict():
                out.add(file)
                break
    return out
