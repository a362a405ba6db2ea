"""What every comparison of two snapshots reads: both sides, their renderers and sources."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from ..model import Snapshot
from ..render import Renderer
from ..workspace import Source


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
    secrets: tuple[str, ...] = ()  # key values scrubbed from rendered messages and render errors


def _broken(snapshot: Snapshot, path: str) -> bool:
    return any(p.file == path and p.severity == "error" for p in snapshot.problems)
