"""`promptops audit`: the change trail of prompts from git (`trail`), and the runtime's audit log (`show`, `verify`)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .. import wording
from . import EXIT_HELP
from .common import RepoOption, check_format, err_console, note, open_project, root_of, write_out

if TYPE_CHECKING:
    from ..runtime.audit_verify import ChainReport, Report

app = typer.Typer(
    help="Audit: the change trail of prompts from git; the runtime's tamper-evident audit log.", no_args_is_help=True
)
FORMATS = ("jsonl", "text")
LOG_FORMATS = ("text", "json")
LogPath = Annotated[
    Path | None,
    typer.Argument(
        metavar="PATH",
        help="The audit directory, or one segment file (default: audit.dir of promptops.yaml, .promptops/audit).",
        show_default=False,
    ),
]


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

    from ..git import GitRepo
    from ..release.trail import trail as trail_of

    check_format(fmt, FORMATS)
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
        f"{wording.count(len(records), 'record')} for {prompt or 'every prompt'}: {counts['commit']} "
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


@app.command("show", epilog=EXIT_HELP)
def show(
    path: LogPath = None,
    env: Annotated[str | None, typer.Option("--env", help="Only records of this environment.")] = None,
    prompt: Annotated[str | None, typer.Option("--prompt", help="Only records of this prompt id.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", metavar="ISO-TIME", help="Only records at or after this time (UTC).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="text (one line per record) or json (JSON Lines).")] = "text",
    repo: RepoOption = None,
) -> int:
    """Print the records of the runtime's audit log, oldest first (every instance's chain, merged
    by time).

    --since takes an ISO 8601 date or time (2026-11-30, 2026-11-30T06:00, ...Z or +02:00; UTC
    when no zone is given). The text format shows time, environment, prompt, release, who
    answered (primary, fallback or kill-switch), model, latency, error and the record id; json
    prints whole records. Lines cut short by a crash are skipped. Nothing is verified here:
    `promptops audit verify` checks the chains.
    """
    import json

    from ..runtime.audit_verify import parse_time, read

    check_format(fmt, LOG_FORMATS)
    floor = parse_time(since) if since is not None else None
    directory = path if path is not None else audit_dir(repo)
    count = 0
    for record in read(directory, env=env, prompt=prompt, since=floor):
        line = json.dumps(record, sort_keys=True, ensure_ascii=False) if fmt == "json" else describe_record(record)
        sys.stdout.write(line + "\n")
        count += 1
    sys.stdout.flush()
    note(f"{wording.count(count, 'record')} from {directory}")
    return 0


@app.command("verify", epilog=EXIT_HELP)
def verify_log(
    path: LogPath = None,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 on crash traces too.")] = False,
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    repo: RepoOption = None,
) -> int:
    """Check the hash chains of the runtime's audit log: every chain found (one per instance),
    across segments.

    Exit 0 when every chain holds; exit 1 naming the first broken record of a chain, its
    file:line and why: edited (its content no longer matches its hash), deleted (a gap, or a
    link to a record that is not there), reordered, truncated (a segment cut short) or
    missing-segment. A record cut short by a writer that was killed mid-append is reported as
    a crash, not as tampering, and exits 0 (1 with --strict). Whole records cut cleanly from the
    very end of a chain leave no trace in it: keep the head printed here (last seq and hash)
    elsewhere and compare.
    """
    import json
    from dataclasses import asdict

    from ..errors import GateFailed
    from ..runtime.audit_verify import verify

    check_format(fmt, LOG_FORMATS)
    directory = path if path is not None else audit_dir(repo)
    report = verify(directory)
    if fmt == "json":
        chains = [{**asdict(c), "ok": c.ok} for c in report.chains]
        write_out(json.dumps({"path": report.path, "ok": report.ok, "chains": chains}, indent=2))
    elif report.chains:
        write_out("".join(describe_chain(c) for c in report.chains))
    broken = [c for c in report.chains if c.broken is not None]
    if broken:
        raise GateFailed(_broken_summary(broken))
    if strict and report.crashes:
        first = report.crashes[0]
        raise GateFailed(f"crash traces in the audit log (--strict): {first.where}: {first.message}")
    note(_summary(report))
    return 0


def audit_dir(repo: Path | None) -> Path:
    """The audit directory promptops.yaml names (audit.dir), from the project root."""
    from ..loader import load_config
    from ..workspace import open_source

    root = root_of(repo)
    return load_config(open_source(root)).audit.directory(root)


def describe_record(r: Mapping[str, Any]) -> str:
    """One line of `audit show`: the fields an on-call engineer scans for, then the record id."""
    parts = [str(r.get("time") or "-"), str(r.get("environment") or "-"), str(r.get("prompt") or "-")]
    if r.get("release"):
        parts.append(f"release {r['release']}")
    parts.append(f"{r.get('answered_by') or '-'} {r.get('model') or '-'}")
    latency = r.get("latency_ms")
    if isinstance(latency, (int, float)) and not isinstance(latency, bool):
        parts.append(f"{latency:.0f} ms")
    if r.get("error"):
        parts.append(f"error: {r['error']}")
    parts.append(f"id {r.get('id') or '-'}")
    return " ".join("  ".join(parts).split("\n"))


def describe_chain(c: ChainReport) -> str:
    segments = wording.count(len(c.segments), "segment")
    head = f"head seq {c.head_seq} {c.head_hash}" if c.records else "no intact record"
    lines = [f"{'ok' if c.ok else 'BROKEN':<6}  {c.instance}: {c.records} records in {segments}; {head}"]
    if c.broken is not None:
        seq = f" (seq {c.broken.seq})" if c.broken.seq is not None else ""
        lines.append(f"  {c.broken.where}{seq}: {c.broken.kind}: {c.broken.message}")
    lines.extend(f"  {p.where}: crash: {p.message}" for p in c.crashes)
    return "".join(line + "\n" for line in lines)


def _broken_summary(broken: list[ChainReport]) -> str:
    first = broken[0].broken
    assert first is not None
    more = f" (and {wording.count(len(broken) - 1, 'more broken chain')})" if len(broken) > 1 else ""
    return f"audit chain {broken[0].instance} is broken at {first.where}: {first.kind}: {first.message}{more}"


def _summary(report: Report) -> str:
    if not report.chains:
        return f"no audit records under {report.path}"
    records = sum(c.records for c in report.chains)
    crashes = len(report.crashes)
    text = f"audit log holds: {wording.count(len(report.chains), 'chain')}, {records} records"
    if crashes:
        text += f"; {wording.count(crashes, 'crash trace')} (writers stopped mid-append; not tampering)"
    return text
