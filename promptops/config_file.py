"""promptops.yaml alone: the project's settings, read without loading (or validating) anything else.

Commands that need only the settings (the ledger's promote, rollback, kill, revive, status and history) read
them here, so they do not import the whole loader; the loader reads them here too."""

from __future__ import annotations

from pathlib import PurePosixPath

from . import redaction, yamltext
from .config_model import AuditSettings, Config
from .errors import InputError
from .formats import MAX_FILE_BYTES, load_yaml
from .workspace import CONFIG_FILE, Source


def load_config(source: Source) -> Config:
    raw = source.read(CONFIG_FILE)
    if raw is None or (len(raw) < MAX_FILE_BYTES and not raw.strip()):
        return Config(path=CONFIG_FILE if raw is not None else "")
    data, lines = load_yaml(source, CONFIG_FILE, "config")
    paths = data.get("paths", {})
    redaction.Settings.from_config(data.get("redaction", {}), CONFIG_FILE)  # bad patterns fail here, with the file
    for key, value in paths.items():
        _rel_dir(value, yamltext.line_for(lines, ("paths", key)))
    return Config(
        project=data.get("project", ""),
        prompts_dir=_rel_dir(paths.get("prompts", "prompts")),
        evals_dir=_rel_dir(paths.get("evals", "evals")),
        routing_file=_rel_dir(paths.get("routing", "routing.yaml")),
        tag_prefix=data.get("tag_prefix", "v"),
        ledger_branch=data.get("ledger_branch", "promptops/ledger"),
        environments=data.get("environments", {}),
        redaction=data.get("redaction", {}),
        eval_defaults=data.get("eval", {}),
        lint_rules={k: "off" if v is False else v for k, v in data.get("lint", {}).get("rules", {}).items()},
        audit=AuditSettings(**data.get("audit", {})),
        path=CONFIG_FILE,
    )


def _rel_dir(value: str, line: int | None = None) -> str:
    parts = PurePosixPath(value).parts
    if PurePosixPath(value).is_absolute() or ".." in parts:
        raise InputError(
            f"path {value!r} must be inside the repository",
            file=CONFIG_FILE,
            line=line,
            hint="give a path relative to the repository root, without '..'",
        )
    return "/".join(p for p in parts if p != ".")
