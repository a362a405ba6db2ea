"""Environments on the ledger: promote, rollback, kill, revive, status, history, export, push and pull, races."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import MINIMAL, commit, git, retag

from promptops.errors import GitError
from promptops.git import GitRepo
from promptops.release.bundle import canonical
from promptops.release.ledger import Event, Ledger, LedgerState, parse_event
from promptops.release.record import parse_message

SKIP = ("--skip-eval", "--reason", "ledger tests run no evals")
LEDGER = "refs/heads/promptops/ledger"
CONFIG = "project: t\nenvironments:\n  staging: {}\n  production:\n    requires_approval: false\n"
APPROVAL = "project: t\nenvironments:\n  staging: {}\n  production:\n    requires_approval: true\n"
TONES = ("Be brief.\n", "Be kind.\n", "Be clear.\n")
TAGS = ("v0.1.0", "v0.1.1", "v0.1.2")


def build_releases(make_repo, cli, config: str = CONFIG) -> Path:
    """Three releases v0.1.0, v0.1.1, v0.1.2 (the shared partial changes), evals skipped."""
    root = make_repo({**MINIMAL, "promptops.yaml": config})
    for n, tone in enumerate(TONES):
        if n:
            commit(root, {"prompts/shared/_tone.j2": tone}, f"tone {n}")
        code, _, err = cli("release", "--repo", root, *SKIP)
        assert code == 0, err
    assert git(root, "tag", "--list", "--sort=v:refname").split() == list(TAGS)
    return root


@pytest.fixture
def repo(reuse, make_repo, cli) -> Path:
    return reuse("ledger-releases", lambda: build_releases(make_repo, cli))


def run(cli, root: Path, *args: str | Path) -> tuple[int, str, str]:
    return cli(*args, "--repo", root)


def status(cli, root: Path) -> dict[str, dict]:
    code, out, err = run(cli, root, "status", "--format", "json")
    assert code == 0, err
    return {row["environment"]: row for row in json.loads(out)["environments"]}


def history(cli, root: Path, *args: str) -> list[dict]:
    code, out, err = run(cli, root, "history", "--format", "json", *args)
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def ledger_log(root: Path) -> list[str]:
    if not git(root, "for-each-ref", LEDGER):
        return []
    return git(root, "log", "--format=%s", LEDGER).splitlines()


def bundle_bytes(cli, root: Path, tag: str) -> str:
    code, out, err = run(cli, root, "bundle", "--ref", tag)
    assert code == 0, err
    return out


def released_part(exported: str) -> str:
    """An export without what the environment adds (its name, kill list and seal): the release bundle."""
    doc = json.loads(exported)
    assert doc["kill_switch_digest"].startswith("sha256:")
    rest = {k: v for k, v in doc.items() if k not in ("environment", "kill_switch_digest")}
    return canonical({**rest, "kill_switch": {}}).decode("utf-8")


def digest_of(root: Path, tag: str) -> str:
    return parse_message(git(root, "for-each-ref", "--format=%(contents)", f"refs/tags/{tag}"), tag)["digest"]


# -- promote -------------------------------------------------------------------------------------------------


def test_promote_writes_one_ledger_commit_and_never_touches_the_work_tree(repo: Path, cli) -> None:
    head, index = git(repo, "symbolic-ref", "HEAD"), (repo / ".git/index").read_bytes()
    code, _, err = run(cli, repo, "promote", "v0.1.0", "--env", "staging", "--reason", "first light")
    assert code == 0, err
    assert "promote staging to v0.1.0" in err
    assert ledger_log(repo) == ["promote staging to v0.1.0"]
    assert git(repo, "ls-tree", "--name-only", LEDGER).split() == ["event.json", "state.json"]
    assert git(repo, "symbolic-ref", "HEAD") == head and (repo / ".git/index").read_bytes() == index
    assert git(repo, "status", "--porcelain") == ""
    message = git(repo, "log", "-1", "--format=%B", LEDGER)
    event = parse_event("x", message)
    assert event is not None
    assert (event.action, event.environment, event.version, event.reason) == (
        "promote",
        "staging",
        "v0.1.0",
        "first light",
    )
    assert event.digest == digest_of(repo, "v0.1.0")
    assert event.by == "Ada Tester <ada@example.test>"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event.time)
    state = json.loads(git(repo, "show", f"{LEDGER}:state.json"))
    assert state["environments"]["staging"]["version"] == "v0.1.0"
    assert json.loads(git(repo, "show", f"{LEDGER}:event.json"))["action"] == "promote"


def test_promote_accepts_a_version_or_a_tag(repo: Path, cli) -> None:
    assert run(cli, repo, "promote", "--reason", "test", "0.1.0", "--env", "staging")[0] == 0
    assert run(cli, repo, "promote", "--reason", "test", "v0.1.1", "--env", "staging")[0] == 0
    assert status(cli, repo)["staging"]["version"] == "v0.1.1"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("promote", "--reason", "test", "v0.1.0", "--env", "qa"), "unknown environment 'qa'"),
        (("promote", "--reason", "test", "v0.1.0", "--env", "../prod"), "not a valid environment name"),
        (("promote", "--reason", "test", "v9.9.9", "--env", "staging"), "no release 'v9.9.9'"),
        (("rollback", "--reason", "test", "--env", "staging"), "staging runs no release yet"),
        (("kill", "greet", "--allow-error", "--env", "staging", "--reason", "x"), "staging runs no release"),
        (("revive", "--reason", "test", "greet", "--env", "staging"), "greet is not killed in staging"),
        (("export", "--env", "staging"), "staging runs no release yet"),
    ],
)
def test_usage_errors_exit_2_and_write_nothing(repo: Path, cli, args, expected) -> None:
    code, _, err = run(cli, repo, *args)
    assert code == 2, err
    assert expected in err
    assert ledger_log(repo) == []


def test_unknown_environment_lists_the_known_ones(repo: Path, cli) -> None:
    code, _, err = run(cli, repo, "promote", "--reason", "test", "v0.1.0", "--env", "qa")
    assert code == 2 and "production, staging" in err


def test_an_unknown_release_is_named_as_given(repo: Path, cli) -> None:
    code, _, err = run(cli, repo, "promote", "--reason", "test", "v9.9.9", "--env", "staging")
    assert code == 2
    assert "vv9.9.9" not in err


def test_promoting_the_release_an_environment_runs_is_refused(repo: Path, cli) -> None:
    assert run(cli, repo, "promote", "--reason", "test", "v0.1.0", "--env", "staging")[0] == 0
    code, _, err = run(cli, repo, "promote", "--reason", "test", "v0.1.0", "--env", "staging")
    assert code == 2 and "already runs v0.1.0" in err
    assert len(ledger_log(repo)) == 1


# -- status, rollback, export --------------------------------------------------------------------------------


def test_status_shows_each_environment_its_release_digest_and_last_change(repo: Path, cli) -> None:
    before = status(cli, repo)
    assert before["production"]["version"] is None and before["production"]["last_change"] is None
    assert run(cli, repo, "promote", "v0.1.1", "--env", "staging", "--reason", "try kinder")[0] == 0
    rows = status(cli, repo)
    assert sorted(rows) == ["production", "staging"]
    staging = rows["staging"]
    assert (staging["version"], staging["digest"]) == ("v0.1.1", digest_of(repo, "v0.1.1"))
    assert staging["commit"] == git(repo, "rev-parse", "v0.1.1^{commit}")
    assert staging["killed"] == {}
    assert staging["last_change"]["by"] == "Ada Tester <ada@example.test>"
    assert staging["last_change"]["reason"] == "try kinder"
    code, out, _ = run(cli, repo, "status")
    assert code == 0
    assert re.search(r"staging\s+v0\.1\.1\s+sha256:\S+\s+-\s+promote staging to v0\.1\.1 by Ada Tester", out)
    assert re.search(r"production\s+-\s+-\s+-\s+-", out)


def test_rollback_goes_back_one_release_at_a_time_then_says_what_to_do(repo: Path, cli) -> None:
    for tag in TAGS:
        assert run(cli, repo, "promote", "--reason", "test", tag, "--env", "production")[0] == 0
    code, _, err = run(cli, repo, "rollback", "--env", "production", "--reason", "refunds broke")
    assert code == 0, err
    assert "roll back production to v0.1.1" in err
    assert status(cli, repo)["production"]["version"] == "v0.1.1"
    assert run(cli, repo, "rollback", "--reason", "test", "--env", "production")[0] == 0
    assert status(cli, repo)["production"]["version"] == "v0.1.0"
    code, _, err = run(cli, repo, "rollback", "--reason", "test", "--env", "production")
    assert code == 2
    assert "nothing earlier to roll back to" in err and "--to VERSION" in err
    events = history(cli, repo, "--env", "production")
    assert [(e["action"], e["version"]) for e in events] == [
        ("rollback", "v0.1.0"),
        ("rollback", "v0.1.1"),
        ("promote", "v0.1.2"),
        ("promote", "v0.1.1"),
        ("promote", "v0.1.0"),
    ]
    assert events[1]["reason"] == "refunds broke"


def test_rollback_to_a_named_release(repo: Path, cli) -> None:
    assert run(cli, repo, "promote", "--reason", "test", "v0.1.1", "--env", "production")[0] == 0
    assert run(cli, repo, "promote", "--reason", "test", "v0.1.2", "--env", "production")[0] == 0
    code, _, err = run(cli, repo, "rollback", "--env", "production", "--to", "v0.1.0", "--reason", "v0.1.1 too")
    assert code == 0, err
    assert status(cli, repo)["production"]["version"] == "v0.1.0"
    code, _, err = run(cli, repo, "rollback", "--reason", "test", "--env", "production", "--to", "v0.1.0")
    assert code == 2 and "already runs v0.1.0" in err
    assert (
        run(cli, repo, "rollback", "--reason", "test", "--env", "production")[0] == 0
    )  # what ran before v0.1.0 came back
    assert status(cli, repo)["production"]["version"] == "v0.1.2"
    assert (
        run(cli, repo, "rollback", "--reason", "test", "--env", "production", "--to", "0.1.1")[0] == 0
    )  # a version, not a tag
    assert status(cli, repo)["production"]["version"] == "v0.1.1"
    code, _, err = run(cli, repo, "rollback", "--reason", "test", "--env", "production", "--to", "v7.0.0")
    assert code == 2 and "v7.0.0" in err
    assert [e["action"] for e in history(cli, repo)] == [
        "rollback",
        "rollback",
        "rollback",
        "promote",
        "promote",
    ]


def test_export_after_a_rollback_is_the_earlier_release_plus_the_environment(repo: Path, cli, tmp_path: Path) -> None:
    assert run(cli, repo, "promote", "--reason", "test", "v0.1.0", "--env", "production")[0] == 0
    assert run(cli, repo, "promote", "--reason", "test", "v0.1.2", "--env", "production")[0] == 0
    code, newer, _ = run(cli, repo, "export", "--env", "production")
    assert code == 0 and released_part(newer) == bundle_bytes(cli, repo, "v0.1.2")
    assert json.loads(newer)["environment"] == "production"
    assert run(cli, repo, "rollback", "--reason", "test", "--env", "production")[0] == 0
    target = tmp_path / "production.json"
    code, _, err = run(cli, repo, "export", "--env", "production", "-o", target)
    assert code == 0, err
    assert released_part(target.read_text()) == bundle_bytes(cli, repo, "v0.1.0")
    assert json.loads(target.read_bytes())["prompts"]["greet"]["partials"] == {"shared/_tone.j2": TONES[0]}
    assert cli("verify", target)[0] == 0


def promote_in_a_process(repo: Path, tag: str) -> None:
    """`python -m promptops promote TAG --env production`, as its own process."""
    args = ["promote", "--reason", "test", tag, "--env", "production", "--repo", str(repo)]
    subprocess.run([sys.executable, "-m", "promptops", *args], check=True, capture_output=True)


def test_rollback_runs_offline(repo: Path, tmp_path: Path) -> None:
    """A real `python -m promptops rollback` with every git command traced: none of them talks to a remote."""
    git(repo, "remote", "add", "origin", str(tmp_path / "unreachable.git"))
    env = {**os.environ, "GIT_TRACE": str(tmp_path / "trace"), "GIT_TRACE_SETUP": "0"}
    for tag in TAGS[:2]:
        promote_in_a_process(repo, tag)
    done = subprocess.run(
        [sys.executable, "-m", "promptops", "rollback", "--reason", "test", "--env", "production", "--repo", str(repo)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    commands = [
        line.split("trace: built-in: git ", 1)[1]
        for line in (tmp_path / "trace").read_text().splitlines()
        if "trace: built-in: git " in line
    ]
    assert commands, "no git command traced"
    assert not [c for c in commands if c.split()[0] in ("fetch", "push", "ls-remote", "pull", "remote", "clone")]
    assert not [line for line in (tmp_path / "trace").read_text().splitlines() if "run_command: git-remote" in line]


# -- kill switch ---------------------------------------------------------------------------------------------


def test_kill_shows_in_status_and_export_and_revive_removes_it(repo: Path, cli) -> None:
    for env in ("staging", "production"):
        assert run(cli, repo, "promote", "--reason", "test", "v0.1.0", "--env", env)[0] == 0
    code, _, err = run(
        cli, repo, "kill", "greet", "--allow-error", "--env", "production", "--reason", "quotes the old refund policy"
    )
    assert code == 0, err
    killed = status(cli, repo)["production"]["killed"]
    assert list(killed) == ["greet"]
    assert killed["greet"]["reason"] == "quotes the old refund policy"
    assert killed["greet"]["by"] == "Ada Tester <ada@example.test>"
    assert status(cli, repo)["staging"]["killed"] == {}
    code, out, _ = run(cli, repo, "export", "--env", "production")
    assert code == 0
    exported = json.loads(out)
    assert exported["kill_switch"] == {"greet": killed["greet"]}
    assert exported["digest"] == digest_of(repo, "v0.1.0")
    assert json.loads(run(cli, repo, "export", "--env", "staging")[1])["kill_switch"] == {}
    assert re.search(r"production\s+v0\.1\.0\s+\S+\s+greet\s+kill greet in production", run(cli, repo, "status")[1])

    # Killed stays killed across a promote, until revived.
    assert run(cli, repo, "promote", "--reason", "test", "v0.1.1", "--env", "production")[0] == 0
    assert list(status(cli, repo)["production"]["killed"]) == ["greet"]

    code, _, err = run(cli, repo, "revive", "greet", "--env", "production", "--reason", "v0.1.1 quotes the new policy")
    assert code == 0, err
    assert status(cli, repo)["production"]["killed"] == {}
    assert released_part(run(cli, repo, "export", "--env", "production")[1]) == bundle_bytes(cli, repo, "v0.1.1")

    events = history(cli, repo, "--env", "production")
    assert [(e["action"], e["prompt"], e["reason"]) for e in events if e["prompt"]] == [
        ("revive", "greet", "v0.1.1 quotes the new policy"),
        ("kill", "greet", "quotes the old refund policy"),
    ]
    code, text, _ = run(cli, repo, "history")
    assert "kill greet in production  by Ada Tester <ada@example.test>  (quotes the old refund policy)" in text
    assert "revive greet in production  by Ada Tester <ada@example.test>  (v0.1.1 quotes the new policy)" in text


def test_kill_refusals(repo: Path, cli) -> None:
    assert run(cli, repo, "promote", "--reason", "test", "v0.1.0", "--env", "production")[0] == 0
    code, _, err = run(cli, repo, "kill", "nope", "--env", "production", "--reason", "x")
    assert code == 2 and "has no prompt 'nope'" in err and "greet" in err
    code, _, err = run(cli, repo, "kill", "greet", "--allow-error", "--env", "production", "--reason", "  ")
    assert code == 2 and "needs a reason" in err
    code, _, err = run(cli, repo, "kill", "greet", "--allow-error", "--env", "production")
    assert code == 2 and "--reason" in err
    assert run(cli, repo, "kill", "greet", "--allow-error", "--env", "production", "--reason", "bad")[0] == 0
    code, _, err = run(cli, repo, "kill", "greet", "--allow-error", "--env", "production", "--reason", "again")
    assert code == 2 and "already killed in production (bad)" in err
    assert ledger_log(repo) == ["kill greet in production", "promote production to v0.1.0"]


def test_history_filters_by_environment_and_by_prompt(make_repo, cli) -> None:
    root = build_releases(make_repo, cli)
    commit(
        root,
        {
            "prompts/bye.prompt": "---\ndescription: bye\nowner: '@team'\n---\nBye!\n",
            "evals/bye.yaml": "prompt: bye\ncases:\n  - id: one\n    assert:\n      - {type: contains, value: Bye}\n",
        },
        "bye",
    )
    assert cli("release", "--repo", root, *SKIP)[0] == 0  # v0.2.0 adds `bye`
    assert run(cli, root, "promote", "--reason", "test", "v0.1.0", "--env", "staging")[0] == 0
    assert run(cli, root, "promote", "--reason", "test", "v0.2.0", "--env", "production")[0] == 0
    assert run(cli, root, "kill", "bye", "--allow-error", "--env", "production", "--reason", "rude")[0] == 0
    assert run(cli, root, "kill", "greet", "--allow-error", "--env", "staging", "--reason", "slow")[0] == 0
    titles = [e["action"] + " " + e["environment"] for e in history(cli, root, "--env", "staging")]
    assert titles == ["kill staging", "promote staging"]
    bye = history(cli, root, "--prompt", "bye")
    assert [(e["action"], e["environment"], e["version"]) for e in bye] == [
        ("kill", "production", "v0.2.0"),
        ("promote", "production", "v0.2.0"),
    ]
    both = history(cli, root, "--prompt", "greet", "--env", "staging")
    assert [e["action"] for e in both] == ["kill", "promote"]
    code, _, err = run(cli, root, "history", "--env", "qa")
    assert code == 2 and "unknown environment 'qa'" in err and "production, staging" in err
    code, _, err = run(cli, root, "history", "--prompt", "gret")
    assert code == 2 and "unknown prompt 'gret'" in err and "greet" in err
    fresh = make_repo({**MINIMAL, "promptops.yaml": CONFIG})  # a declared environment with no events yet
    assert run(cli, fresh, "history", "--env", "production")[1].strip() == "no events yet"


# -- approvals -----------------------------------------------------------------------------------------------


@pytest.fixture
def approval_repo(make_repo, cli) -> Path:
    return build_releases(make_repo, cli, APPROVAL)


@pytest.mark.parametrize(
    ("approver", "expected"),
    [
        ("", "production requires a signed approval"),
        ("Ada Tester", "someone else must approve"),
        ("ADA@example.test", "someone else must approve"),
        ("Ada Tester <ada@example.test>", "someone else must approve"),
        ("Someone <ada@example.test>", "someone else must approve"),
    ],
)
def test_an_environment_that_requires_approval_refuses_the_releases_author(
    approval_repo: Path, cli, approver, expected
) -> None:
    args = ("--approved-by", approver, "--unverified") if approver else ()
    code, _, err = run(cli, approval_repo, "promote", "--reason", "test", "v0.1.0", "--env", "production", *args)
    assert code == 1
    assert expected in err
    assert ledger_log(approval_repo) == []


def test_an_approval_by_someone_else_is_recorded_on_the_ledger(approval_repo: Path, cli) -> None:
    assert (
        run(cli, approval_repo, "promote", "--reason", "test", "v0.1.0", "--env", "staging")[0] == 0
    )  # no approval needed
    code, _, err = run(
        cli,
        approval_repo,
        "promote",
        "--reason",
        "test",
        "v0.1.0",
        "--env",
        "production",
        "--approved-by",
        "Bob Reviewer <bob@example.test>",
        "--unverified",
    )
    assert code == 0, err
    assert "Approved-by: Bob Reviewer <bob@example.test>" in git(approval_repo, "log", "-1", "--format=%B", LEDGER)
    (event, _) = history(cli, approval_repo)
    assert event["approved_by"] == "Bob Reviewer <bob@example.test>"
    assert "unverified (typed: Bob Reviewer <bob@example.test>)" in run(cli, approval_repo, "history")[1]
    rows = status(cli, approval_repo)
    assert rows["production"]["requires_approval"] is True and rows["staging"]["requires_approval"] is False


def test_rollback_to_a_release_new_to_an_environment_that_requires_approval_needs_one(approval_repo, cli) -> None:
    approved = ("--approved-by", "Bob Reviewer <bob@example.test>", "--unverified")
    assert run(cli, approval_repo, "promote", "--reason", "test", "v0.1.0", "--env", "production", *approved)[0] == 0
    assert run(cli, approval_repo, "promote", "--reason", "test", "v0.1.1", "--env", "production", *approved)[0] == 0
    assert (
        run(cli, approval_repo, "rollback", "--reason", "test", "--env", "production")[0] == 0
    )  # back to an approved release: fine
    for extra in ((), ("--approved-by", "Ada Tester", "--unverified")):
        code, _, err = run(
            cli, approval_repo, "rollback", "--reason", "test", "--env", "production", "--to", "v0.1.2", *extra
        )
        assert code == 1, err
        assert "v0.1.2 never ran in production" in err and ("--approved-by" in err or "someone else" in err)
    assert status(cli, approval_repo)["production"]["version"] == "v0.1.0"
    code, _, err = run(
        cli, approval_repo, "rollback", "--reason", "test", "--env", "production", "--to", "v0.1.2", *approved
    )
    assert code == 0, err
    assert history(cli, approval_repo)[0]["approved_by"] == "Bob Reviewer <bob@example.test>"


def test_rollback_to_a_release_that_ran_in_the_environment_needs_no_new_approval(approval_repo: Path, cli) -> None:
    approved = ("--approved-by", "Bob Reviewer <bob@example.test>", "--unverified")
    assert run(cli, approval_repo, "promote", "--reason", "test", "v0.1.0", "--env", "production", *approved)[0] == 0
    assert run(cli, approval_repo, "promote", "--reason", "test", "v0.1.1", "--env", "production", *approved)[0] == 0
    assert (
        run(cli, approval_repo, "rollback", "--reason", "test", "--env", "production")[0] == 0
    )  # a false alarm: back to v0.1.0
    code, _, err = run(
        cli, approval_repo, "rollback", "--reason", "test", "--env", "production", "--to", "v0.1.1"
    )  # and forth again
    assert code == 0, err
    assert status(cli, approval_repo)["production"]["version"] == "v0.1.1"


def test_the_ledger_branch_name_comes_from_promptops_yaml(make_repo, cli) -> None:
    root = build_releases(make_repo, cli, CONFIG + "ledger_branch: deploy/history\n")
    assert run(cli, root, "promote", "--reason", "test", "v0.1.0", "--env", "staging")[0] == 0
    assert git(root, "log", "--format=%s", "refs/heads/deploy/history") == "promote staging to v0.1.0"
    assert git(root, "for-each-ref", LEDGER) == ""
    assert status(cli, root)["staging"]["version"] == "v0.1.0"


# -- push and pull -------------------------------------------------------------------------------------------


@pytest.fixture
def shared(make_repo, cli, tmp_path: Path) -> tuple[Path, Path, Path]:
    """(bare remote, clone A, clone B): A made two releases and pushed them; B cloned after that."""
    seed = build_releases(make_repo, cli)
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(seed, "push", "-q", str(remote), "HEAD:refs/heads/main", "--tags")
    a, b = tmp_path / "a", tmp_path / "b"
    git(tmp_path, "clone", "-q", str(remote), str(a))
    git(tmp_path, "clone", "-q", str(remote), str(b))
    return remote, a, b


def fetch_ledger(clone: Path) -> None:
    git(clone, "fetch", "-q", "origin", "promptops/ledger:promptops/ledger")


def test_a_second_clone_that_fetches_the_ledger_sees_the_same_status(shared, cli) -> None:
    remote, a, b = shared
    assert run(cli, a, "promote", "--reason", "test", "v0.1.0", "--env", "production", "--push")[0] == 0
    assert run(cli, a, "promote", "--reason", "test", "v0.1.1", "--env", "production", "--push")[0] == 0
    code, _, err = run(cli, a, "kill", "greet", "--allow-error", "--env", "production", "--reason", "typo", "--push")
    assert code == 0 and "pushed" in err
    assert git(remote, "rev-parse", LEDGER) == git(a, "rev-parse", LEDGER)
    fetch_ledger(b)
    assert status(cli, b) == status(cli, a)
    assert history(cli, b) == history(cli, a)
    assert run(cli, b, "export", "--env", "production")[1] == run(cli, a, "export", "--env", "production")[1]
    # B rolls back and publishes; A pulls it.
    assert run(cli, b, "rollback", "--env", "production", "--reason", "typo fix broke refunds", "--push")[0] == 0
    fetch_ledger(a)
    assert status(cli, a)["production"]["version"] == "v0.1.0"
    assert status(cli, a) == status(cli, b)


# The remote moves between a writer's fetch and its push: a pre-receive hook lands another writer's event (kept
# under refs/race/next) first, once, so the writer's push is refused exactly as when two pushes cross.
RACE_HOOK = """#!/bin/sh
next=$(git rev-parse --verify --quiet refs/race/next) || exit 0
env -u GIT_QUARANTINE_PATH -u GIT_OBJECT_DIRECTORY -u GIT_ALTERNATE_OBJECT_DIRECTORIES \\
    sh -c "git update-ref refs/heads/promptops/ledger $next && git update-ref -d refs/race/next"
