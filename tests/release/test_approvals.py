"""Signed approvals: `approve` signs with a real SSH key (ssh-keygen), `promote` to an approval-gated environment
counts only a valid one, rollbacks and kills await approval after the fact, `verify --ledger` checks them all."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import MINIMAL, commit, git
from test_ledger import LEDGER, SKIP, TONES, history, ledger_log, run, status

APPROVERS = "approvers/production.allowed_signers"
CONFIG = (
    "project: t\nenvironments:\n  staging: {}\n  production:\n    requires_approval: true\n"
    f"    allowed_signers: {APPROVERS}\n    approvers_owner: '@acme/release-managers'\n"
)


@pytest.fixture(scope="session")
def people(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Private keys made by the real ssh-keygen: ada (who cuts the releases), bob (an approver), eve (unlisted)."""
    directory = tmp_path_factory.mktemp("keys")
    keys = {}
    for name in ("ada", "bob", "eve"):
        key = directory / name
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@example.test", "-f", str(key)], check=True
        )
        keys[name] = key
    return keys


def signers_line(people: dict[str, Path], name: str) -> str:
    public = (people[name].parent / f"{name}.pub").read_text().split()
    return f'{name}@example.test namespaces="promptops-approval" {public[0]} {public[1]}\n'


@pytest.fixture
def repo(reuse, make_repo, cli, people) -> Path:
    """Three releases by Ada (v0.1.0..v0.1.2); production requires approval by ada or bob (eve is not listed)."""

    def build() -> Path:
        allowed = signers_line(people, "ada") + signers_line(people, "bob")
        root = make_repo({**MINIMAL, "promptops.yaml": CONFIG, APPROVERS: allowed})
        for n, tone in enumerate(TONES):
            if n:
                commit(root, {"prompts/shared/_tone.j2": tone}, f"tone {n}")
            code, _, err = cli("release", "--repo", root, *SKIP)
            assert code == 0, err
        return root

    return reuse("approval-releases", build)


def approve(cli, root: Path, key: Path, *args: str) -> tuple[int, str, str]:
    return run(cli, root, "approve", *args, "--env", "production", "--reason", "reviewed the eval report", "--key", key)


def promote(cli, root: Path, version: str, *args: str) -> tuple[int, str, str]:
    return run(cli, root, "promote", version, "--env", "production", "--reason", "ship it", *args)


def head(root: Path) -> str:
    return git(root, "rev-parse", LEDGER) if ledger_log(root) else ""


def test_a_signed_approval_by_someone_else_lets_the_promote_land_and_verify_confirms_it(repo, cli, people) -> None:
    code, _, err = approve(cli, repo, people["bob"], "v0.1.0")
    assert code == 0, err
    assert "approve v0.1.0 for production" in err
    statement = json.loads(git(repo, "show", f"{LEDGER}:approval.json"))
    assert statement["statement"]["environment"] == "production" and statement["statement"]["version"] == "v0.1.0"
    assert statement["signature"].startswith("-----BEGIN SSH SIGNATURE-----")
    code, _, err = promote(cli, repo, "v0.1.0")
    assert code == 0, err
    latest = history(cli, repo)[0]
    assert latest["approved_by"] == "bob@example.test" and latest["approval_status"] == "signed by bob@example.test"
    assert status(cli, repo)["production"]["approval"] == "signed by bob@example.test"
    assert "signed by bob@example.test" in run(cli, repo, "history")[1]
    code, out, err = run(cli, repo, "verify", "--ledger")
    assert code == 0, out + err
    assert "1 signed approvals verify" in out + err


@pytest.mark.parametrize(
    ("who", "expected"),
    [("ada", "who made the release"), ("eve", "does not list")],
)
def test_a_self_made_or_unlisted_approval_is_refused_and_writes_nothing(repo, cli, people, who, expected) -> None:
    before = head(repo)
    code, _, err = approve(cli, repo, people[who], "v0.1.0")
    assert code == 1 and expected in err
    assert head(repo) == before
    code, _, err = promote(cli, repo, "v0.1.0")
    assert code == 1 and "requires a signed approval" in err
    assert head(repo) == before


