"""`promptops release` and `promptops bundle`/`verify`: plan first (every check), then apply (one tag).

The lint and eval gates are given by the caller (`Gates`): lint and evaluate are release's peers, not below
it, so promptops/gates.py composes the three for the CLI."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import loader
from ..digest import digest_of
from ..errors import GateFailed, GitError, InputError
from ..git import GitRepo
from ..model import EvalReport, Finding, Snapshot
from ..wording import count
from ..workspace import GitSource, Source
from . import bundle as bundles
from .record import parse_message, render_message
from .versions import BUMPS, Version, parse, released, tag_name

FIRST = {"major": Version(1, 0, 0), "minor": Version(0, 1, 0), "patch": Version(0, 0, 1)}


@dataclass
class Request:
    version: str | None = None
    bump: str | None = None
    notes: str = ""
    skip_eval_reason: str | None = None
    replay: bool = False
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Gates:
    """What a release must pass before it is tagged. `lint` returns the findings of the project at the commit;
    `evaluate` runs the gating evals (root, source, snapshot, replay, environment) and raises when they do not
    pass (GateFailed, InputError, UnavailableError, Interrupted)."""

    lint: Callable[[Source, Snapshot], list[Finding]]
    evaluate: Callable[[Path, GitSource, Snapshot, bool, Mapping[str, str]], EvalReport]


@dataclass
class Plan:
    tag: str
    version: str
    previous: str | None
    part: str
    suggested: str | None
    commit: str
    digest: str
    record: dict[str, Any]
    message: str
    findings: list[Finding]
    report: EvalReport | None


def project_prefix(repo: GitRepo, root: Path) -> str:
    rel = root.resolve().relative_to(repo.root).as_posix()
    return "" if rel == "." else rel


def check_clean(repo: GitRepo, root: Path) -> None:
    prefix = project_prefix(repo, root)
    own_state = f"{prefix}/.promptops/" if prefix else ".promptops/"  # cache and results: never released
    dirty = [line for line in repo.dirty(prefix or ".") if not line[3:].startswith(own_state)]
    if dirty:
        shown = ", ".join(line[3:] for line in dirty[:5]) + (" ..." if len(dirty) > 5 else "")
        raise InputError(
            f"the working tree has uncommitted changes: {shown}",
            hint="commit or stash them: a release is built from a commit, never from a dirty tree",
        )


def release_notes(repo: GitRepo, since: str | None, root: Path) -> list[dict[str, Any]]:
    """Change reasons and approvals from the trailers of the commits since the last release."""
    revs = [f"{since}..HEAD"] if since else ["HEAD"]
    notes = []
    for entry in reversed(repo.log(revs, [project_prefix(repo, root) or "."])):
        reasons, approvals = entry.trailers("Change-Reason"), entry.trailers("Approved-by")
        if reasons or approvals:
            notes.append(
                {
                    "commit": entry.sha,
                    "author": f"{entry.author} <{entry.email}>",
                    "date": entry.date,
                    "subject": entry.subject,
                    "reasons": reasons,
                    "approved_by": approvals,
                }
            )
    return notes


def evidence_of(report: EvalReport | None, skipped: str | None, mode: str | None) -> dict[str, Any]:
    if report is None:
        return {"skipped": skipped, "mode": mode, "suites": [], "results_digest": None, "overrides": []}
    from ..report.results import to_dict

    results = to_dict(report)["results"]
    essence = [
        {k: r[k] for k in ("suite", "case", "repeat", "model", "variant", "status", "output_hash")} for r in results
    ]
    overrides = sorted(
        {(r.override.suite, r.override.case): r.override for r in report.results if r.override is not None}.items()
    )
    return {
        "skipped": None,
        "mode": mode,
        "suites": [
            {
                "suite": s.suite,
                "prompt": s.prompt,
                "cases": s.cases,
                "passed": s.passed,
                "failed": s.failed,
                "errors": s.errors,
                "pass_rate": s.pass_rate,
                "threshold": s.threshold,
                "consistency": s.consistency,
                "flaky": s.flaky,
                "gate_passed": s.gate_passed,
            }
            for s in report.suites
        ],
        "results_digest": digest_of(essence),
        "overrides": [
            {
                "suite": o.suite,
                "case": o.case,
                "verdict": o.verdict,
                "reason": o.reason,
                "author": o.author,
                "output_hash": o.output_hash,
            }
            for _, o in overrides
        ],
    }


def changes_since(
    base: Snapshot, head: Snapshot, base_source: GitSource, head_source: GitSource
) -> tuple[str | None, bool, list[dict[str, str]]]:
    """(suggested bump, whether a change breaks a contract, changed prompts) between two releases."""
    from .. import diff as diffs

    report = diffs.diff(base, head, base_source=base_source, head_source=head_source)
    return diffs.version_bump(report), diffs.is_breaking(report), diffs.changed_prompts(report)


def choose_version(
    previous: Version | None, request: Request, suggested: str | None, breaking: bool
) -> tuple[Version, str]:
    if request.version and request.bump:
        raise InputError("give a VERSION or --bump, not both")
    if request.bump and request.bump not in BUMPS:
        raise InputError(f"--bump must be one of {', '.join(BUMPS)}")
    if request.version:
        version = parse(request.version)
        if previous is not None and version <= previous:
            raise InputError(
                f"version {version} is not above the last release {previous}",
                hint=f"use {previous.bump(suggested or 'patch')} or higher",
            )
        part = previous.part_changed(version) if previous else "major"
    elif request.bump:
        part = request.bump
        version = previous.bump(part) if previous else FIRST[part]
    else:
        if previous is None:
            return FIRST["minor"], "minor"
        if suggested is None:
            raise InputError(f"nothing changed since the last release {previous}; there is nothing to release")
        part = suggested
        version = previous.bump(part)
    if breaking and previous is not None and part != "major":
        raise GateFailed(
            f"this release breaks a prompt's contract (inputs or output schema), so it needs a major "
            f"version, not a {part} bump to {version}",
            hint=f"release {previous.bump('major')} (--bump major), or undo the breaking change",
        )
    return version, part


def plan_release(root: Path, config_prefix: str, request: Request, gates: Gates) -> Plan:
    """Check every precondition and compute the release; nothing is written."""
    repo = GitRepo(root)
    if not repo.has_commits():
        raise InputError("the repository has no commits yet", hint="commit the prompts first")
    if not repo.identity():
        raise InputError(
            "git has no identity for you, and a release tag records who made it",
            hint="git config user.name 'Your Name' && git config user.email you@example.com",
        )
    check_clean(repo, root)
    commit = repo.resolve("HEAD")
    source = GitSource(root, commit, repo)
    snapshot = loader.load(source)
    findings = gates.lint(source, snapshot)
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        first = errors[0]
        raise GateFailed(
            f"lint found {count(len(errors), 'error')}; first: {first.where}: {first.message}",
            hint="run `promptops lint` and fix them",
        )
    history = released(repo.tags(f"{config_prefix}*"), config_prefix)
    previous = history[-1] if history else None
    suggested: str | None = None
    breaking = False
    changed: list[dict[str, str]] = []
    if previous is not None:
        base_source = GitSource(root, previous[1], repo)
        suggested, breaking, changed = changes_since(loader.load(base_source), snapshot, base_source, source)
    version, part = choose_version(previous[0] if previous else None, request, suggested, breaking)
    tag = tag_name(version, config_prefix)
    if repo.tag(tag) is not None:
        raise InputError(f"tag {tag} exists already", hint="pick another version")
    report: EvalReport | None = None
    if request.skip_eval_reason is None:
        report = gates.evaluate(root, source, snapshot, request.replay, request.env)
    elif not request.skip_eval_reason.strip():
        raise InputError("--skip-eval needs --reason saying why the evals are skipped")
    mode = None if report is None else "replay" if request.replay else "live"
    evidence = evidence_of(report, request.skip_eval_reason, mode)
    notes = release_notes(repo, previous[1] if previous else None, root)
    doc = bundles.build(
        snapshot,
        source,
        commit=commit,
        commit_time=repo.commit_time(commit),
        version=tag,
        evidence=evidence,
        notes=notes,
    )
    record = {
        "format_version": 1,
        "project": snapshot.config.project,
        "tag": tag,
        "version": str(version),
        "previous": previous[1] if previous else None,
        "bump": part,
        "suggested_bump": suggested,
        "commit": commit,
        "commit_time": doc["commit_time"],
        "digest": doc["digest"],
        "pinned_documents": True,  # the bundle carries its pinned sources (releases before this did not)
        "hashes": doc["hashes"],
        "evidence": evidence,
        "notes": notes,
        "notes_text": request.notes,
        "changed": changed,
    }
    return Plan(
        tag=tag,
        version=str(version),
        previous=previous[1] if previous else None,
        part=part,
        suggested=suggested,
        commit=commit,
        digest=doc["digest"],
        record=record,
        message=render_message(record),
        findings=findings,
        report=report,
    )


def apply_release(root: Path, plan: Plan, push: bool, remote: str = "origin") -> None:
    repo = GitRepo(root)
    repo.create_tag(plan.tag, plan.commit, plan.message)
    if push:
        try:
            repo.push(remote, [f"refs/tags/{plan.tag}"])
        except GitError as exc:
            rejected = "rejected" in exc.message
            raise GitError(
                f"{plan.tag} was tagged here, but {exc.message}",
                hint=f"{remote} already has a tag {plan.tag}: compare the two, delete the wrong one, then push "
                f"again with `git push {remote} refs/tags/{plan.tag}`"
                if rejected
                else exc.hint,
            ) from None


def bundle_at(root: Path, ref: str, prefix: str) -> dict[str, Any]:
    """The bundle of a revision; for a release tag, with the release's version, evidence and notes."""
    repo = GitRepo(root)
    info = repo.tag(ref) if not ref.startswith("refs/") else None
    record: dict[str, Any] | None = None
    if info is not None and info.message:
        try:
            record = parse_message(info.message, ref)
        except InputError:
            record = None
    commit = repo.resolve(ref)
    source = GitSource(root, commit, repo)
    snapshot = loader.load(source)
    loader.raise_problem(snapshot)
    return bundles.build(
        snapshot,
        source,
        commit=commit,
        commit_time=repo.commit_time(commit),
        version=record["tag"] if record else None,
        evidence=record.get("evidence") if record else None,
        notes=record.get("notes") if record else None,
        documents=record is None or bool(record.get("pinned_documents")),  # as the release was built
    )


def verify_tag(root: Path, tag: str, prefix: str) -> tuple[bool, str]:
    """Rebuild a release's bundle from its commit and compare with the digest recorded in its tag."""
    repo = GitRepo(root)
    info = repo.tag(tag) or repo.tag(f"{prefix}{tag}")
    if info is None:
        raise InputError(f"no tag {tag!r}", hint="pass a release tag or a bundle file")
    record = parse_message(info.message, info.name)
    if record.get("commit") != info.commit:
        return False, (
            f"tag {info.name} points at {info.commit[:12]} but was released from "
            f"{str(record.get('commit'))[:12]}: the tag was moved"
        )
    rebuilt = bundle_at(root, info.name, prefix)
    if rebuilt["digest"] != record.get("digest"):
        return False, f"digest mismatch: the tag records {record.get('digest')}, the commit builds {rebuilt['digest']}"
    return True, rebuilt["digest"]