"""


@pytest.fixture
def racing(shared, cli) -> tuple[Path, Path, Path]:
    """A published one event; B fetched it; A's next event waits on the remote to land just before B's push."""
    remote, a, b = shared
    assert run(cli, a, "promote", "--reason", "test", "v0.1.0", "--env", "staging", "--push")[0] == 0
    fetch_ledger(b)
    assert run(cli, a, "promote", "--reason", "test", "v0.1.1", "--env", "staging")[0] == 0
    git(a, "push", "-q", "origin", "promptops/ledger:refs/race/next")
    hook = remote / "hooks" / "pre-receive"
    hook.write_text(RACE_HOOK)
    hook.chmod(0o755)
    return remote, a, b


def remote_log(remote: Path) -> list[str]:
    return git(remote, "log", "--format=%s", LEDGER).splitlines()


def test_a_ledger_push_refused_because_the_remote_moved_exits_3_and_loses_nothing(racing, cli) -> None:
    remote, _, b = racing
    before = git(b, "rev-parse", LEDGER)
    code, _, err = run(cli, b, "promote", "--reason", "test", "v0.1.2", "--env", "production", "--push")
    assert code == 3
    first = err.splitlines()[0]
    assert "rejected" in first and "failed to update ref" in first and not first.endswith("Done")
    assert "promote production to v0.1.2" in first and "not published" in first
    assert "hint: run the same command again" in err
    assert remote_log(remote) == ["promote staging to v0.1.1", "promote staging to v0.1.0"]
    assert git(b, "rev-parse", LEDGER) == before  # taken back: the local ledger says what the remote said
    assert status(cli, b)["production"]["version"] is None


def test_doing_what_a_refused_ledger_push_says_publishes_the_event(racing, cli) -> None:
    remote, a, b = racing
    code, _, err = run(cli, b, "promote", "--reason", "test", "v0.1.2", "--env", "production", "--push")
    assert code == 3
    for command in re.findall(r"`(git [^`]+)`", err):  # none today: the hint is to run the same command again
        subprocess.run(shlex.split(command), cwd=b, capture_output=True, check=False)
    code, _, err = run(cli, b, "promote", "--reason", "test", "v0.1.2", "--env", "production", "--push")
    assert code == 0, err
    assert remote_log(remote) == [
        "promote production to v0.1.2",
        "promote staging to v0.1.1",
        "promote staging to v0.1.0",
    ]
    fetch_ledger(a)
    assert status(cli, a) == status(cli, b)


def test_a_local_ledger_that_diverged_from_the_remote_is_refused_before_writing(shared, cli) -> None:
    remote, a, b = shared
    assert run(cli, a, "promote", "--reason", "test", "v0.1.0", "--env", "staging", "--push")[0] == 0
    fetch_ledger(b)
    assert (
        run(cli, b, "promote", "--reason", "test", "v0.1.0", "--env", "production")[0] == 0
    )  # local only, never pushed
    assert run(cli, a, "promote", "--reason", "test", "v0.1.1", "--env", "staging", "--push")[0] == 0
    mine, theirs = git(b, "rev-parse", LEDGER), git(remote, "rev-parse", LEDGER)
    code, _, err = run(cli, b, "promote", "--reason", "test", "v0.1.2", "--env", "production", "--push")
    assert code == 3
    assert "diverged" in err and "hint:" in err
    assert git(b, "rev-parse", LEDGER) == mine and git(remote, "rev-parse", LEDGER) == theirs
    # The hint offers to drop the local-only event and take the remote's ledger; then the command goes through.
    reset = next(c for c in re.findall(r"`(git [^`]+)`", err) if c.startswith("git update-ref"))
    git(b, *shlex.split(reset)[1:])
    code, _, err = run(cli, b, "promote", "--reason", "test", "v0.1.2", "--env", "production", "--push")
    assert code == 0, err
    assert remote_log(remote) == [
        "promote production to v0.1.2",
        "promote staging to v0.1.1",
        "promote staging to v0.1.0",
    ]


def test_a_push_to_a_remote_that_cannot_be_reached_exits_3_and_writes_nothing(repo: Path, cli, tmp_path) -> None:
    git(repo, "remote", "add", "origin", str(tmp_path / "nowhere.git"))
    code, _, err = run(cli, repo, "promote", "--reason", "test", "v0.1.0", "--env", "staging", "--push")
    assert code == 3
    assert "origin" in err and "hint:" in err
    assert ledger_log(repo) == []


# -- compare-and-swap ----------------------------------------------------------------------------------------


def event(action: str, env: str, version: str) -> Event:
    return Event(action=action, environment=env, by="t <t@x>", time="2026-01-01T00:00:00Z", reason="r", version=version)


def promote_in_state(env: str, version: str):
    def change(state: LedgerState) -> tuple[LedgerState, Event]:
        entry = {"version": version, "digest": "sha256:" + "0" * 64, "commit": "0" * 40}
        current = {**entry, "stack": [entry], "by": "t <t@x>", "time": "2026-01-01T00:00:00Z"}
        return replace(state, environments={**state.environments, env: current}), event("promote", env, version)

    return change


def test_a_writer_that_lost_the_race_reapplies_its_event_on_the_new_head(make_repo) -> None:
    root = make_repo(dict(MINIMAL))
    ledger = Ledger(GitRepo(root), "promptops/ledger")
    calls = []

    def racing(state: LedgerState) -> tuple[LedgerState, Event]:
        calls.append(dict(state.environments))
        if len(calls) == 1:  # another writer commits between our read and our swap
            ledger.append(promote_in_state("staging", "v1"))
        return promote_in_state("production", "v2")(state)

    written = ledger.append(racing)
    assert [{env: e["version"] for env, e in c.items()} for c in calls] == [{}, {"staging": "v1"}]
    assert [e.environment for e in ledger.events()] == ["production", "staging"]
    state = ledger.state().environments
    assert {env: e["version"] for env, e in state.items()} == {"staging": "v1", "production": "v2"}
    assert written.commit == ledger.head()


def test_a_ledger_that_keeps_moving_gives_up_with_exit_3_and_a_retry_hint(make_repo) -> None:
    root = make_repo(dict(MINIMAL))
    ledger = Ledger(GitRepo(root), "promptops/ledger")

    def always_overtaken(state: dict) -> tuple[dict, Event]:
        ledger.append(promote_in_state("staging", f"v{len(ledger.events())}"))
        return promote_in_state("production", "v9")(state)

    with pytest.raises(GitError) as caught:
        ledger.append(always_overtaken, attempts=3)
    assert caught.value.exit_code == 3
    assert "retry" in str(caught.value)
    assert all(e.environment == "staging" for e in ledger.events())


# -- two processes, one environment, the same moment ---------------------------------------------------------

# A real Python process that imports promptops once (a status and a refused promote load every lazy import),
# then for each round forks two children that wait on one start line (a pipe) and run `promptops.cli.main(argv)`:
# what `python -m promptops` runs, minus the ~0.4 s of start-up that would otherwise spread the two start times
# apart and make the test slow.
FORKER = r"""
import json, os, sys
from promptops.cli import main
import contextlib, io
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    main(["status", "--repo", sys.argv[2]])  # loads every lazy import a promote needs
    main(["promote", "--reason", "test", "v0.0.0", "--env", "production", "--repo", sys.argv[2]])  # exits 2: no such release
