"""`promptops diff`: what a change does to prompts, routing, evals and sources."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..wording import count
from .common import RepoOption, check_format, err_console, note, out_console, root_of, write_out

FORMATS = ("text", "markdown", "json", "html")


def diff(
    base: Annotated[
        str | None,
        typer.Argument(
            metavar="BASE",
            help="The base revision (default: the merge-base with origin/HEAD, main or master).",
            show_default=False,
        ),
    ] = None,
    head: Annotated[
        str | None,
        typer.Argument(
            metavar="HEAD",
            help="The head revision (default: the working tree, uncommitted changes included).",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="text, markdown (a PR comment), json or html (a page to open offline).")
    ] = "text",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report to a file.", dir_okay=False)
    ] = None,
    exit_code: Annotated[bool, typer.Option("--exit-code", help="Exit 1 when there are changes.")] = False,
    fail_on: Annotated[
        list[str] | None,
        typer.Option(
            "--fail-on",
            help="Exit 1 on these findings (comma-separated or repeated): weakened-gate, breaking, high-risk, "
            "regression (needs --eval).",
        ),
    ] = None,
    run_eval: Annotated[
        bool, typer.Option("--eval", help="Also run the affected suites at BASE and HEAD and compare case by case.")
    ] = False,
    replay: Annotated[
        bool, typer.Option("--replay", help="With --eval: answer only from evals/recordings/ (offline, no keys).")
    ] = False,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", "-j", min=1, help="With --eval: calls in flight.")
    ] = None,
    no_cache: Annotated[
        bool,
        typer.Option(
            "--no-cache",
            help="With --eval: call the models instead of reading the cache (which still gets the answers).",
        ),
    ] = False,
    repo: RepoOption = None,
) -> int:
    """Show what a change does to prompts, rendered messages, routing, eval suites and pinned sources.

    Exit 0, changes or not; 1 when --exit-code finds changes or a --fail-on finding is present;
    2 for bad input (an unknown revision, a shallow clone missing BASE); 3 when --eval meets
    provider errors after retries; 130 when interrupted.
    """
    import os

    from ..diff import FAIL_ON, as_dict, policy_failures
    from ..errors import InputError
    from ..report import diff as writers
    from ..review import EvalRequest, review

    check_format(fmt, FORMATS)
    policies = {p.strip() for item in fail_on or [] for p in item.split(",") if p.strip()}
    unknown = sorted(policies - set(FAIL_ON))
    if unknown:
        raise InputError(f"unknown --fail-on {unknown[0]!r}", hint=f"use one or more of: {', '.join(FAIL_ON)}")
    if "regression" in policies and not run_eval:
        raise InputError("--fail-on regression needs --eval")
    if run_eval and head is not None:
        raise InputError(
            "--eval evaluates the working tree, so it takes no HEAD revision",
            hint=f"check {head} out, then run `promptops diff {base or 'BASE'} --eval`",
        )
    request = EvalRequest(replay=replay, concurrency=concurrency, use_cache=not no_cache) if run_eval else None
    result = review(root_of(repo), base, head, dict(os.environ), request, on_note=note)
    report, code = result.report, result.eval_code
    doc = as_dict(report)
    render = {
        "json": writers.to_json,
        "markdown": writers.to_markdown,
        "text": writers.to_text,
        "html": writers.to_html,
    }[fmt]
    _emit(render(doc), output, fmt)
    failures = policy_failures(report, policies)
    errors = [c for c in report.eval.cases if c.error] if report.eval else []
    if failures or errors:  # rich is loaded only for these lines
        console = err_console()
        for line in failures[:20]:
            console.print(f"✗ {line}", markup=False)
        if errors:
            first = errors[0]
            console.print(
                f"error: {count(len(errors), 'eval case')} ended in error; first: "
                f"{first.suite} / {first.case} ({first.model}): {first.error}",
                markup=False,
            )
    if output is not None or fmt != "text":
        note(writers.summary_line(doc))
    if code in (2, 3, 130):
        return code
    if failures:
        return 1
    return 1 if exit_code and report.changed else 0


def _emit(text: str, output: Path | None, fmt: str) -> None:
    """Data to stdout or a file; the text format gets colour on a terminal (rich honours NO_COLOR)."""
    if output is not None or fmt != "text" or not sys.stdout.isatty():
        write_out(text, output)
        return
    from rich.text import Text

    styled = Text()
    for line in text.splitlines(keepends=True):
        bare = line.lstrip()
        style = (
            "green" if bare.startswith("+") and not bare.startswith("+++")
            else "red" if bare.startswith("-") and not bare.startswith("---")
            else "cyan" if bare.startswith("@@")
            else "bold" if line[:1].isalpha()
            else ""
        )  # fmt: skip
        styled.append(line, style=style)
    out_console().print(styled, end="")