def test_a_forged_approval_is_refused_and_verify_names_it(repo, cli, people) -> None:
    assert approve(cli, repo, people["bob"], "v0.1.0")[0] == 0
    # A forger copies bob's signature onto a statement for another release and writes the commit by hand.
    signed = json.loads(git(repo, "show", f"{LEDGER}:approval.json"))
    v011 = json.loads(run(cli, repo, "bundle", "--ref", "v0.1.1")[1])["digest"]
    signed["statement"] |= {"version": "v0.1.1", "digest": v011}
    forged = forge(repo, signed, "v0.1.1", v011)
    code, _, err = promote(cli, repo, "v0.1.1")
    assert code == 1 and "does not match" in err
    assert head(repo) == forged
    code, out, err = run(cli, repo, "verify", "--ledger")
    assert code == 1 and forged[:12] in out + err


def forge(root: Path, approval: dict, version: str, digest: str) -> str:
    """An approve commit written with git plumbing, as someone with push access and no key would."""

    def plumb(*args: str, data: bytes | None = None) -> str:
        return subprocess.run(["git", *args], cwd=root, input=data, capture_output=True, check=True).stdout.decode()

    parent = git(root, "rev-parse", LEDGER)
    state = git(root, "show", f"{LEDGER}:state.json") + "\n"
    event = {"action": "approve", "environment": "production", "by": "Mallory <m@example.test>",
             "time": approval["statement"]["time"], "reason": "ok", "version": version, "digest": digest,
             "approved_by": "bob@example.test", "approval": "signed"}  # fmt: skip
    blobs = {
        "state.json": plumb("hash-object", "-w", "--stdin", data=state.encode()).strip(),
        "event.json": plumb("hash-object", "-w", "--stdin", data=json.dumps(event).encode()).strip(),
        "approval.json": plumb("hash-object", "-w", "--stdin", data=json.dumps(approval).encode()).strip(),
    }
    tree = plumb("mktree", data="".join(f"100644 blob {s}\t{n}\n" for n, s in sorted(blobs.items())).encode()).strip()
    message = (
        f"approve {version} for production\n\nok\n\nAction: approve\nEnvironment: production\nVersion: {version}\n"
        f"Digest: {digest}\nBy: Mallory <m@example.test>\nTime: {event['time']}\nApproved-by: bob@example.test\n"
        "Approval: signed\nReason: ok\n"
    )
    sha = plumb("commit-tree", tree, "-p", parent, "-F", "-", data=message.encode()).strip()
    plumb("update-ref", LEDGER, sha)
    return sha


def test_an_expired_approval_is_refused(repo, cli, people, clock) -> None:
    assert approve(cli, repo, people["bob"], "v0.1.0")[0] == 0
    before = head(repo)
    clock.advance(timedelta(days=7, minutes=1))
    code, _, err = promote(cli, repo, "v0.1.0")
    assert code == 1 and "has expired (valid for 7 days)" in err
    assert head(repo) == before
    clock.advance(timedelta(minutes=1))
    assert approve(cli, repo, people["bob"], "v0.1.0")[0] == 0
    assert promote(cli, repo, "v0.1.0")[0] == 0


def test_a_typed_approver_is_refused_unless_marked_unverified_and_shows_as_such(repo, cli) -> None:
    code, _, err = promote(cli, repo, "v0.1.0", "--approved-by", "Bob <bob@example.test>")
    assert code == 1 and "a typed --approved-by is not one" in err and "--unverified" in err
    assert ledger_log(repo) == []
    code, _, err = promote(cli, repo, "v0.1.0", "--approved-by", "Ada Tester", "--unverified")
    assert code == 1 and "someone else must approve" in err
    code, _, err = promote(cli, repo, "v0.1.0", "--approved-by", "Bob <bob@example.test>", "--unverified")
    assert code == 0, err
    assert history(cli, repo)[0]["approval_status"] == "unverified (typed: Bob <bob@example.test>)"
    assert status(cli, repo)["production"]["approval"].startswith("unverified")
    code, out, _ = run(cli, repo, "audit", "trail", "greet")
    assert code == 0
    promoted = [json.loads(line) for line in out.splitlines() if '"promote"' in line][-1]
    assert promoted["approval"] == "unverified (typed: Bob <bob@example.test>)"


