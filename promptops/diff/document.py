"""The diff document (JSON, and what the text and Markdown writers read): schemas/diff.json."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from typing import Any

from .. import __version__
from .model import DiffReport, PromptDiff
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

    def prompt(p: PromptDiff) -> dict[str, Any]:
        data = _data(p)
        data["behaviour"] = p.behaviour
        data["breaking"] = any(c.breaking for c in p.changes)
        data["route"] = None if p.route is None else {"base": _data(p.route[0]), "head": _data(p.route[1])}
        return data

    doc: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "promptops_version": __version__,
        "base": report.base,
        "head": report.head,
        "summary": summary(report),
        "prompts": [prompt(p) for p in report.prompts],
        "partials": [_data(p) for p in report.partials],
        "routing": [_data(c) for c in report.routing],
        "suites": [{**_data(s), "weakened": any(c.weakened for c in s.all_changes)} for s in report.suites],
        "problems": [_data(p) for p in report.problems],
        "eval": None if report.eval is None else _data(report.eval),
    }
    if report.eval is not None:
        doc["eval"]["regressions"] = len(report.eval.regressions)
    return doc


def _data(value: Any) -> Any:
    """JSON data from the report: dataclasses and mappings to dicts, tuples to lists (what `asdict` then
    `_plain` give, in one walk)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _data(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_data(v) for v in value]
    return value
