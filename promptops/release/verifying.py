"""`verify`: a bundle or export file, a release tag, or the ledger, checked against what the repository says.

A file is first checked on its own (canonical bytes, digest, kill-list seal, signature). A file can be
consistent and still forged: its template edited and its digest recomputed, its version relabelled, its
kill list removed. In a repository it is then compared with the release tag's record for its version (and
the tag rebuilt from its commit), and an export's kill list with the ledger's for its environment. Every
difference is a problem (exit 1); what the evidence rests on (an unsigned tag, unsigned ledger commits,
no repository at all) is said plainly as a note.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import signing
from ..config_model import Config
from ..errors import GateFailed, InputError
from ..git import GitRepo
from .bundle import verify_bytes
from .ledger import Ledger
from .record import parse_message
from .releasing import bundle_at, verify_tag
from .replay import replay


@dataclass
class Keys:
    """What a signature is checked with, and whether one is required."""

    allowed_signers: Path | None = None
    hmac_key: bytes | None = None
    require: bool = False


@dataclass
class Verdict:
    summary: str = ""
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def read_target(target: str) -> bytes | None:
    """The bytes of the bundle or export file `target` names, or None when it names a release tag."""
    path = Path(target)
    if path.is_file():
        try:
            return path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read the bundle: {exc.strerror}", file=target) from None
    if path.suffix == ".json":
        raise InputError("no such bundle file", file=target, hint="pass a bundle file or a release tag")
    return None  # a tag; its name may hold a `/` (a tag_prefix such as `support-bot/v`)


def verify_file(data: bytes, root: Path | None, config: Config | None, env: str | None, keys: Keys) -> Verdict:
    """A bundle or export file: on its own, then (with `root`) against the release tag and the ledger."""
    ok, detail = verify_bytes(data)
    if not ok:
        return Verdict(problems=[detail])
    doc: dict[str, Any] = json.loads(data)
    verdict = Verdict(summary=f"{doc.get('version') or 'untagged bundle'} ({doc['digest']})")
    try:
        found = signing.check(doc, allowed_signers=keys.allowed_signers, hmac_key=keys.hmac_key, require=keys.require)
        verdict.notes.append(f"signature: {found}")
    except GateFailed as exc:
        verdict.problems.append(exc.message)
    if env is not None and doc.get("environment") != env:
        found = f"is an export of {doc['environment']}" if "environment" in doc else "records no environment"
        verdict.problems.append(f"the file {found}, not an export of {env}")
    if root is None or config is None:
        verdict.notes.append(
            "only self-consistency was checked (digest, seal, signature): not compared with any repository's "
            "release tag or ledger; run in the repository or pass --repo DIR for that"
        )
        return verdict
    repo = GitRepo(root)
    _against_release(repo, root, config, doc, verdict)
    if "environment" in doc:
        _against_ledger(repo, config, doc, verdict)
    return verdict


def _against_release(repo: GitRepo, root: Path, config: Config, doc: dict[str, Any], verdict: Verdict) -> None:
    version, commit = doc.get("version"), str(doc.get("commit"))
    if not version:
        try:
            rebuilt = bundle_at(root, commit, config.tag_prefix)
        except InputError as exc:
            verdict.problems.append(f"the file's commit {commit[:12]} cannot be rebuilt here: {exc.message}")
            return
        if rebuilt["digest"] != doc["digest"]:
            verdict.problems.append(
                f"commit {commit[:12]} builds {rebuilt['digest']}, the file has {doc['digest']}: its content is not "
                "what that commit holds"
            )
        return
    info = repo.tag(str(version))
    if info is None:
        verdict.problems.append(
            f"this repository has no release tag {version}: the file was relabelled, or the tags are not fetched "
            "(`git fetch --tags`)"
        )
        return
    record = parse_message(info.message, info.name)
    if record["digest"] != doc["digest"]:
        verdict.problems.append(
            f"release {version} recorded digest {record['digest']}, the file has {doc['digest']}: its content is "
            "not what was released"
        )
    if record["commit"] != commit:
        verdict.problems.append(
            f"release {version} was built from {record['commit'][:12]}, the file says {commit[:12]}"
        )
    if not verdict.problems:
        ok, detail = verify_tag(root, info.name, config.tag_prefix)
        if not ok:
            verdict.problems.append(f"the tag {info.name} itself does not verify: {detail}")
    tag_evidence(repo, info.name, verdict)


def tag_evidence(repo: GitRepo, tag: str, verdict: Verdict) -> str:
    """Say what a release's evidence rests on: a good, unchecked, bad, or no signature on its tag."""
    signature = repo.tag_signature(tag)
    if signature.status == "none":
        verdict.notes.append(
            f"{tag} is an unsigned tag: its record is only as trustworthy as everyone who can push tags "
            "(sign releases with `git config tag.gpgSign true`)"
        )
    elif signature.status == "good":
        verdict.notes.append(f"{tag} is signed{' by ' + signature.signer if signature.signer else ''} (good signature)")
    elif signature.status == "unchecked":
        verdict.notes.append(f"{tag} is signed, but git cannot check the signature here: {signature.detail}")
    else:
        verdict.problems.append(f"{tag} carries a signature that does not verify: {signature.detail}")
    return signature.status