def test_a_rollback_or_kill_needs_no_approval_and_awaits_one_until_signed_after_the_fact(repo, cli, people) -> None:
    for version in ("v0.1.0", "v0.1.1"):
        assert approve(cli, repo, people["bob"], version)[0] == 0
        assert promote(cli, repo, version)[0] == 0
    code, _, err = run(cli, repo, "rollback", "--env", "production", "--reason", "incident 42")
    assert code == 0, err
    rolled = history(cli, repo)[0]
    assert rolled["action"] == "rollback" and rolled["approval_status"] == "awaiting approval"
    assert rolled["previous"] == "v0.1.1"
    assert status(cli, repo)["production"]["awaiting_approval"] == [rolled["commit"]]
    assert "awaiting approval" in run(cli, repo, "history")[1]
    code, _, err = approve(cli, repo, people["bob"], "--event", rolled["commit"][:10])
    assert code == 0, err
    events = {e["commit"]: e for e in history(cli, repo)}
    assert events[rolled["commit"]]["approval_status"] == "approved after the fact by bob@example.test"
    assert status(cli, repo)["production"]["awaiting_approval"] == []
    code, _, err = run(cli, repo, "kill", "greet", "--env", "production", "--reason", "leaks", "--allow-error")
    assert code == 0, err
    assert history(cli, repo)[0]["approval_status"] == "awaiting approval"
    code, out, err = run(cli, repo, "verify", "--ledger")
    assert code == 0 and "1 events await approval" in out + err


def test_a_release_new_to_the_environment_is_approved_before_a_rollback_to_it(repo, cli, people) -> None:
    for version in ("v0.1.0", "v0.1.1"):
        assert approve(cli, repo, people["bob"], version)[0] == 0
        assert promote(cli, repo, version)[0] == 0
    to = ("rollback", "--env", "production", "--reason", "back", "--to", "v0.1.2")
    code, _, err = run(cli, repo, *to)
    assert code == 1 and "v0.1.2 never ran in production" in err
    assert approve(cli, repo, people["bob"], "v0.1.2")[0] == 0
    code, _, err = run(cli, repo, *to)
    assert code == 0, err
    assert history(cli, repo)[0]["approval_status"] == "signed by bob@example.test"


def test_approve_without_approvers_or_key_says_what_to_set(make_repo, cli, people) -> None:
    root = make_repo({**MINIMAL, "promptops.yaml": "project: t\nenvironments:\n  production: {}\n"})
    assert cli("release", "--repo", root, *SKIP)[0] == 0
    code, _, err = approve(cli, root, people["bob"], "v0.1.0")
    assert code == 2 and "production names no approvers" in err and "allowed_signers" in err
    code, _, err = run(cli, root, "approve", "v0.1.0", "--env", "production", "--reason", "ok")
    assert code == 2 and "--key" in err


def test_codeowners_gives_the_approvers_file_to_its_owner_and_check_covers_it(repo, cli) -> None:
    code, _, err = run(cli, repo, "codeowners")
    assert code == 0, err
    text = (repo / ".github/CODEOWNERS").read_text()
    assert f"/{APPROVERS} @acme/release-managers" in text
    (repo / "promptops.yaml").write_text(CONFIG.replace("@acme/release-managers", "@acme/security"))
    code, out, _ = run(cli, repo, "codeowners", "--check")
    assert code == 1 and f"/{APPROVERS} @acme/security" in out
    (repo / "promptops.yaml").write_text(CONFIG.replace("    approvers_owner: '@acme/release-managers'\n", ""))
    code, out, _ = run(cli, repo, "lint")
    assert code == 1 and "approvers_owner" in out


