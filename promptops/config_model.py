"""promptops.yaml's model (frozen dataclasses, no I/O), apart from the rest of the repository's model
(`model`, which re-exports it): the ledger's commands read promptops.yaml and no prompt, and make none of the
twenty other classes (each costs about a millisecond to create when the module is imported)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

FORMAT_VERSION = 1  # of every file promptops reads and writes (`format_version`)
LEDGER_BRANCH = "promptops/ledger"  # the default `ledger_branch`


@dataclass(frozen=True)
class AuditSettings:
    """promptops.yaml `audit:`: where the runtime's audit log goes and how it is written."""

    dir: str = ".promptops/audit"  # relative to the project root, or absolute
    rotate_bytes: int = 64 * 1024 * 1024
    fsync: Literal["always", "batch"] = "batch"

    def directory(self, root: Path) -> Path:
        """The audit directory of the project at `root` (`dir` is taken from the root unless absolute)."""
        return root / self.dir


@dataclass(frozen=True)
class Config:
    """promptops.yaml: project settings, all optional."""

    project: str = ""
    prompts_dir: str = "prompts"
    evals_dir: str = "evals"
    routing_file: str = "routing.yaml"
    tag_prefix: str = "v"
    ledger_branch: str = LEDGER_BRANCH
    environments: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    redaction: Mapping[str, Any] = field(default_factory=dict)
    eval_defaults: Mapping[str, Any] = field(default_factory=dict)
    lint_rules: Mapping[str, str] = field(default_factory=dict)
    audit: AuditSettings = field(default_factory=AuditSettings)
    path: str = ""
