"""Importing other tools' configurations into a promptops repository.

An import is planned first (every file it would write, and one report item per thing it read), then applied
(the files written atomically, none overwritten); `--dry-run` stops after the plan. The plan is data: the
command prints it, the tests read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from .. import yamltext
from ..errors import InputError
from ..workspace import atomic_write

Status = Literal["mapped", "review"]


@dataclass(frozen=True)
class Item:
    """One thing read from the source configuration: what it became, or what a person must do about it."""

    where: str  # file:line in the source configuration
    what: str  # the key path, e.g. tests[2].assert[0] (javascript)
    status: Status
    how: str

    def as_dict(self) -> dict[str, str]:
        return {"where": self.where, "what": self.what, "status": self.status, "how": self.how}


@dataclass
class Plan:
    """Files to write (path relative to the target -> text) and the report."""

    files: dict[str, str] = field(default_factory=dict)
    items: list[Item] = field(default_factory=list)

    @property
    def needs_review(self) -> bool:
        return any(i.status == "review" for i in self.items)

    def mapped(self, where: str, what: str, how: str) -> None:
        self.items.append(Item(where, what, "mapped", how))

    def review(self, where: str, what: str, how: str) -> None:
        self.items.append(Item(where, what, "review", how))


def settle(plan: Plan, into: Path) -> None:
    """Fit the plan to a repository that already exists: its promptops.yaml is kept, and its routing.yaml too,
    with the models the import needs and it lacks listed for a person to add (never rewritten: it holds the
    team's comments and review history)."""
    if (into / "promptops.yaml").exists():
        plan.files.pop("promptops.yaml", None)
    routing = plan.files.get("routing.yaml")
    if routing is None or not (into / "routing.yaml").exists():
        return
    del plan.files["routing.yaml"]
    existing, _ = yamltext.parse((into / "routing.yaml").read_text("utf-8", errors="replace"), "routing.yaml")
    have = existing.get("models", {}) if isinstance(existing, dict) else {}
    wanted, _ = yamltext.parse(routing, "routing.yaml")
    missing = {name: spec for name, spec in wanted.get("models", {}).items() if name not in have}
    if missing:
        snippet = yaml.safe_dump({"models": missing}, sort_keys=False).strip().replace("\n", "; ")
        plan.review(
            "routing.yaml", "routing.yaml", f"exists and is kept as it is; add what the import needs: {snippet}"
        )
    else:
        plan.mapped("routing.yaml", "routing.yaml", "exists and already names every model the import needs")


def apply(plan: Plan, into: Path) -> list[str]:
    """Write the plan's files under `into`. A file that exists with other content is never overwritten: the
    whole import is refused before anything is written."""
    clashes = [
        rel
        for rel, text in sorted(plan.files.items())
        if (into / rel).exists() and (into / rel).read_text("utf-8", errors="replace") != text
    ]
    if clashes:
        raise InputError(
            f"{len(clashes)} file(s) to import already exist with other content: {', '.join(clashes[:5])}",
            file=str(into / clashes[0]),
            hint="import into an empty directory (--into DIR), or move those files away first",
        )
    written = []
    for rel, text in sorted(plan.files.items()):
        if not (into / rel).exists():
            atomic_write(into / rel, text)
            written.append(rel)
    return written