def _against_ledger(repo: GitRepo, config: Config, doc: dict[str, Any], verdict: Verdict) -> None:
    env = str(doc["environment"])
    ledger = Ledger(repo, config.ledger_branch)
    result = replay(ledger)
    if result.broken is not None:
        verdict.problems.append(f"the ledger does not replay: {result.broken}")
        return
    current = result.state.environments.get(env)
    if not current:
        verdict.problems.append(f"the ledger says {env} runs no release")
        return
    if current["version"] != doc.get("version") or current["digest"] != doc["digest"]:
        verdict.problems.append(
            f"{env} runs {current['version']} ({current['digest']}), the file is {doc.get('version')} ({doc['digest']})"
        )
    killed = result.state.killed_in(env)
    if doc.get("kill_switch") != killed:
        verdict.problems.append(
            f"the kill list differs from the ledger's for {env}: the file kills {_names(doc.get('kill_switch'))}, "
            f"the ledger kills {_names(killed)}"
        )
    ledger_evidence(result.unsigned, result.commits, verdict)


def ledger_evidence(unsigned: int, commits: int, verdict: Verdict) -> None:
    if unsigned:
        verdict.notes.append(
            f"{unsigned} of {commits} ledger commits are unsigned: the replay shows each state follows from its "
            "event, not who wrote the event (sign ledger commits with `git config commit.gpgSign true`)"
        )


def _names(killed: Any) -> str:
    return ", ".join(sorted(killed)) if isinstance(killed, dict) and killed else "nothing"


def verify_release(root: Path, config: Config, tag: str, require_signature: bool = False) -> Verdict:
    """A release tag: its commit rebuilds the digest its record names; and whether the tag is signed (with
    `require_signature`, a tag without a good signature is a problem)."""
    ok, detail = verify_tag(root, tag, config.tag_prefix)
    verdict = Verdict(summary=detail) if ok else Verdict(problems=[detail])
    repo = GitRepo(root)
    info = repo.tag(tag) or repo.tag(f"{config.tag_prefix}{tag}")
    if info is not None:
        status = tag_evidence(repo, info.name, verdict)
        if require_signature and status != "good":
            verdict.problems.append(f"{info.name} has no signature git could check, and one is required")
    return verdict


def verify_ledger(root: Path, config: Config, require_signature: bool = False) -> Verdict:
    """The whole ledger chain replays from its first commit (and, with `require_signature`, every commit
    carries a signature git checked and found good)."""
    ledger = Ledger(GitRepo(root), config.ledger_branch)
    result = replay(ledger)
    if result.broken is not None:
        return Verdict(problems=[f"the ledger {ledger.branch} does not replay: {result.broken}"])
    verdict = Verdict(summary=result.summary(ledger.branch))
    _events_against_tags(ledger, config, verdict)
    _approvals(root, config, ledger, verdict)
    if require_signature and result.signed < result.commits:
        first = next(c for c in ledger.chain() if c.signature.status != "good")
        verdict.problems.append(
            f"{result.commits - result.signed} ledger commits have no signature git could check, and one is "
            f"required (the first: {first.sha[:12]})"
        )
    else:
        ledger_evidence(result.unsigned, result.commits, verdict)
    return verdict


def _approvals(root: Path, config: Config, ledger: Ledger, verdict: Verdict) -> None:
    """Every signed approval verifies, and every promote that used one used one that counted then."""
    from .approving import verify_approvals
    from .environments import Context

    problems, notes = verify_approvals(Context(ledger.repo, config, ledger, who="", root=root))
    verdict.problems += problems
    verdict.notes += notes


def _events_against_tags(ledger: Ledger, config: Config, verdict: Verdict) -> None:
    """Each promote and rollback names the digest and commit its release tag records (where the tag is here)."""
    records: dict[str, dict[str, Any] | None] = {}
    for event in reversed(ledger.events()):
        if event.action not in ("promote", "rollback"):
            continue
        if event.version not in records:
            info = ledger.repo.tag(event.version)
            records[event.version] = parse_message(info.message, info.name) if info is not None else None
            if info is None:
                verdict.notes.append(f"the ledger names {event.version}, which has no tag here (`git fetch --tags`)")
        record = records[event.version]
        if record is None:
            continue
        named = (event.digest, event.release_commit or record["commit"])
        if named != (record["digest"], record["commit"]):
            verdict.problems.append(
                f"ledger commit {event.commit[:12]} ({event.title()}) names digest {event.digest}, but release "
                f"{event.version} records {record['digest']} (commit {record['commit'][:12]})"
            )
            return
