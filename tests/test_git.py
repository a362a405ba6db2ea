"""The git seam: named questions to git on real repositories, and a ref swap that says why it failed."""

from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest
from conftest import MINIMAL, commit, git

from promptops.errors import GitError
from promptops.git import ZERO, GitRepo
from promptops.release.ledger import Event, Ledger

PACKAGE = Path(__file__).resolve().parent.parent / "promptops"
REF = "refs/heads/promptops/ledger"


def test_a_swap_moves_a_ref_only_from_the_value_it_expects(make_repo) -> None:
    root = make_repo(dict(MINIMAL))
    repo = GitRepo(root)
    first = repo.resolve("HEAD")
    second = commit(root, {"prompts/greet.prompt": MINIMAL["prompts/greet.prompt"] + "Bye.\n"})
    assert repo.compare_and_swap(REF, first, None)
    assert repo.compare_and_swap(REF, second, None) is False  # it exists now: another writer made it
    assert repo.compare_and_swap(REF, second, second) is False  # it is at `first`, not `second`
    assert repo.read_ref(REF) == first
    assert repo.compare_and_swap(REF, second, first)
    assert repo.read_ref(REF) == second


def test_a_ref_name_git_refuses_is_reported_at_once_with_gits_reason(make_repo) -> None:
    repo = GitRepo(make_repo(dict(MINIMAL)))
    with pytest.raises(GitError) as caught:
        repo.compare_and_swap("refs/heads/bad..name", repo.resolve("HEAD"), None)
    assert caught.value.exit_code == 3
    assert "refs/heads/bad..name" in str(caught.value)
    assert "bad name" in caught.value.stderr or "not a valid" in caught.value.stderr


def test_a_locked_ledger_is_reported_at_once_not_retried_as_a_ledger_that_kept_moving(make_repo) -> None:
    root = make_repo(dict(MINIMAL))
    repo = GitRepo(root)
    ledger = Ledger(repo, "promptops/ledger")
    lock = repo.git_dir / "refs" / "heads" / "promptops" / "ledger.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("")  # what a git process killed in the middle of an update leaves behind

    def promote(state: dict) -> tuple[dict, Event]:
        calls.append(1)
        return state, Event("promote", "staging", "t <t@x>", "2026-01-01T00:00:00Z", "r", version="v0.1.0")

    calls: list[int] = []
    started = time.monotonic()
    with pytest.raises(GitError) as caught:
        ledger.append(promote)
    assert calls == [1], "a refusal that is not a race is not retried"
    assert time.monotonic() - started < 5
    assert "kept moving" not in str(caught.value)
    assert ".lock" in str(caught.value) and "File exists" in caught.value.stderr
    lock.unlink()
    assert ledger.append(promote).environment == "staging"
    assert repo.read_ref(REF) == ledger.head() != ZERO


def test_named_history_questions_answer_from_the_real_repository(make_repo) -> None:
    root = make_repo(dict(MINIMAL))
    repo = GitRepo(root)
    base = repo.resolve("HEAD")
    git(root, "checkout", "-q", "-b", "side")
    git(root, "mv", "prompts/greet.prompt", "prompts/hello.prompt")
    git(root, "commit", "-q", "-m", "rename")
    head = repo.resolve("HEAD")
    (root / "prompts" / "new.prompt").write_text("x\n", encoding="utf-8")
    assert repo.merge_base("main" if repo.ok("rev-parse", "--verify", "main") else "master", "side") == base
    assert repo.name_status(base, head, "prompts") == [("R100", "prompts/greet.prompt", "prompts/hello.prompt")]
    assert repo.untracked("prompts") == ["prompts/new.prompt"]
    assert "prompts/hello.prompt" in repo.tree_paths("HEAD", "prompts")
    assert repo.paths_in_history([head], "prompts")[:2] == ["prompts/greet.prompt", "prompts/hello.prompt"]
    followed = repo.path_log(["HEAD"], "prompts/hello.prompt", follow=True)
    assert [c.entry.sha for c in followed] == [head, base]
    assert followed[0].changes == (("R100", "prompts/greet.prompt", "prompts/hello.prompt"),)
    assert repo.parent_graph([head]) == {head: [base], base: []}
    assert [sha for sha, _ in repo.commit_messages("HEAD")] == [head, base]
    git(root, "tag", "-a", "v0.1.0", "-m", "first", base)
    assert repo.tags("v*", merged_into=head) == ["v0.1.0"]
    [tag] = repo.tag_details("refs/tags/v*")
    assert (tag.name, tag.commit, tag.message.strip()) == ("v0.1.0", base, "first")


def test_no_module_but_the_seam_runs_git_itself() -> None:
    """Every question to git is a named method of GitRepo: `repo.run(...)` appears nowhere else."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "git.py" and path.parent == PACKAGE:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("run", "ok"):
                target = ast.unparse(node.func.value)
                if target.endswith("repo") or target.endswith("git"):
                    offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {ast.unparse(node)[:60]}")
    assert offenders == []


def test_a_chain_brings_each_commits_files_in_the_same_read(make_repo) -> None:
    """A replay reads every commit of the ledger with its state and event: one `git log` and one `cat-file`
    answer for the commits, their signatures and the named blobs; a name that is missing or not a blob is left
    out, as `read_objects` leaves it."""
    root: Path = make_repo({"state.json": "{}\n", "event.json": "1\n"}, message="one")
    second = commit(root, {"state.json": '{"a": 1}\n', "event.json": None, "x/y": "tree\n"}, "two")
    third = commit(root, {"event.json/inner": "now a directory\n"}, "three")
    chain = GitRepo(root).chain("HEAD", ("state.json", "event.json"))
    assert [c.message.strip() for c in chain] == ["one", "two", "three"]
    assert [dict(c.files) for c in chain] == [
        {"state.json": b"{}\n", "event.json": b"1\n"},
        {"state.json": b'{"a": 1}\n'},
        {"state.json": b'{"a": 1}\n'},
    ]
    assert [c.sha for c in chain[1:]] == [second, third]
    assert [c.parents for c in chain] == [(), (chain[0].sha,), (second,)]
    assert all(c.signature.status == "none" for c in chain)
    assert [dict(c.files) for c in GitRepo(root).chain("HEAD")] == [{}, {}, {}]
