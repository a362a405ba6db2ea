"""`promptops audit trail`: the change trail of prompts, exported from git."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from . import EXIT_HELP
from .common import RepoOption, err_console, open_project, write_out

app = typer.Typer(help="Audit: the change trail of prompts, from git alone.", no_args_is_help=True)
FORMATS = ("jsonl", "text")


@app.command("trail", epilog=EXIT_HELP)
def trail(
    prompt: Annotated[
        str | None, typer.Argument(metavar="[ID]", help="The prompt id (default: every prompt).", show_default=False)
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonl (JSON Lines, one record per event) or text.")] = "jsonl",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the trail to this file.", dir_okay=False)
    ] = None,
    repo: RepoOption = None,
) -> int:
    """Export the change trail of a prompt (or of every prompt) from git, oldest first.

    One record per event: each version of the prompt file (author, Change-Reason and Approved-by trailers,
    following renames), the release that first shipped it with its digest and eval evidence, and every
    promote, rollback, kill and revive on the ledger that touched it (who, when, why, approvals)."""
    import json

    from ..errors import InputError
    from ..git import GitRepo
    from ..release.trail import trail as trail_of

    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}", hint=f"use one of: {', '.join(FORMATS)}")
    root, _, snapshot = open_project(repo)
    records = trail_of(GitRepo(root), root, snapshot.config, prompt)
    if fmt == "jsonl":
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    else:
        text = "".join(describe(r) + "\n" for r in records)
    if text or output is not None:
        write_out(text, output)
    counts = {kind: sum(r["type"] == kind for r in records) for kind in ("commit", "release")}
    err_console().print(
        f"{len(records)} record{'s' * (len(records) != 1)} for {prompt or 'every prompt'}: {counts['commit']} "
        f"commits, {counts['release']} releases, {len(records) - sum(counts.values())} ledger events"
        + (f"; wrote {output}" if output else ""),
        markup=False,
    )
    return 0


def describe(r: Mapping[str, Any]) -> str:
    """One line of the text format: time, type, prompt, then what happened."""
    kind = r["type"]
    if kind == "commit":
        what = f"{r['commit'][:10]} {r['change']} {r['path']}"
        what += f" (from {r['from']})" if r.get("from") else ""
        what += f" by {r['author']}: {r['subject']}"
        what += "".join(f"; reason: {x}" for x in r["reasons"])
    elif kind == "release":
        evidence = r["evidence"]
        what = f"{r['release']} {r['digest']} by {r['by']}"
        if evidence.get("skipped"):
            what += f"; evals skipped: {evidence['skipped']}"
        for suite in evidence.get("suites", []):
            what += f"; eval {suite['suite']}: {suite['pass_rate']:.0%} (threshold {suite['threshold']:.0%})"
        what += "; removed" if r["removed"] else ""
    elif kind in ("promote", "rollback"):
        what = f"{r['environment']}: {r['previous'] or '-'} -> {r['release']} by {r['by']}: {r['reason']}"
    else:
        what = f"{r['event_prompt']} in {r['environment']} by {r['by']}: {r['reason']}"
    if r.get("approved_by"):
        what += f" (approved by {', '.join(r['approved_by'])})"
    return f"{r['time']}  {kind:<8}  {r['prompt']}  {what}"
