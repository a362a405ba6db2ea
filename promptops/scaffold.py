"""`init`: the files of a new promptops project and the CI loop around it. Plans first, then writes; never
overwrites.

The project's files (prompts/, routing.yaml, evals/ with a sample recording, promptops.yaml, .gitignore) go in
the project directory. The files GitHub, pre-commit and editors read only at the repository root (the workflow,
the action it uses, .pre-commit-config.yaml, .vscode/) go at the git root, with the project's path wired in, so
a project in a monorepo's subdirectory works. A root file that exists already is left alone, and the plan says
exactly what to add to it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from . import __version__
from .errors import InputError
from .workspace import atomic_write

# Stored without leading dots so packaging keeps them; renamed on the way out.
RENAMES = {
    "dot-github": ".github",
    "dot-gitignore": ".gitignore",
    "dot-pre-commit-config.yaml": ".pre-commit-config.yaml",
}
ACTION = ".github/actions/promptops/action.yml"
SCHEMA_DIR = ".vscode/promptops-schemas"
# The schema of each YAML format, and the project's files it describes (globs from the project directory).
EDITOR_SCHEMAS = {"config": ["promptops.yaml"], "routing": ["routing.yaml"], "eval": ["evals/**/*.yaml"]}


@dataclass(frozen=True)
class Plan:
    """What `init` writes (paths from the git root, or from the project when there is no git), what it appends
    to an existing .gitignore, and what it leaves for the user to add by hand."""

    root: Path
    files: dict[str, bytes]
    appends: dict[str, bytes] = field(default_factory=dict)
    todo: list[str] = field(default_factory=list)
    project: str = "."


def _walk(node: Traversable, rel: str, out: dict[str, bytes]) -> None:
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        name = RENAMES.get(child.name, child.name)
        path = f"{rel}/{name}" if rel else name
        if child.is_dir():
            _walk(child, path, out)
        elif not child.name.endswith((".pyc",)) and child.name != "__init__.py":
            out[path] = child.read_bytes()


def plan(project_dir: Path, git_root: Path | None, merge: bool = False) -> Plan:
    """What `init` would do; an InputError naming every file it would have to overwrite."""
    top = git_root or project_dir
    project = project_dir.relative_to(top).as_posix() if project_dir != top else "."
    skeleton = resources.files("promptops.skeleton")
    own: dict[str, bytes] = {}
    _walk(skeleton / "project", "", own)
    ci: dict[str, bytes] = {}
    _walk(skeleton / "ci", "", ci)
    ci = _wire(ci, project)
    ci.update(_editor_files(project))
    files = {_under(project, rel): data for rel, data in own.items()}
    appends: dict[str, bytes] = {}
    gitignore = _under(project, ".gitignore")
    if merge and (top / gitignore).exists():
        missing = _missing_lines((top / gitignore).read_bytes(), files.pop(gitignore))
        if missing:
            appends[gitignore] = missing
    todo = _leave_existing(top, ci)
    files.update(ci)
    existing = sorted(p for p in files if (top / p).exists())
    if existing:
        raise InputError(
            f"{top} already has {', '.join(existing[:5])}{' ...' if len(existing) > 5 else ''}",
            hint="promptops init never overwrites files; run it in a new directory or move them"
            + ("" if merge else " (--merge adds its lines to an existing .gitignore)"),
        )
    return Plan(root=top, files=files, appends=appends, todo=todo, project=project)


def apply(p: Plan) -> list[str]:
    for rel, data in sorted(p.files.items()):
        atomic_write(p.root / rel, data)
    for rel, extra in sorted(p.appends.items()):
        old = (p.root / rel).read_bytes()
        atomic_write(p.root / rel, old + (b"" if old.endswith(b"\n") or not old else b"\n") + extra)
    return sorted([*p.files, *(f"{rel} (added lines)" for rel in p.appends)])


def _under(project: str, rel: str) -> str:
    return rel if project == "." else f"{project}/{rel}"


def _slug(project: str) -> str:
    """The project's path as a file and group name: services/bot -> services-bot."""
    import re

    return "root" if project == "." else re.sub(r"[^A-Za-z0-9]+", "-", project).strip("-").lower() or "project"


def _wire(ci: dict[str, bytes], project: str) -> dict[str, bytes]:
    """The CI files with the project's path, name and the promptops version filled in."""
    workflow = "promptops.yml" if project == "." else f"promptops-{_slug(project)}.yml"
    values = {
        "@PROJECT_DIR@": project,
        "@PROJECT_GLOB@": "**" if project == "." else f"{project}/**",
        "@PROJECT_NAME@": "the repository" if project == "." else project,
        "@WORKFLOW_NAME@": "promptops" if project == "." else f"promptops {project}",
        "@PROJECT_SLUG@": _slug(project),
        "@WORKFLOW_FILE@": workflow,
        "@VERSION@": __version__,
    }
    out: dict[str, bytes] = {}
    for rel, data in ci.items():
        text = data.decode("utf-8")
        if rel != ACTION:
            for key, value in values.items():
                text = text.replace(key, value)
        out[workflow_path(workflow) if rel.endswith("workflows/promptops.yml") else rel] = text.encode("utf-8")
    return out


def workflow_path(name: str) -> str:
    return f".github/workflows/{name}"


def _editor_files(project: str) -> dict[str, bytes]:
    """The JSON Schemas as local files, and VS Code's yaml.schemas mapping them to the project's files."""
    from .formats import schema

    files = {
        f"{SCHEMA_DIR}/{name}.json": (json.dumps(schema(name), indent=2) + "\n").encode() for name in EDITOR_SCHEMAS
    }
    mapping = {
        f"./{SCHEMA_DIR}/{name}.json": [_under(project, g) for g in globs] for name, globs in EDITOR_SCHEMAS.items()
    }
    files[".vscode/settings.json"] = (json.dumps({"yaml.schemas": mapping}, indent=2) + "\n").encode()
    return files


def _missing_lines(existing: bytes, wanted: bytes) -> bytes:
    have = {line.strip() for line in existing.decode("utf-8", "replace").splitlines()}
    lines = [line for line in wanted.decode("utf-8").splitlines() if line.strip() and line.strip() not in have]
    return ("\n".join(lines) + "\n").encode("utf-8") if any(not ln.startswith("#") for ln in lines) else b""


def _leave_existing(top: Path, ci: dict[str, bytes]) -> list[str]:
    """Root files that exist already: an identical one is kept, any other is left alone with what to add to it."""
    todo = []
    for rel in sorted(ci):
        path = top / rel
        if not path.exists():
            continue
        data = ci.pop(rel)
        if path.read_bytes() == data:
            continue
        if rel.startswith(SCHEMA_DIR):
            name = Path(rel).stem
            todo.append(f"{rel} differs from this version's: refresh it with `promptops schema {name} > {rel}`")
        else:
            todo.append(f"{rel} exists: add this to it by hand:\n{_indent(data.decode('utf-8'))}")
    return todo


def _indent(text: str) -> str:
    return "\n".join("    " + line if line else "" for line in text.splitlines())
