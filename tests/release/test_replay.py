"""Replaying the ledger: every state follows from the one before and its event; signed ledger commits."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from conftest import MINIMAL, git, write_tree
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_fixtures import LEDGER, ledger_files, write_commit
from test_signing import keypair

from promptops.errors import InputError
from promptops.git import GitRepo
from promptops.release.ledger import Event, Ledger
from promptops.release.replay import replay
from promptops.release.transitions import LedgerState, apply

SKIP = ("--skip-eval", "--reason", "replay tests run no evals")
CONFIG = "project: t\nenvironments:\n  staging: {}\n  production: {}\n"


@pytest.fixture
def promoted(make_repo, cli) -> Path:
    """One release, promoted to production, greet killed there."""
    root = make_repo({**MINIMAL, "promptops.yaml": CONFIG})
    assert cli("release", "--repo", root, *SKIP)[0] == 0
    assert cli("promote", "v0.1.0", "--env", "production", "--reason", "first", "--repo", root)[0] == 0
    assert (
        cli(
            "kill", "greet", "--allow-error", "--env", "production", "--reason", "quotes the old policy", "--repo", root
        )[0]
        == 0
    )
    return root


def test_a_ledger_written_by_the_commands_replays(promoted: Path, cli) -> None:
    assert cli("revive", "greet", "--env", "production", "--reason", "fixed", "--repo", promoted)[0] == 0
    assert cli("promote", "v0.1.0", "--env", "staging", "--reason", "try", "--repo", promoted)[0] == 0
    code, _, err = cli("verify", "--ledger", "--repo", promoted)
    assert code == 0, err
    assert "ledger promptops/ledger: 4 commits replay (0 signed, 4 unsigned)" in err
    assert "4 of 4 ledger commits are unsigned" in err
    event = json.loads(git(promoted, "show", f"{LEDGER}~3:event.json"))
    assert event["release_commit"] == git(promoted, "rev-parse", "v0.1.0^{commit}")
    assert "Release-commit: " + event["release_commit"] in git(promoted, "log", "-1", "--format=%B", f"{LEDGER}~3")


def test_a_state_that_does_not_follow_names_the_commit_and_what_differs(promoted: Path, cli) -> None:
    state, event, message = ledger_files(promoted)
    state["killed"] = {}  # greet un-killed, while the event says it was killed
    forged = write_commit(promoted, state, event, message, git(promoted, "rev-parse", f"{LEDGER}~1"))
    code, _, err = cli("verify", "--ledger", "--repo", promoted)
    assert code == 1
    assert f"ledger commit {forged[:12]} does not follow" in err and "killed" in err and "internal error" not in err
    code, _, err = cli("status", "--repo", promoted)
    assert code == 0 and "warning: the ledger does not replay" in err and forged[:12] in err
    code, out, err = cli("export", "--env", "production", "--repo", promoted)
    assert code == 1 and out == "" and "does not replay" in err


def test_a_malformed_state_is_an_input_error_naming_the_commit_not_a_crash(promoted: Path, cli) -> None:
    _, event, message = ledger_files(promoted)
    forged = write_commit(promoted, ["not", "a", "state"], event, message, git(promoted, "rev-parse", LEDGER))
    code, _, err = cli("status", "--repo", promoted)
    assert code == 2 and f"promptops/ledger@{forged[:12]}:state.json" in err and "found a list" in err
    code, _, err = cli("verify", "--ledger", "--repo", promoted)
    assert code == 1 and forged[:12] in err
    for args in (
        ("kill", "greet", "--allow-error", "--env", "staging", "--reason", "x"),
        ("export", "--env", "production"),
    ):
        code, _, err = cli(*args, "--repo", promoted)
        assert code in (1, 2) and "internal error" not in err, err


@pytest.mark.parametrize("branch", ["bad..name", "with space", "trailing/", "x.lock", "-dash/../x"])
def test_an_invalid_ledger_branch_is_an_input_error_naming_promptops_yaml(make_repo, cli, branch: str) -> None:
    root = make_repo({**MINIMAL, "promptops.yaml": CONFIG + f"ledger_branch: '{branch}'\n"})
    assert cli("release", "--repo", root, *SKIP)[0] == 0
    code, _, err = cli("promote", "v0.1.0", "--env", "staging", "--reason", "x", "--repo", root)
    assert code == 2 and "promptops.yaml" in err and "ledger_branch" in err and "another promote" not in err


def test_the_default_ledger_branch_is_a_name_git_accepts(make_repo) -> None:
    """The ledger takes the default name without asking git: git would accept it."""
    from promptops.config_model import LEDGER_BRANCH, Config
    from promptops.git import GitRepo

    assert Config().ledger_branch == LEDGER_BRANCH
    assert GitRepo(make_repo(dict(MINIMAL))).valid_branch(LEDGER_BRANCH)


# -- signed ledger commits -----------------------------------------------------------------------------------


def sign_with_ssh(root: Path, key: Path, allowed: Path | None) -> None:
    git(root, "config", "gpg.format", "ssh")
    git(root, "config", "user.signingKey", str(key))
    git(root, "config", "commit.gpgSign", "true")
    if allowed is not None:
        git(root, "config", "gpg.ssh.allowedSignersFile", str(allowed))


def test_ledger_commits_are_signed_when_git_signs_commits(make_repo, cli, tmp_path: Path) -> None:
    root = make_repo({**MINIMAL, "promptops.yaml": CONFIG})
    assert cli("release", "--repo", root, *SKIP)[0] == 0
    key, allowed = keypair(tmp_path / "keys")
    sign_with_ssh(root, key, None)
    assert cli("promote", "v0.1.0", "--env", "production", "--reason", "first", "--repo", root)[0] == 0
    assert "gpgsig" in git(root, "cat-file", "-p", LEDGER)
    code, _, err = cli("verify", "--ledger", "--repo", root)
    assert code == 0 and "1 signed but not checkable" in err  # git has no allowed signers yet
    git(root, "config", "gpg.ssh.allowedSignersFile", str(allowed))
    code, _, err = cli("verify", "--ledger", "--require-signature", "--repo", root)
    assert code == 0 and "(1 signed, 0 unsigned)" in err, err
    # An event that follows from the state but was written without the key: replays, yet is not signed.
    state, event, _ = ledger_files(root)
    state["killed"] = {"production": {"greet": {"by": "Mallory <m@x>", "reason": "r", "time": event["time"]}}}
    event.update(
        action="kill", prompt="greet", reason="r", by="Mallory <m@x>", previous="", digest="", release_commit=""
    )
    forged = Event(**{k: v for k, v in event.items() if k != "commit"})
    git(root, "config", "commit.gpgSign", "false")
    unsigned = write_commit(root, state, event, forged.message(), git(root, "rev-parse", LEDGER))
    code, _, err = cli("verify", "--ledger", "--repo", root)
    assert code == 0, err
    code, _, err = cli("verify", "--ledger", "--require-signature", "--repo", root)
    assert code == 1 and unsigned[:12] in err


# -- a property: any rewritten state is caught at its commit -------------------------------------------------

ENVS = ("staging", "production")
PROMPTS = ("greet", "refund")
operations = st.lists(
    st.tuples(st.sampled_from(("promote", "rollback", "kill", "revive")), st.sampled_from(ENVS), st.integers(0, 3)),
    min_size=1,
    max_size=7,
)


def next_event(state: LedgerState, action: str, env: str, n: int) -> Event | None:
    """A valid event of `action` in `state`, or None when it cannot happen there."""
    current = state.current(env)
    base = {"environment": env, "by": "Ada <a@x>", "time": f"2026-01-0{n + 1}T00:00:00Z", "reason": f"r{n}"}
    if action == "promote":
        version = f"v1.{n}.0"
        digest, commit = f"sha256:{n:064d}", f"{n:040d}"
        return Event(
            "promote",
            **base,
            version=version,
            digest=digest,
            release_commit=commit,
            previous=current.get("version", ""),
        )
    if action == "rollback":
        stack = current.get("stack", [])
        if len(stack) < 2 or stack[-2]["version"] == current["version"]:
            return None
        back = stack[-2]
        return Event(
            "rollback",
            **base,
            version=back["version"],
            digest=back["digest"],
            release_commit=back["commit"],
            previous=current["version"],
        )
    if not current:
        return None
    prompt = PROMPTS[n % 2]
    killed = prompt in state.killed_in(env)
    if (action == "kill") == killed:
        return None
    return Event(action, **base, prompt=prompt, version=current["version"])


def build_ledger(ledger: Ledger, ops: list[tuple[str, str, int]]) -> int:
    written = 0
    for action, env, n in ops:

        def change(state: LedgerState, action: str = action, env: str = env, n: int = n) -> tuple[LedgerState, Event]:
            event = next_event(state, action, env, n)
            if event is None:
                raise InputError("cannot happen here")
            return apply(state, event), event

        try:
            ledger.append(change)
            written += 1
        except InputError:
            pass
    return written


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations, data=st.data())
def test_any_rewritten_state_is_caught_at_the_commit_that_rewrote_it(ops, data) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_tree(root, {"README": "x\n"})
        git(root, "init", "-q")
        ledger = Ledger(GitRepo(root), "promptops/ledger")
        written = build_ledger(ledger, ops)
        result = replay(ledger)
        assert result.ok and result.commits == written
        assert result.state == ledger.state()
        read = ledger.events()  # what `status` and `history` show, read from the log
        assert list(result.events) == read and [e.commit for e in result.events] == [e.commit for e in read]
        if not written:
            return
        chain = ledger.chain()
        at = data.draw(st.integers(0, written - 1), label="rewritten commit")
        state, event, message = ledger_files(root, chain[at].sha)
        env = event["environment"]
        mutation = data.draw(st.sampled_from(("drop-kills", "other-version", "extra-env")), label="mutation")
        if mutation == "drop-kills":
            if not state["killed"].get(env):
                state["killed"][env] = {"greet": {"by": "m", "reason": "m", "time": "t"}}
            else:
                state["killed"][env] = {}
        elif mutation == "other-version" and env in state["environments"]:
            state["environments"][env]["version"] = "v6.6.6"
        else:
            state["environments"]["mallory"] = {
                "version": "v6",
                "digest": "d",
                "commit": "c",
                "stack": [],
                "by": "m",
                "time": "t",
            }
        parent = chain[at - 1].sha if at else None
        rewritten = write_commit(root, state, event, message, parent)
        for later in chain[at + 1 :]:  # the rest of the chain, re-parented onto the rewritten commit
            rewritten = write_commit(root, *ledger_files(root, later.sha), rewritten)
        broken = replay(ledger).broken
        assert broken is not None
        assert broken.commit == ledger.chain()[at].sha


def test_replay_and_the_commands_agree_on_a_rollback_past_a_repeated_release(make_repo, cli) -> None:
    root = make_repo({**MINIMAL, "promptops.yaml": CONFIG})
    for n, tone in enumerate(("Be brief.\n", "Be kind.\n", "Be clear.\n")):
        if n:
            write_tree(root, {"prompts/shared/_tone.j2": tone})
            git(root, "commit", "-qam", f"tone {n}")
        assert cli("release", "--repo", root, *SKIP)[0] == 0
    for version in ("v0.1.0", "v0.1.1", "v0.1.0", "v0.1.2"):
        assert cli("promote", version, "--env", "production", "--reason", "x", "--repo", root)[0] == 0
    # Back to the last time v0.1.0 ran, so a plain rollback after it still reaches v0.1.1.
    assert cli("rollback", "--env", "production", "--to", "v0.1.0", "--reason", "x", "--repo", root)[0] == 0
    state = json.loads(git(root, "show", f"{LEDGER}:state.json"))
    assert [e["version"] for e in state["environments"]["production"]["stack"]] == ["v0.1.0", "v0.1.1", "v0.1.0"]
    assert cli("rollback", "--env", "production", "--reason", "x", "--repo", root)[0] == 0
    state = json.loads(git(root, "show", f"{LEDGER}:state.json"))
    assert state["environments"]["production"]["version"] == "v0.1.1"
    assert cli("verify", "--ledger", "--repo", root)[0] == 0
    assert replay(Ledger(GitRepo(root), "promptops/ledger")).state.as_dict() == state


@settings(max_examples=100, deadline=None)
@given(ops=operations)
def test_apply_never_changes_a_state_it_was_given(ops) -> None:
    """A new state shares what an event leaves as it was with the state before it: no later event may change
    a state already read (the replay compares each one with its commit's, the commands write it)."""
    states, frozen = [LedgerState()], [json.dumps(LedgerState().as_dict(), sort_keys=True)]
    for action, env, n in ops:
        event = next_event(states[-1], action, env, n)
        if event is None:
            continue
        copied = LedgerState.read(states[-1].as_dict(), "copy")
        try:
            after = apply(states[-1], event)
        except InputError:
            with pytest.raises(InputError):
                apply(copied, event)
            continue
        assert after.as_dict() == apply(copied, event).as_dict()
        states.append(after)
        frozen.append(json.dumps(after.as_dict(), sort_keys=True))
    assert [json.dumps(s.as_dict(), sort_keys=True) for s in states] == frozen


@pytest.mark.parametrize("event_too", [False, True])
@pytest.mark.parametrize(
    "malform",
    [
        lambda s: s["environments"]["staging"].update(stack="v1"),
        lambda s: s["environments"]["staging"]["stack"].append({"version": 1}),
        lambda s: s["killed"].update(staging={"greet": {"reason": "r"}}),
        lambda s: s.update(environments=[]),
    ],
)
def test_a_malformed_state_mid_chain_is_named_as_malformed(malform, event_too: bool) -> None:
    """The shape of a state is checked when it does not follow; a malformed one is reported as malformed at its
    commit, even when its event is wrong too."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_tree(root, {"README": "x\n"})
        git(root, "init", "-q")
        ledger = Ledger(GitRepo(root), "promptops/ledger")
        ops = [
            ("promote", "staging", 0),
            ("promote", "staging", 1),
            ("kill", "staging", 0),
            ("promote", "production", 2),
        ]
        assert build_ledger(ledger, ops) == 4
        chain = ledger.chain()
        state, event, message = ledger_files(root, chain[1].sha)
        malform(state)
        if event_too:
            event["reason"] = "not what the message says"
        rewritten = write_commit(root, state, event, message, chain[0].sha)
        for later in chain[2:]:
            rewritten = write_commit(root, *ledger_files(root, later.sha), rewritten)
        broken = replay(ledger).broken
        assert broken is not None and broken.commit == ledger.chain()[1].sha
        assert "malformed" in broken.reason, broken.reason
