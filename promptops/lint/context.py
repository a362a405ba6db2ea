"""What every lint rule works with: the Context it reads, the Rule entry of the table, and Finding makers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from ..model import Finding, Severity, Snapshot
from ..render import Renderer, RenderError
from ..workspace import Source


@dataclass
class Context:
    source: Source
    snapshot: Snapshot
    renderer: Renderer


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity | Literal["off"]  # "off": opt-in, runs only when promptops.yaml sets `lint.rules.<id>`
    summary: str
    check: Callable[[Context], Iterable[Finding]]


def make_finding(
    rule: str, message: str, file: str = "", line: int = 0, hint: str = "", severity: Severity = "error"
) -> Finding:
    return Finding(rule=rule, severity=severity, message=message, file=file, line=line, hint=hint)


def from_render_error(err: RenderError) -> Finding:
    return make_finding(err.rule, err.message, err.file or "", err.line or 0, err.hint or "")
