"""`promptops lint`: validate every file and the references between them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import RefOption, RepoOption, check_format, note, open_project, repo_prefix, write_out


def lint(
    path: Annotated[
        Path | None, typer.Argument(help="The project directory (same as --repo).", file_okay=False, show_default=False)
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="text, json, github (annotations) or sarif.")] = "text",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report to a file.", dir_okay=False)
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as errors.")] = False,
    ref: RefOption = None,
    repo: RepoOption = None,
) -> int:
    """Check every prompt, partial, routing file and eval suite. Exit 1 when there are errors."""
    from ..errors import InputError
    from ..lint import RULE_DOCS
    from ..lint import lint as run_lint
    from ..report import findings as report

    check_format(fmt, report.FORMATS)
    if path is not None and repo is not None and path.resolve() != repo.resolve():
        raise InputError("give the project directory once: either PATH or --repo")
    root, source, snapshot = open_project(path or repo, ref, report_all=True)
    if not snapshot.files and not snapshot.config.path:
        _no_project(root, snapshot.config.prompts_dir, snapshot.config.evals_dir)
    findings = run_lint(source, snapshot)
    prefix = repo_prefix(root)
    if fmt == "json":
        text = report.to_json(findings)
    elif fmt == "github":
        text = report.to_github(findings, prefix)
    elif fmt == "sarif":
        text = report.to_sarif(findings, sorted(RULE_DOCS.items()), prefix)
    else:
        text = report.to_text(findings)
    if text or output:
        write_out(text, output)
    failed = any(f.severity == "error" or strict for f in findings)
    note(f"{'✗' if failed else '✓'} {report.summary(findings)} in {snapshot.label} of {root.name}")
    return 1 if failed else 0


def _no_project(root: Path, prompts_dir: str, evals_dir: str) -> None:
    """A directory with nothing promptops manages is a usage error, not "0 errors" (a monorepo's root, a typo)."""
    from ..errors import InputError
    from ..workspace import find_projects

    below = find_projects(root)
    where = ", ".join(p.relative_to(root).as_posix() for p in below[:5])
    raise InputError(
        f"no promptops project in {root}: no promptops.yaml, {prompts_dir}/, routing.yaml or {evals_dir}/",
        hint=f"lint a project below it: {where} (`promptops lint DIR`)"
        if below
        else "run `promptops init` to start one, or pass the project directory",
    )
