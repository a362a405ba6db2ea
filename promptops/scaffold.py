"""`init`: the files of a new promptops repository. Plans first, then writes; never overwrites."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from .errors import InputError
from .workspace import atomic_write

# Stored without leading dots so packaging keeps them; renamed on the way out.
RENAMES = {
    "dot-github": ".github",
    "dot-gitignore": ".gitignore",
    "dot-pre-commit-config.yaml": ".pre-commit-config.yaml",
}


@dataclass(frozen=True)
class Plan:
    root: Path
    files: dict[str, bytes]


def _walk(node: Traversable, rel: str, out: dict[str, bytes]) -> None:
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        name = RENAMES.get(child.name, child.name)
        path = f"{rel}/{name}" if rel else name
        if child.is_dir():
            _walk(child, path, out)
        elif not child.name.endswith((".pyc",)):
            out[path] = child.read_bytes()


def plan(root: Path) -> Plan:
    """What `init` would write; an InputError if any of it exists already."""
    files: dict[str, bytes] = {}
    _walk(resources.files("promptops.skeleton"), "", files)
    files.pop("__init__.py", None)
    existing = sorted(p for p in files if (root / p).exists())
    if existing:
        raise InputError(
            f"{root} already has {', '.join(existing[:5])}{' ...' if len(existing) > 5 else ''}",
            hint="promptops init never overwrites files; run it in a new directory or move them",
        )
    return Plan(root=root, files=files)


def apply(p: Plan) -> list[str]:
    for rel, data in sorted(p.files.items()):
        atomic_write(p.root / rel, data)
    return sorted(p.files)
