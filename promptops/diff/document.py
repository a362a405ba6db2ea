"""The diff document (JSON, and what the text and Markdown writers read): schemas/diff.json."""

from __future__ import annotations

from typing import Any

from .. import __version__
from .model import Change, DiffReport, PromptDiff, _plain
from .policy import high_risk, version_bump

FORMAT_VERSION = 1


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
