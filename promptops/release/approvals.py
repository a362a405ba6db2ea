"""Signed approvals: who may approve an environment, the statement they sign, and the checks a promote runs.

The people who may approve an environment are listed in an allowed-signers file (git's SSH-signing format,
`principal [namespaces="promptops-approval"] key-type key`), named by the environment's `allowed_signers`
in promptops.yaml and reviewed like code through CODEOWNERS. `promptops approve` signs a statement (the
release's tag and digest, the environment, the reason, the time and, for an approval after the fact, the
ledger commit of the rollback or kill it approves) with `ssh-keygen -Y sign -n promptops-approval`, and
records it on the ledger as an `approve` commit holding `approval.json` ({statement, signature}).

An approval counts when its signature verifies against the environment's allowed-signers file, it names
the environment and the release's digest, its signer is not the release's author (the tagger of the
release tag, or the author or committer of the release commit, matched by email or name against every
principal the signer's key is listed under; nor, when the release tag is SSH-signed, the key that signed it),
it approves what it is used for (a release, or the one ledger event its statement names), and it was
signed at most `approval_valid_days` (default 7) before it is used.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .. import clock
from ..config_model import Config
from ..errors import GateFailed, InputError
from ..git import GitRepo
from ..workspace import CONFIG_FILE
from .ledger import APPROVAL, Event, Ledger

# ..signing and ..digest (hashlib, tempfile) are imported where a signature is made or checked: `status` reads
# the approval policy of every event, and checks signatures only of approve events.

NAMESPACE = "promptops-approval"
KIND = "promptops-approval"
DEFAULT_DAYS = 7.0
SKEW = timedelta(minutes=5)  # a statement dated this far in the future still counts (clocks differ)


@dataclass(frozen=True)
class Policy:
    """What an environment asks of an approval."""

    environment: str
    required: bool
    signers: Path | None  # the allowed-signers file; None when the environment names none
    days: float = DEFAULT_DAYS


def policy(root: Path, config: Config, env: str) -> Policy:
    settings = config.environments.get(env, {})
    signers = settings.get("allowed_signers")
    return Policy(
        environment=env,
        required=bool(settings.get("requires_approval")),
        signers=(root / str(signers)) if signers else None,
        days=float(settings.get("approval_valid_days", DEFAULT_DAYS)),
    )


def signers_file(pol: Policy) -> Path:
    """The allowed-signers file of an environment, which must exist."""
    if pol.signers is None:
        raise InputError(
            f"{pol.environment} names no approvers",
            file=CONFIG_FILE,
            hint=f"set environments.{pol.environment}.allowed_signers to an allowed-signers file (git's SSH format)",
        )
    if not pol.signers.is_file():
        raise InputError(
            "the allowed-signers file of " + pol.environment + " does not exist",
            file=str(pol.signers),
            hint='create it: one line per approver, `email namespaces="promptops-approval" ssh-ed25519 AAAA...`',
        )
    _exact_principals(pol.signers)
    return pol.signers


PATTERN = re.compile(r"[*?!,\"\s]")


def _exact_principals(path: Path) -> None:
    """InputError (exit 2) naming the line of an allowed-signers file whose principal is not one exact email: a
    pattern (`*@example.com`), a list, or a bare name would let a release's author approve under another name."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the allowed-signers file: {exc}", file=str(path)) from None
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        principal = text.split(None, 1)[0] if not text.startswith('"') else text.split('"', 2)[1]
        if text.startswith('"') or PATTERN.search(principal) or principal.count("@") != 1:
            raise InputError(
                f"approvers are listed by exact email; {principal[:60]!r} is not one (a pattern, a list or a name)",
                file=str(path),
                line=number,
                hint='one line per person, naming one email: `bob@example.com namespaces="promptops-approval" '
                "ssh-ed25519 AAAA...`",
            )


def statement(env: str, version: str, digest: str, reason: str, event: Event | None = None) -> dict[str, Any]:
    """What an approver signs."""
    body: dict[str, Any] = {
        "type": KIND,
        "format_version": 1,
        "environment": env,
        "version": version,
        "digest": digest,
        "reason": reason,
        "time": clock.stamp(),
    }
    if event is not None:
        body["event"] = {"commit": event.commit, "action": event.action, "prompt": event.prompt}
    return body


def sign(body: Mapping[str, Any], key: Path) -> bytes:
    """The `approval.json` of a signed statement."""
    from ..digest import canonical
    from ..signing import ssh_sign

    signed = {"statement": dict(body), "signature": ssh_sign(canonical(body), key, NAMESPACE)}
    return (json.dumps(signed, indent=2, sort_keys=True) + "\n").encode("utf-8")


def authors(repo: GitRepo, tagger: str, commit: str) -> list[str]:
    """Who made a release: the tagger of its tag, and the author and committer of its commit."""
    people = repo.commit_people(commit)
    return [p for p in [tagger, *people] if p.strip()]


def release_key(repo: GitRepo, tag: str) -> str:
    """The fingerprint of the SSH key that signed the release tag ("" when the tag is not SSH-signed)."""
    from ..signing import ssh_fingerprint

    return ssh_fingerprint(repo.tag_ssh_signature(tag))


