"""`promptops init`: scaffold a new repository."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import err_console


def init(
    directory: Annotated[Path, typer.Argument(help="Where to create the repository.", file_okay=False)] = Path("."),
) -> int:
    """Scaffold prompts/, routing.yaml, evals/, promptops.yaml, a CI workflow and a pre-commit config."""
    from ..scaffold import apply, plan

    written = apply(plan(directory.resolve()))
    console = err_console()
    for rel in written:
        console.print(f"  created {rel}")
    console.print(
        f"Initialised a promptops repository in {directory.resolve()}. Next: `promptops lint`, then "
        "`promptops render example/greeting --var name=Ada`."
    )
    return 0