out_dir = sys.argv[1]
for line in sys.stdin:
    job = json.loads(line)
    r, w = os.pipe()
    pids = {}
    for name, args in job["racers"].items():
        pid = os.fork()
        if pid == 0:
            os.close(w)
            for fd, suffix in ((1, ".out"), (2, ".err")):
                os.dup2(os.open(os.path.join(out_dir, f"{job['round']}{name}{suffix}"), os.O_WRONLY | os.O_CREAT), fd)
            os.read(r, 1)
            code = 4
            try:
                code = main(args)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        pids[name] = pid
    os.close(r)
    os.write(w, b"go")
    os.close(w)
    print(json.dumps({name: os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for name, pid in pids.items()}), flush=True)
"""
ROUNDS = 50
CONTENDERS = {"a": "v0.1.1", "b": "v0.1.2"}


def check_round(repo: Path, n: int, fresh: bool, results: dict[str, tuple[int, str]]) -> int:
    """Every racer that exited 0 has its event on the ledger, exactly once; one that did not exited 3 with a
    retry hint; the state is the events applied in the ledger's order. Returns how many events landed."""
    assert {code for code, _ in results.values()} <= {0, 3}, results
    for code, err in results.values():
        if code == 3:
            assert "retry" in err, err
    ledger = Ledger(GitRepo(repo), "promptops/ledger")
    events = ledger.events()
    mine = [e for e in events if e.reason.startswith(f"round {n} ")]
    landed = [e.reason.rsplit(" ", 1)[1] for e in mine]
    assert sorted(landed) == sorted(name for name, (code, _) in results.items() if code == 0), (n, results, landed)
    assert len(events) == len(mine) + (0 if fresh else 1)
    production = ledger.state(events[0].commit).environments["production"]
    assert [entry["version"] for entry in production["stack"]] == (["v0.1.0"] if not fresh else []) + [
        e.version for e in reversed(mine)
    ]
    assert production["version"] == mine[0].version
    return len(mine)


