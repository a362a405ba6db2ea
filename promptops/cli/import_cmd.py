"""`promptops import promptfoo`: a promptfoo configuration written as a promptops repository."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import check_format, note, write_out

app = typer.Typer(help="Bring another tool's configuration into a promptops repository.", no_args_is_help=True)


@app.command("promptfoo")
def promptfoo(
    config: Annotated[
        Path, typer.Argument(help="The promptfoo config (YAML or JSON).", dir_okay=False, show_default=True)
    ] = Path("promptfooconfig.yaml"),
    into: Annotated[
        Path | None,
        typer.Option("--into", help="The repository to write (default: the current directory).", file_okay=False),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would be written; write nothing.")] = False,
    name: Annotated[
        str | None,
        typer.Option("--name", help="The id of the imported prompt and suite (default: the config's directory)."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> int:
    """Import prompts, providers, tests and assertions from a promptfoo config, and report every item: what
    mapped and how, and what needs a person. Exit 0 when everything mapped, 1 when something needs review,
    2 when the config cannot be read."""
    import json

    from ..importing import apply, settle
    from ..importing.promptfoo import plan_import

    check_format(fmt, ("text", "json"))
    target = (into or Path.cwd()).resolve()
    plan = plan_import(config, name)
    settle(plan, target)
    written = [] if dry_run else apply(plan, target)
    if fmt == "json":
        report = {
            "needs_review": plan.needs_review,
            "items": [i.as_dict() for i in plan.items],
            "files": sorted(plan.files),
            "written": written,
        }
        write_out(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        width = max((len(i.where) for i in plan.items), default=0)
        lines = [f"{i.status:<6}  {i.where:<{width}}  {i.what}: {i.how}" for i in plan.items]
        write_out("\n".join(lines))
    reviews = sum(i.status == "review" for i in plan.items)
    done = f"would write {len(plan.files)} files" if dry_run else f"wrote {len(written)} files into {target}"
    note(f"{len(plan.items) - reviews} mapped, {reviews} need review; {done}")
    return 1 if plan.needs_review else 0
