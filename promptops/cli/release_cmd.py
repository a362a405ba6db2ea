"""`promptops release`, `bundle` and `verify`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from .common import RepoOption, err_console, open_project, write_out


def release(
    version: Annotated[
        str | None,
        typer.Argument(
            help="The version to release (default: suggested from the diff since the last release).", show_default=False
        ),
    ] = None,
    bump: Annotated[str | None, typer.Option("--bump", help="major, minor or patch.")] = None,
    notes: Annotated[str, typer.Option("--notes", help="Release notes for the tag message.")] = "",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check everything and print the plan; change nothing.")
    ] = False,
    push: Annotated[bool, typer.Option("--push", help="Push the tag to the remote.")] = False,
    remote: Annotated[str, typer.Option("--remote", help="The remote for --push.")] = "origin",
    skip_eval: Annotated[
        bool, typer.Option("--skip-eval", help="Release without running the evals (needs --reason).")
    ] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="Why the evals are skipped.")] = None,
    replay: Annotated[bool, typer.Option("--replay", help="Run the gating evals from evals/recordings/.")] = False,
    repo: RepoOption = None,
) -> int:
    """Cut a release: an annotated tag carrying the bundle digest and the eval evidence.

    Refuses a dirty tree, lint errors, failing evals, a version not above the last, and a breaking change under a
    minor or patch bump; a refusal leaves nothing behind.
    """
    from ..errors import InputError
    from ..release.releasing import Request, apply_release, plan_release

    if skip_eval and reason is None:
        raise InputError("--skip-eval needs --reason TEXT", hint='e.g. --reason "provider outage; evals ran in #4521"')
    if reason is not None and not skip_eval:
        raise InputError("--reason goes with --skip-eval")
    root, _, snapshot = open_project(repo)
    request = Request(
        version=version,
        bump=bump,
        notes=notes,
        skip_eval_reason=reason if skip_eval else None,
        replay=replay,
        env=dict(os.environ),
    )
    plan = plan_release(root, snapshot.config.tag_prefix, request)
    console = err_console()
    summary = (
        f"{plan.tag} ({plan.part} bump{'' if not plan.previous else ' from ' + plan.previous}"
        f"{'' if not plan.suggested else ', suggested: ' + plan.suggested}) at {plan.commit[:12]}, "
        f"bundle {plan.digest}"
    )
    if dry_run:
        write_out(plan.message)
        console.print(f"dry run: would tag {summary}; nothing was changed", markup=False)
        return 0
    apply_release(root, plan, push=push, remote=remote)
    console.print(f"released {summary}" + (f"; pushed to {remote}" if push else ""), markup=False)
    return 0


def bundle(
    ref: Annotated[str, typer.Option("--ref", help="The revision or release tag.")] = "HEAD",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the bundle to this file.", dir_okay=False)
    ] = None,
    repo: RepoOption = None,
) -> int:
    """Build the canonical bundle of a revision (byte-identical for the same commit)."""
    from ..release.bundle import canonical
    from ..release.releasing import bundle_at

    root, _, snapshot = open_project(repo)
    doc = bundle_at(root, ref, snapshot.config.tag_prefix)
    write_out(canonical(doc).decode("utf-8"), output)
    if output is not None:
        err_console().print(f"wrote {output} ({doc['digest']})", markup=False)
    return 0


def verify(
    target: Annotated[str, typer.Argument(help="A release tag, or a bundle file.")],
    repo: RepoOption = None,
) -> int:
    """Recompute a release's or a bundle file's digest and compare. Exit 1 on any mismatch."""
    from ..errors import GateFailed, InputError
    from ..release.bundle import verify_bytes
    from ..release.releasing import verify_tag

    path = Path(target)
    if path.is_file():
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read the bundle: {exc.strerror}", file=target) from None
        ok, detail = verify_bytes(data)
    elif path.suffix == ".json" or "/" in target.replace("refs/tags/", "", 1):
        raise InputError("no such bundle file", file=target, hint="pass a bundle file or a release tag")
    else:
        root, _, snapshot = open_project(repo)
        ok, detail = verify_tag(root, target, snapshot.config.tag_prefix)
    if not ok:
        raise GateFailed(f"{target}: {detail}")
    err_console().print(f"✓ {target}: {detail}", markup=False)
    return 0