def key_line(people: dict[str, Path], name: str, principal: str) -> str:
    public = (people[name].parent / f"{name}.pub").read_text().split()
    return f'{principal} namespaces="promptops-approval" {public[0]} {public[1]}\n'


def test_the_author_is_refused_when_any_principal_of_their_key_is_theirs(repo, cli, people) -> None:
    # Ada's key listed first under a shared address, then under her own: every principal of the key counts.
    allowed = key_line(people, "ada", "approvers@example.test") + signers_line(people, "ada")
    commit(repo, {APPROVERS: allowed + signers_line(people, "bob")}, "approvers")
    before = head(repo)
    code, _, err = approve(cli, repo, people["ada"], "v0.1.0")
    assert code == 1 and "ada@example.test, who made the release" in err
    assert head(repo) == before


@pytest.mark.parametrize("principal", ["release-approvers", "ada", "*@example.test", "ada@example.test,x@example.test"])
def test_an_approvers_file_listing_a_pattern_or_a_name_is_refused(repo, cli, people, principal) -> None:
    commit(repo, {APPROVERS: signers_line(people, "bob") + key_line(people, "ada", principal)}, "approvers")
    before = head(repo)
    code, out, err = approve(cli, repo, people["ada"], "v0.1.0")
    assert code == 2 and f"{APPROVERS}:2" in err and "exact email" in err and "Traceback" not in out + err
    assert head(repo) == before
    code, _, err = promote(cli, repo, "v0.1.0")
    assert code == 2 and "exact email" in err


def test_an_approval_made_with_the_key_that_signed_the_release_tag_is_refused(repo, cli, people) -> None:
    # The tag is signed with Ada's key, which the approvers file lists under another address only.
    raw = git(repo, "cat-file", "tag", "v0.1.0")
    message = raw.split("\n\n", 1)[1] + "\n"
    subprocess.run(
        ["git", "-c", "gpg.format=ssh", "-c", f"user.signingkey={people['ada']}", "tag", "-f", "-s",
         "--cleanup=verbatim", "-F", "-", "v0.1.0", git(repo, "rev-parse", "v0.1.0^{commit}")],
        cwd=repo, input=message.encode(), capture_output=True, check=True,
    )  # fmt: skip
    assert "BEGIN SSH SIGNATURE" in git(repo, "cat-file", "tag", "v0.1.0")
    commit(repo, {APPROVERS: key_line(people, "ada", "release@example.test") + signers_line(people, "bob")})
    before = head(repo)
    code, _, err = approve(cli, repo, people["ada"], "v0.1.0")
    assert code == 1 and "the key that signed the release tag" in err
    assert head(repo) == before
    assert approve(cli, repo, people["bob"], "v0.1.0")[0] == 0


def test_an_approval_after_the_fact_does_not_approve_a_promote(repo, cli, people) -> None:
    from promptops.release import approvals
    from promptops.release.ledger import Event

    assert run(cli, repo, "promote", "v0.1.0", "--env", "staging", "--reason", "try")[0] == 0
    digest = json.loads(run(cli, repo, "bundle", "--ref", "v0.1.0")[1])["digest"]
    rollback = Event(action="rollback", environment="production", by="x", time="", reason="r", version="v0.1.0",
                     digest=digest, commit="a" * 40, prompt="")  # fmt: skip
    body = approvals.statement("production", "v0.1.0", digest, "after the fact", rollback)
    # Recorded on the ledger as if it approved the release itself (no `approves` in the event).
    forged = forge(repo, json.loads(approvals.sign(body, people["bob"])), "v0.1.0", digest)
    code, _, err = promote(cli, repo, "v0.1.0")
    assert code == 1 and "requires a signed approval" in err
    assert head(repo) == forged
