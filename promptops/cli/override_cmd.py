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
    from datetime import datetime, timezone

    from ..errors import InputError
    from ..evaluate.engine import STATE_DIR
    from ..evaluate.overrides import VERDICTS, record
    from ..evaluate.store import Store
    from ..git import identity
    from ..model import Override

    if verdict not in VERDICTS:
        raise InputError(f"--verdict must be pass or fail, not {verdict!r}")
    if not reason.strip():
        raise InputError("--reason must say why", hint='e.g. --reason "correct: the policy changed on 1 May"')
    root, _, snapshot = open_project(repo)
    if suite not in snapshot.suites:
        raise InputError(f"unknown eval suite {suite!r}", hint=f"known: {', '.join(sorted(snapshot.suites))}")
    if case not in {c.id for c in snapshot.suites[suite].cases}:
        raise InputError(f"suite {suite!r} has no case {case!r}", file=snapshot.suites[suite].path)
    store = Store(root / STATE_DIR / "promptops.sqlite", warn=note)
    latest = store.latest_output(suite, case)
    store.close()
    if latest is None or latest.output is None:
        raise InputError(f"no output of {suite}:{case} to judge yet", hint=f"run `promptops eval {suite}` first")
    who = author or identity(root)
    if not who:
        raise InputError("who is deciding? set your git identity (git config user.name) or pass --author")
    when = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    path = record(
        root,
        snapshot.config.evals_dir,
        Override(
            suite=suite,
            case=case,
            verdict="pass" if verdict == "pass" else "fail",
            reason=reason.strip(),
            author=who,
            time=when,
            output_hash=latest.output_hash,
        ),
    )
    err_console().print(
        f"recorded {verdict} for {suite}:{case} in {path} (output {latest.output_hash[:12]}); "
        "commit it so reviewers see it"
    )
    return 0
