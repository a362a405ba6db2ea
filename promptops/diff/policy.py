"""What a report means for a release and a gate: the semantic version bump, breaking changes, `--fail-on`."""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal

from ..model import Snapshot
from .model import DiffReport

Bump = Literal["major", "minor", "patch"]
FAIL_ON = ("weakened-gate", "breaking", "high-risk", "regression")


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
