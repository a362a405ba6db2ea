"""`promptops release`: every refusal leaves nothing behind; the tag carries the evidence; bumps come from the diff."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from conftest import MINIMAL, commit, git, write_tree
from eval_fixtures import project

from promptops.release.record import parse_message

SKIP = ("--skip-eval", "--reason", "release tests run no evals")
GREET = MINIMAL["prompts/greet.prompt"]


def refs(root: Path) -> str:
    """Every ref and what it points at: a refused release must leave this unchanged (no tag, no ledger)."""
    return git(root, "for-each-ref", "--format=%(objectname) %(refname)")


def release(cli, root: Path, *args: str):
    return cli("release", "--repo", root, *args)


def record_of(root: Path, tag: str) -> dict:
    return parse_message(message_of(root, tag), tag)


def message_of(root: Path, tag: str) -> str:
    return git(root, "for-each-ref", "--format=%(contents)", f"refs/tags/{tag}")


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def released(make_repo, cli) -> Path:
    """MINIMAL released as v0.1.0 (evals skipped)."""
    root = make_repo(dict(MINIMAL))
    code, _, err = release(cli, root, *SKIP)
    assert code == 0, err
    return root


# -- the first release ---------------------------------------------------------------------------------------


def test_first_release_is_0_1_0_and_the_tag_is_annotated_by_the_git_identity(released: Path) -> None:
    assert git(released, "tag", "--list") == "v0.1.0"
    assert git(released, "cat-file", "-t", "v0.1.0") == "tag"
    assert git(released, "rev-parse", "v0.1.0^{commit}") == git(released, "rev-parse", "HEAD")
    assert git(released, "for-each-ref", "--format=%(taggername) %(taggeremail)", "refs/tags/v0.1.0") == (
        "Ada Tester <ada@example.test>"
    )
    record = record_of(released, "v0.1.0")
    assert (record["version"], record["bump"], record["previous"]) == ("0.1.0", "minor", None)
    assert record["evidence"]["skipped"] == "release tests run no evals"
    assert git(released, "status", "--porcelain") == ""


@pytest.mark.parametrize(("args", "tag"), [(("--bump", "major"), "v1.0.0"), (("2.3.4",), "v2.3.4")])
def test_first_release_with_a_bump_or_an_explicit_version(make_repo, cli, args, tag) -> None:
    root = make_repo(dict(MINIMAL))
    code, _, err = release(cli, root, *args, *SKIP)
    assert code == 0, err
    assert git(root, "tag", "--list") == tag


def test_tag_prefix_comes_from_promptops_yaml(make_repo, cli) -> None:
    root = make_repo({**MINIMAL, "promptops.yaml": "project: t\ntag_prefix: prompts-\n"})
    assert release(cli, root, *SKIP)[0] == 0
    assert git(root, "tag", "--list") == "prompts-0.1.0"
    assert record_of(root, "prompts-0.1.0")["tag"] == "prompts-0.1.0"


def test_dry_run_prints_the_plan_and_changes_nothing(make_repo, cli) -> None:
    root = make_repo(dict(MINIMAL))
    before = refs(root)
    code, out, err = release(cli, root, "--dry-run", "--notes", "First cut.", *SKIP)
    assert code == 0, err
    assert refs(root) == before
    assert "dry run: would tag v0.1.0" in err and "nothing was changed" in err
    assert out.startswith("promptops release v0.1.0\n\nFirst cut.\n")
    planned = parse_message(out, "v0.1.0")
    # The real release is the plan, to the byte.
    assert release(cli, root, "--notes", "First cut.", *SKIP)[0] == 0
    assert message_of(root, "v0.1.0").rstrip("\n") == out.rstrip("\n")
    assert record_of(root, "v0.1.0")["digest"] == planned["digest"]


# -- refusals: exit 1 or 2, a message that says what to do, nothing left behind --------------------------------


def modify(root: Path) -> str:
    (root / "prompts/greet.prompt").write_text(GREET + "Thanks!\n")
    return "prompts/greet.prompt"


def stage(root: Path) -> str:
    modify(root)
    git(root, "add", "prompts/greet.prompt")
    return "prompts/greet.prompt"


def untracked(root: Path) -> str:
    write_tree(root, {"prompts/new/draft.prompt": "Hello\n"})
    return "prompts/new/draft.prompt"


@pytest.mark.parametrize("make_dirty", [modify, stage, untracked])
def test_refuses_a_dirty_tree(make_repo, cli, make_dirty) -> None:
    root = make_repo(dict(MINIMAL))
    before = refs(root)
    path = make_dirty(root)
    code, _, err = release(cli, root, *SKIP)
    assert code == 2
    assert "uncommitted changes" in err and path in err and "commit or stash" in err
    assert refs(root) == before


def test_refuses_lint_errors(make_repo, cli) -> None:
    root = make_repo({**MINIMAL, "routing.yaml": MINIMAL["routing.yaml"] + "routes:\n  greet:\n    model: nope\n"})
    before = refs(root)
    code, _, err = release(cli, root, *SKIP)
    assert code == 1
    assert "lint found 1 error" in err and "unknown model 'nope'" in err and "promptops lint" in err
    assert refs(root) == before


@pytest.mark.usefixtures("api_key")
def test_refuses_failing_evals(make_repo, cli, server) -> None:
    root = make_repo(project(server.base_url, {"good": "yes", "bad": "no"}, threshold=1.0))
    before = refs(root)
    code, _, err = release(cli, root)
    assert code == 1
    assert "evals failed" in err and "answer" in err and "--skip-eval --reason" in err
    assert refs(root) == before
    assert server.requests_succeeded == 2


@pytest.mark.usefixtures("api_key")
def test_provider_errors_during_the_gate_exit_3_not_1(make_repo, cli, server) -> None:
    server.configure(faults="500")
    root = make_repo(project(server.base_url, {"good": "yes"}, retries=0))
    before = refs(root)
    code, _, err = release(cli, root)
    assert code == 3
    assert "provider errors" in err and "hint:" in err
    assert refs(root) == before


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--skip-eval",), "--skip-eval needs --reason"),
        (("--skip-eval", "--reason", "  "), "--skip-eval needs --reason"),
        (("--reason", "why"), "--reason goes with --skip-eval"),
        (("1.0", *SKIP), "not a semantic version"),
        (("--bump", "huge", *SKIP), "--bump must be one of major, minor, patch"),
        (("1.0.0", "--bump", "major", *SKIP), "not both"),
    ],
)
def test_refuses_bad_arguments_with_exit_2(make_repo, cli, args, expected) -> None:
    root = make_repo(dict(MINIMAL))
    before = refs(root)
    code, _, err = release(cli, root, *args)
    assert code == 2
    assert expected in err
    assert refs(root) == before


def test_refuses_a_version_not_above_the_last(make_repo, cli) -> None:
    root = make_repo(dict(MINIMAL))
    assert release(cli, root, "0.2.0", *SKIP)[0] == 0
    commit(root, {"prompts/shared/_tone.j2": "Be very brief.\n"})
    before = refs(root)
    for version in ("0.1.9", "0.2.0"):
        code, _, err = release(cli, root, version, *SKIP)
        assert code == 2
        assert "not above the last release 0.2.0" in err and "use 0.2.1 or higher" in err
    assert refs(root) == before


def test_refuses_an_existing_tag_and_leaves_it_where_it_was(released: Path, cli) -> None:
    first = git(released, "rev-parse", "v0.1.0")
    commit(released, {"prompts/shared/_tone.j2": "Be very brief.\n"})
    before = refs(released)
    code, _, err = release(cli, released, "0.1.0", *SKIP)
    assert code == 2
    assert "0.1.0" in err and "hint:" in err
    assert refs(released) == before
    assert git(released, "rev-parse", "v0.1.0") == first


def test_refuses_a_release_with_nothing_changed(released: Path, cli) -> None:
    commit(released, {"README.md": "not a prompt\n"}, "docs")
    before = refs(released)
    code, _, err = release(cli, released, *SKIP)
    assert code == 2
    assert "nothing changed since the last release" in err
    assert refs(released) == before


BREAKING = {
    "new required input": {
        "prompts/greet.prompt": GREET.replace("inputs:\n", "inputs:\n  mood:\n    type: string\n").replace(
            "Hello {{ name }}!", "Hello {{ name }}, you seem {{ mood }}!"
        ),
        "evals/greet.yaml": MINIMAL["evals/greet.yaml"].replace("{name: Ada}", "{name: Ada, mood: calm}"),
    },
    "input type changed": {
        "prompts/greet.prompt": GREET.replace("type: string", "type: integer"),
        "evals/greet.yaml": MINIMAL["evals/greet.yaml"].replace("{name: Ada}", "{name: 7}").replace("Ada}", "'7'}"),
    },
    "output schema changed": {
        "prompts/greet.prompt": GREET.replace(
            "---\nsystem:",
            "output:\n  type: object\n  required: [reply]\n  properties:\n    reply: {type: string}\n---\nsystem:",
        )
    },
}


@pytest.mark.parametrize("change", sorted(BREAKING))
@pytest.mark.parametrize("args", [("--bump", "minor"), ("--bump", "patch"), ("0.1.1",)])
def test_refuses_a_breaking_contract_change_under_a_minor_or_patch_bump(released: Path, cli, change, args) -> None:
    commit(released, BREAKING[change], change)
    before = refs(released)
    code, _, err = release(cli, released, *args, *SKIP)
    assert code == 1, err
    assert "breaks a prompt's contract" in err and "--bump major" in err and "1.0.0" in err
    assert refs(released) == before


def test_a_breaking_change_is_released_as_major(released: Path, cli) -> None:
    commit(released, BREAKING["new required input"], "mood")
    code, _, err = release(cli, released, *SKIP)
    assert code == 0, err
    assert "v1.0.0" in err and "suggested: major" in err
    assert record_of(released, "v1.0.0")["suggested_bump"] == "major"


# -- the suggested bump --------------------------------------------------------------------------------------

BUMPS = {
    "template change": ({"prompts/greet.prompt": GREET.replace("Hello", "Hi")}, "patch", "v0.1.1"),
    "partial change": ({"prompts/shared/_tone.j2": "Be kind.\n"}, "patch", "v0.1.1"),
    "new prompt": (
        {
            "prompts/bye.prompt": "---\ndescription: says bye\nowner: '@team'\n---\nBye!\n",
            "evals/bye.yaml": "prompt: bye\ncases:\n  - id: one\n    assert:\n      - {type: contains, value: Bye}\n",
        },
        "minor",
        "v0.2.0",
    ),
    "removed prompt": ({"prompts/greet.prompt": None, "evals/greet.yaml": None}, "major", "v1.0.0"),
}


@pytest.mark.parametrize("change", sorted(BUMPS))
def test_the_bump_is_suggested_by_the_diff_since_the_last_release(released: Path, cli, change) -> None:
    files, part, tag = BUMPS[change]
    if change == "removed prompt":  # keep one prompt in the project
        files = {**files, **BUMPS["new prompt"][0]}
    commit(released, files, change)
    code, _, err = release(cli, released, "--dry-run", *SKIP)
    assert code == 0, err
    assert f"would tag {tag} ({part} bump from v0.1.0, suggested: {part})" in err
    assert release(cli, released, *SKIP)[0] == 0
    assert git(released, "tag", "--list", "--sort=v:refname").splitlines() == ["v0.1.0", tag]
    record = record_of(released, tag)
    assert (record["bump"], record["suggested_bump"], record["previous"]) == (part, part, "v0.1.0")


# -- the evidence in the tag ---------------------------------------------------------------------------------

POLICY = "Refunds within 30 days of delivery.\n"
DATASET = '{"id": "from-file", "vars": {"answer": "yes from a file"}}\n'


@pytest.mark.usefixtures("api_key")
def test_the_tag_message_carries_the_evidence(make_repo, cli, server, tmp_path: Path) -> None:
    files = project(server.base_url, {"a": "yes a", "b": "yes b"}, threshold=0.5)
    files["evals/answer.yaml"] += "datasets: [data/more.jsonl]\n"
    files["evals/data/more.jsonl"] = DATASET
    files["prompts/answer.prompt"] = files["prompts/answer.prompt"].replace("---\n", "---\nsources: [docs/*.md]\n", 1)
    files["docs/policy.md"] = POLICY
    files[".gitignore"] = ".promptops/\n"
    root = make_repo(files)
    code, _, err = release(cli, root)
    assert code == 0, err
    assert server.requests_succeeded == 3
    message, record = message_of(root, "v0.1.0"), record_of(root, "v0.1.0")

    code, bundle, _ = cli("bundle", "--repo", root, "--ref", "v0.1.0")
    digest = json.loads(bundle)["digest"]
    assert f"Bundle digest: {digest}" in message and record["digest"] == digest
    assert f"Commit: {git(root, 'rev-parse', 'HEAD')}" in message
    assert "Eval answer: 100% (threshold 50%), 3 cases" in message
    assert record["evidence"]["suites"][0]["threshold"] == 0.5
    assert record["evidence"]["results_digest"].startswith("sha256:")
    assert f"Eval results digest: {record['evidence']['results_digest']}" in message
    assert record["hashes"] == {
        "prompts": {"prompts/answer.prompt": sha256((root / "prompts/answer.prompt").read_bytes())},
        "partials": {},
        "routing": {"routing.yaml": sha256((root / "routing.yaml").read_bytes())},
        "evals": {"evals/answer.yaml": sha256((root / "evals/answer.yaml").read_bytes())},
        "datasets": {"evals/data/more.jsonl": sha256(DATASET.encode())},
        "sources": {"docs/policy.md": sha256(POLICY.encode())},
    }
    assert cli("verify", "v0.1.0", "--repo", root)[0] == 0

    # A second release: the changed prompts and the reasons from the commits' trailers.
    write_tree(root, {"prompts/answer.prompt": files["prompts/answer.prompt"].replace("briefly", "kindly")})
    git(
        root,
        "commit",
        "-qam",
        "kinder answers\n\nChange-Reason: customers found it curt\nApproved-by: Bob Reviewer <bob@example.test>",
    )
    commit(root, {"README.md": "docs\n"}, "docs only, no trailers")
    code, _, err = release(cli, root)
    assert code == 0, err
    message, record = message_of(root, "v0.1.1"), record_of(root, "v0.1.1")
    assert record["previous"] == "v0.1.0"
    assert [c["prompt"] for c in record["changed"]] == ["answer"]
    assert "Changed prompts:\n- answer (" in message
    (note,) = record["notes"]
    assert note["reasons"] == ["customers found it curt"]
    assert note["approved_by"] == ["Bob Reviewer <bob@example.test>"]
    assert note["author"] == "Ada Tester <ada@example.test>"
    assert "customers found it curt (approved by Bob Reviewer <bob@example.test>)" in message


@pytest.mark.usefixtures("api_key")
def test_an_override_is_applied_and_shown_in_the_tag(make_repo, cli, server) -> None:
    files = project(server.base_url, {"good": "yes", "bad": "no"}, threshold=1.0)
    files[".gitignore"] = ".promptops/\n"
    root = make_repo(files)
    assert cli("eval", "--repo", root)[0] == 1
    code, _, err = cli("override", "answer", "bad", "--verdict", "pass", "--reason", "no is right here", "--repo", root)
    assert code == 0, err
    git(root, "add", "-A")
    git(root, "commit", "-qm", "override")
    code, _, err = release(cli, root)
    assert code == 0, err
    (override,) = record_of(root, "v0.1.0")["evidence"]["overrides"]
    assert (override["case"], override["verdict"], override["reason"]) == ("bad", "pass", "no is right here")
    assert "Override answer:bad -> pass by Ada Tester <ada@example.test>: no is right here" in message_of(
        root, "v0.1.0"
    )


@pytest.mark.usefixtures("api_key")
def test_the_eval_gates_own_results_do_not_make_the_next_release_dirty(make_repo, cli, server) -> None:
    files = project(server.base_url, {"a": "yes a"})
    root = make_repo(files)
    assert release(cli, root)[0] == 0
    write_tree(root, {"prompts/answer.prompt": files["prompts/answer.prompt"].replace("briefly", "kindly")})
    git(root, "commit", "-qm", "kinder", "--", "prompts/answer.prompt")
    assert git(root, "status", "--porcelain") == "?? .promptops/"
    code, _, err = release(cli, root)
    assert code == 0, err


def test_notes_come_only_from_commits_since_the_last_release(released: Path, cli) -> None:
    commit(released, {"prompts/shared/_tone.j2": "Be kind.\n"}, "tone\n\nChange-Reason: kinder")
    assert release(cli, released, *SKIP)[0] == 0
    commit(
        released, {"prompts/shared/_tone.j2": "Be short.\n"}, "tone\n\nChange-Reason: shorter\nChange-Reason: clearer"
    )
    assert release(cli, released, *SKIP)[0] == 0
    assert [n["reasons"] for n in record_of(released, "v0.1.1")["notes"]] == [["kinder"]]
    assert [n["reasons"] for n in record_of(released, "v0.1.2")["notes"]] == [["shorter", "clearer"]]


def test_notes_that_mention_the_record_markers_still_give_a_readable_release(make_repo, cli) -> None:
    root = make_repo(dict(MINIMAL))
    notes = "The tag holds a -----BEGIN PROMPTOPS RELEASE----- ... -----END PROMPTOPS RELEASE----- block."
    assert release(cli, root, "--notes", notes, *SKIP)[0] == 0
    assert cli("verify", "v0.1.0", "--repo", root)[0] == 0
    assert record_of(root, "v0.1.0")["notes_text"] == notes


def test_a_signed_tag_when_git_is_set_up_to_sign(make_repo, cli, tmp_path: Path) -> None:
    key = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    root = make_repo(dict(MINIMAL))
    git(root, "config", "gpg.format", "ssh")
    git(root, "config", "user.signingkey", str(key) + ".pub")
    git(root, "config", "tag.gpgSign", "true")
    assert release(cli, root, *SKIP)[0] == 0
    assert "-----BEGIN SSH SIGNATURE-----" in git(root, "cat-file", "tag", "v0.1.0")
    assert cli("verify", "v0.1.0", "--repo", root)[0] == 0
    assert record_of(root, "v0.1.0")["tag"] == "v0.1.0"


# -- push ----------------------------------------------------------------------------------------------------


def clone_of(remote: Path, where: Path) -> Path:
    git(where.parent, "clone", "-q", str(remote), str(where))
    return where


@pytest.fixture
def remote(make_repo, tmp_path: Path) -> Path:
    """A bare remote holding MINIMAL on main."""
    seed = make_repo(dict(MINIMAL))
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(seed, "push", "-q", str(bare), "HEAD:refs/heads/main")
    return bare


def test_push_publishes_the_tag(remote: Path, cli, tmp_path: Path) -> None:
    work = clone_of(remote, tmp_path / "work")
    code, _, err = release(cli, work, "--push", *SKIP)
    assert code == 0, err
    assert "pushed to origin" in err
    local = git(work, "rev-parse", "refs/tags/v0.1.0")
    assert git(remote, "rev-parse", "refs/tags/v0.1.0") == local
    assert git(remote, "cat-file", "-t", "v0.1.0") == "tag"
    other = clone_of(remote, tmp_path / "other")
    assert cli("verify", "v0.1.0", "--repo", other)[0] == 0


def test_a_rejected_tag_push_exits_3_and_says_what_to_do(remote: Path, cli, tmp_path: Path) -> None:
    first, second = clone_of(remote, tmp_path / "first"), clone_of(remote, tmp_path / "second")
    assert release(cli, first, "--push", *SKIP)[0] == 0
    published = git(remote, "rev-parse", "refs/tags/v0.1.0")
    commit(second, {"prompts/shared/_tone.j2": "Be kind.\n"}, "tone")
    code, _, err = release(cli, second, "--push", *SKIP)  # second has not fetched v0.1.0: it makes its own
    assert code == 3
    first_line = err.splitlines()[0]
    assert "v0.1.0 was tagged here" in first_line and "rejected" in first_line and "already exists" in first_line
    assert "hint:" in err and "git push origin refs/tags/v0.1.0" in err
    assert git(remote, "rev-parse", "refs/tags/v0.1.0") == published
    assert git(second, "rev-parse", "refs/tags/v0.1.0") != published  # kept locally, as the message says


def test_push_to_a_missing_remote_exits_3(released: Path, cli) -> None:
    commit(released, {"prompts/shared/_tone.j2": "Be kind.\n"})
    code, _, err = release(cli, released, "--push", "--remote", "nowhere", *SKIP)
    assert code == 3
    assert "push" in err and "hint:" in err