def same_person(principal: str, person: str) -> bool:
    """Whether a principal (an email, or a name) or a typed name is `person` (`Name <email>`)."""

    def parts(text: str) -> set[str]:
        text = text.strip().lower()
        found = set(re.findall(r"<([^>]+)>", text))
        name = re.sub(r"<[^>]*>", "", text).strip()
        return found | ({name} if name else set())

    return bool(parts(principal) & parts(person))


def approved(doc: Mapping[str, Any]) -> str:
    """The ledger event a signed approval approves after the fact ("" for an approval of a release)."""
    named = doc["statement"].get("event")
    return str(named.get("commit", "")) if isinstance(named, dict) else ""


def read(ledger: Ledger, commit: str) -> dict[str, Any]:
    """The `approval.json` of an approve commit; GateFailed when it is missing or malformed."""
    data = ledger.repo.show(f"{commit}:{APPROVAL}")
    try:
        doc = json.loads((data or b"").decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        doc = None
    if (
        not isinstance(doc, dict)
        or not isinstance(doc.get("statement"), dict)
        or not isinstance(doc.get("signature"), str)
    ):
        raise GateFailed(f"the approval in ledger commit {commit[:12]} is missing or malformed")
    return doc


def check(
    doc: Mapping[str, Any],
    pol: Policy,
    *,
    digest: str,
    made_by: Iterable[str],
    at: datetime | None = None,
    event: str = "",
    tag_key: str = "",
) -> str:
    """The principal of a valid approval of `digest` (or of the ledger event `event`) for the environment, at
    time `at` (default now); GateFailed (exit 1) saying why it does not count. The signer is the release's
    author when any principal its key is listed under is one of `made_by`, or when its key (fingerprint) is
    `tag_key`, the key that signed the release tag."""
    body = doc["statement"]
    if body.get("type") != KIND or body.get("environment") != pol.environment:
        raise GateFailed(f"the approval is not one for {pol.environment} (it names {body.get('environment')!r})")
    if body.get("digest") != digest:
        raise GateFailed(f"the approval is for digest {body.get('digest')}, not {digest}")
    if approved(doc) != event:
        raise GateFailed(
            f"the approval does not name the ledger event {event[:12]}"
            if event
            else f"the approval is one after the fact of ledger event {approved(doc)[:12]}, not of a release"
        )
    from ..digest import canonical
    from ..signing import ssh_fingerprint, ssh_principals

    signature = str(doc["signature"])
    principals = ssh_principals(canonical(body), signature, signers_file(pol), NAMESPACE, what="the approval")
    principal = principals[0]
    for person in made_by:
        for listed in principals:
            if same_person(listed, person):
                raise GateFailed(
                    f"the approval is signed by {listed}, who made the release ({person}): someone else must approve",
                    hint="ask an approver listed in the allowed-signers file who did not cut the release",
                )
    if tag_key and ssh_fingerprint(signature) == tag_key:
        raise GateFailed(
            f"the approval is signed with the key that signed the release tag ({tag_key}): someone else must approve",
            hint="ask an approver listed in the allowed-signers file who did not cut the release",
        )
    signed = _moment(str(body.get("time", "")))
    when = at or clock.now()
    if signed is None or signed > when + SKEW:
        raise GateFailed(f"the approval's time {body.get('time')!r} is not a time before {_stamp(when)}")
    if when - signed > timedelta(days=pol.days):
        raise GateFailed(
            f"the approval signed by {principal} at {body['time']} has expired (valid for {pol.days:g} days)",
            hint=f"ask for a new approval: `promptops approve {body.get('version')} --env {pol.environment}`",
        )
    return principal


def _moment(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def moment(text: str) -> datetime | None:
    """An event's recorded time, or None when it is not one."""
    return _moment(text)


def find(
    ledger: Ledger, pol: Policy, digest: str, made_by: Iterable[str], event: str = "", tag_key: str = ""
) -> tuple[str, str]:
    """(principal, ledger commit) of the newest approval on the ledger that counts for `digest` in the
    environment now (or, with `event`, for that ledger event); GateFailed saying why none does."""
    why = ""
    for candidate in ledger.events():
        if candidate.action != "approve" or candidate.environment != pol.environment:
            continue
        if candidate.digest != digest:
            continue
        try:
            doc = read(ledger, candidate.commit)
            # What is approved is what the signed statement says, whatever the ledger entry records.
            if approved(doc) != event:
                continue
            principal = check(doc, pol, digest=digest, made_by=made_by, event=event, tag_key=tag_key)
            return principal, candidate.commit
        except GateFailed as exc:
            why = why or f"the approval in ledger commit {candidate.commit[:12]} does not count: {exc.message}"
    raise GateFailed(
        f"{pol.environment} requires a signed approval, and {why or 'there is none for this release'}",
        hint="an approver listed in the environment's allowed-signers file runs `promptops approve VERSION --env "
        f"{pol.environment} --reason ...`; or, knowingly, pass --approved-by NAME --unverified",
    )