def reset_ledger(repo: Path, fresh: bool, base: str) -> None:
    if fresh:
        git(repo, "update-ref", "-d", LEDGER)
    else:
        git(repo, "update-ref", LEDGER, base)


def promote_args(repo: Path, n: int, name: str) -> list[str]:
    return ["promote", CONTENDERS[name], "--env", "production", "--reason", f"round {n} {name}", "--repo", str(repo)]


def test_two_processes_promoting_at_the_same_moment_lose_no_event(repo: Path, tmp_path: Path) -> None:
    """Two processes promote different releases to one environment at once, 50 rounds started on one start line,
    then two more as two plain `python -m promptops promote` started together: both events land in some
    order, or one exits 3 with a retry hint; none is lost. Even rounds race to create the ledger branch, odd
    rounds to extend it."""
    promote_in_a_process(repo, "v0.1.0")
    base = git(repo, "rev-parse", LEDGER)
    landed = []
    forker = subprocess.Popen(
        [sys.executable, "-c", FORKER, str(tmp_path), str(repo)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        for n in range(ROUNDS):
            reset_ledger(repo, n % 2 == 0, base)
            job = {"round": n, "racers": {name: promote_args(repo, n, name) for name in CONTENDERS}}
            assert forker.stdin and forker.stdout
            forker.stdin.write(json.dumps(job) + "\n")
            forker.stdin.flush()
            codes = json.loads(forker.stdout.readline())
            results = {name: (codes[name], (tmp_path / f"{n}{name}.err").read_text()) for name in CONTENDERS}
            landed.append(check_round(repo, n, n % 2 == 0, results))
    finally:
        if forker.stdin:
            forker.stdin.close()
        forker.wait(timeout=30)
    for n in range(ROUNDS, ROUNDS + 2):
        reset_ledger(repo, n % 2 == 0, base)
        procs = {
            name: subprocess.Popen(
                [sys.executable, "-m", "promptops", *promote_args(repo, n, name)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name in CONTENDERS
        }
        results = {name: (p.wait(timeout=60), p.communicate()[1]) for name, p in procs.items()}
        landed.append(check_round(repo, n, n % 2 == 0, results))
    assert len(landed) == ROUNDS + 2 and all(count >= 1 for count in landed)
    # Each ledger commit a racer wrote, landed or not, is still in the object store: more than one for a racer
    # means it lost a compare-and-swap and re-applied its event, so the test really raced.
    commits = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objecttype)"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    shas = "".join(line.split()[0] + "\n" for line in commits.splitlines() if line.endswith(" commit"))
    bodies = subprocess.run(["git", "cat-file", "--batch"], cwd=repo, input=shas, capture_output=True, text=True).stdout
    written = re.findall(r"^Reason: (round \d+ [ab])$", bodies, re.MULTILINE)
    assert len(set(written)) >= sum(landed)
    assert len(written) > len(set(written)), "no racer ever lost a compare-and-swap: nothing raced"


@pytest.mark.parametrize(
    "args",
    [
        ("promote", "v0.1.0", "--env", "staging", "--reason", " "),
        ("rollback", "--env", "staging", "--reason", ""),
        ("kill", "greet", "--allow-error", "--env", "staging", "--reason", ""),
        ("revive", "greet", "--env", "staging", "--reason", ""),
    ],
)
def test_every_ledger_event_needs_a_reason(repo: Path, cli, args: tuple[str, ...]) -> None:
    code, _, err = run(cli, repo, *args)
    assert code == 2 and "needs a reason" in err
    code, _, err = run(cli, repo, *args[: args.index("--reason")])
    assert code == 2 and "--reason" in err


def test_history_of_a_prompt_keeps_the_events_of_a_release_whose_tag_was_moved(repo: Path, cli) -> None:
    assert run(cli, repo, "promote", "--reason", "test", "v0.1.0", "--env", "staging")[0] == 0
    retag(repo, "v0.1.0", git(repo, "tag", "-l", "--format=%(contents)", "v0.1.0"), "v0.1.2")  # moved by hand
    events = history(cli, repo, "--prompt", "greet")
    assert [(e["action"], e["version"]) for e in events] == [("promote", "v0.1.0")]


def test_a_new_environment_name_needs_new_env_when_promptops_yaml_declares_none(make_repo, cli) -> None:
    root = build_releases(make_repo, cli, "project: t\n")
    assert run(cli, root, "promote", "--reason", "test", "v0.1.0", "--env", "production")[0] == 0  # the first one
    code, _, err = run(cli, root, "promote", "--reason", "test", "v0.1.1", "--env", "prodd")
    assert code == 2 and "no environment 'prodd' on the ledger (environments: production)" in err
    assert "--new-env" in err and ledger_log(root) == ["promote production to v0.1.0"]
    assert run(cli, root, "promote", "--reason", "test", "v0.1.1", "--env", "staging", "--new-env")[0] == 0
    assert run(cli, root, "promote", "--reason", "test", "v0.1.2", "--env", "staging")[0] == 0
    assert run(cli, root, "rollback", "--reason", "test", "--env", "staging")[0] == 0
    previous = {(e["action"], e["version"]): e["previous"] for e in history(cli, root)}
    assert previous == {
        ("rollback", "v0.1.1"): "v0.1.2",
        ("promote", "v0.1.2"): "v0.1.1",
        ("promote", "v0.1.1"): None,
        ("promote", "v0.1.0"): None,
    }
