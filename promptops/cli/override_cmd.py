"""`promptops override`: record a reviewer's verdict on one case's latest output."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import RepoOption, err_console, note, open_project


def override(
    suite: Annotated[str, typer.Argument(help="The eval suite id.")],
    case: Annotated[str, typer.Argument(help="The case id.")],
    verdict: Annotated[str, typer.Option("--verdict", help="pass or fail.")],
    reason: Annotated[str, typer.Option("--reason", help="Why: kept with the verdict for reviewers and audits.")],
    author: Annotated[str | None, typer.Option("--author", help="Who decides (default: your git identity).")] = None,
    repo: RepoOption = None,
) -> int:
    """Record a human verdict on the latest output of a case (evals/overrides/SUITE.yaml).

    It applies only while the case's output is byte-identical to the one judged.
    """
    from ..evaluate.overrides import check_verdict, judge

    check_verdict(verdict, reason)
    root, _, snapshot = open_project(repo)
    path, recorded = judge(root, snapshot, suite, case, verdict, reason, author, warn=note)
    err_console().print(
        f"recorded {recorded.verdict} for {suite}:{case} in {path} (output {recorded.output_hash[:12]}); "
        "commit it so reviewers see it"
    )
    return 0
