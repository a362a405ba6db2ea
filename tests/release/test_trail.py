"""The audit trail from git (commits, release tags, the ledger), and the opt-in `change-reason` lint rule."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import MINIMAL, Clock, commit, git

from promptops import git as git_seam
from promptops.lint import lint
from promptops.workspace import DictSource, GitSource, TreeSource

Cli = Callable[..., tuple[int, str, str]]

REFUND = (
    "---\nowner: '@acme/support'\ninputs:\n  order:\n    type: string\n---\n"
    "system:\nYou handle refunds.\nuser:\nRefund order {{ order }}.\n"
)
REFUND_SUITE = (
    "prompt: {id}\ncases:\n  - id: one\n    vars: {{order: A1}}\n    assert:\n      - {{type: contains, value: A1}}\n"
)


def message(subject: str, *trailers: str) -> str:
    return subject + ("\n\n" + "\n".join(trailers) if trailers else "")


def release(cli: Cli, root: Path) -> str:
    code, _, err = cli("release", "--skip-eval", "--reason", "no provider in tests", "-C", root)
    assert code == 0, err
    return err.split()[1]  # "released v0.1.0 (...)"


@pytest.fixture
def story(reuse, make_repo: Callable[..., Path], cli: Cli, clock: Clock) -> Path:
    """refund: added, released, promoted, edited, renamed to support/refund, released, promoted, rolled
    back, killed and revived under its old id (the release production runs again); greet alongside."""

    def build() -> Path:
        clock.set("2026-03-01T10:00:00Z")
        clock.step = timedelta(minutes=1)  # every ledger event a minute after the step before
        clock.advance()
        root = make_repo(dict(MINIMAL), message="greet")
        clock.advance()
        commit(
            root,
            {"prompts/refund.prompt": REFUND, "evals/refund.yaml": REFUND_SUITE.format(id="refund")},
            message("Add refunds", "Change-Reason: launch self-service refunds", "Approved-by: Bob <bob@example.test>"),
        )
        clock.advance()
        assert release(cli, root) == "v0.1.0"
        assert cli("promote", "v0.1.0", "--env", "production", "--reason", "first launch", "-C", root)[0] == 0
        clock.advance()
        commit(
            root,
            {"prompts/refund.prompt": REFUND.replace("You handle", "You kindly handle")},
            message("Kinder refunds", "Change-Reason: complaints about tone"),
        )
        clock.advance()
        (root / "prompts/support").mkdir()
        git(root, "mv", "prompts/refund.prompt", "prompts/support/refund.prompt")
        commit(
            root,
            {"evals/refund.yaml": REFUND_SUITE.format(id="support/refund")},
            message(
                "Move refunds under support", "Change-Reason: group by team", "Approved-by: Carol <carol@example.test>"
            ),
        )
        clock.advance()
        second = release(cli, root)
        assert (
            cli("promote", "--reason", "test", second, "--env", "production", "--approved-by", "Dan", "-C", root)[0]
            == 0
        )
        assert cli("rollback", "--env", "production", "--reason", "refund bot too kind", "-C", root)[0] == 0
        assert (
            cli("kill", "refund", "--allow-error", "--env", "production", "--reason", "wrong policy", "-C", root)[0]
            == 0
        )
        assert (
            cli("kill", "greet", "--allow-error", "--env", "production", "--reason", "greet is off", "-C", root)[0] == 0
        )
        assert cli("revive", "refund", "--env", "production", "--reason", "policy fixed", "-C", root)[0] == 0
        return root

    return reuse("trail-story", build)


def records(cli: Cli, root: Path, *args: str) -> list[dict[str, object]]:
    code, out, err = cli("audit", "trail", *args, "-C", root)
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def test_trail_of_one_prompt_follows_renames_releases_and_the_ledger(story: Path, cli: Cli) -> None:
    trail = records(cli, story, "support/refund")
    assert [r["type"] for r in trail] == [
        "commit",
        "release",
        "promote",
        "commit",
        "commit",
        "release",
        "promote",
        "rollback",
        "kill",
        "revive",
    ]
    assert {r["prompt"] for r in trail} == {"support/refund"}
    times = [r["time"] for r in trail]
    assert times == sorted(times) and all(str(t).endswith("Z") for t in times)
    added, first, promoted, edited, moved, second, promoted2, rolled, killed, revived = trail

    assert added["change"] == "added" and added["path"] == "prompts/refund.prompt"
    assert added["reasons"] == ["launch self-service refunds"]
    assert added["approved_by"] == ["Bob <bob@example.test>"]
    assert added["author"] == "Ada Tester <ada@example.test>" and added["subject"] == "Add refunds"
    assert added["release"] == "v0.1.0"
    assert edited["change"] == "modified" and edited["reasons"] == ["complaints about tone"]
    assert edited["approved_by"] == [] and edited["release"] == second["release"]
    assert moved["change"] == "renamed" and moved["from"] == "prompts/refund.prompt"
    assert moved["path"] == "prompts/support/refund.prompt"
    assert moved["approved_by"] == ["Carol <carol@example.test>"]

    assert first["release"] == "v0.1.0" and first["version"] == "0.1.0"
    assert first["includes"] == [added["commit"]] and first["prompt_commit"] == added["commit"]
    assert str(first["digest"]).startswith("sha256:") and str(first["prompt_hash"]).startswith("sha256:")
    assert first["evidence"]["skipped"] == "no provider in tests"  # type: ignore[index]
    assert first["by"] == "Ada Tester <ada@example.test>" and first["removed"] is False
    assert second["includes"] == [edited["commit"], moved["commit"]] and second["prompt_commit"] == moved["commit"]

    assert promoted["environment"] == "production" and promoted["release"] == "v0.1.0"
    assert promoted["reason"] == "first launch" and promoted["previous"] is None
    assert promoted["prompt_commit"] == added["commit"] and promoted["by"] == "Ada Tester <ada@example.test>"
    assert promoted2["release"] == second["release"] and promoted2["previous"] == "v0.1.0"
    assert promoted2["approved_by"] == ["Dan"] and promoted2["digest"] == second["digest"]
    assert rolled["release"] == "v0.1.0" and rolled["previous"] == second["release"]
    assert rolled["reason"] == "refund bot too kind"
    assert killed["event_prompt"] == "refund" and killed["reason"] == "wrong policy"
    assert killed["release"] == "v0.1.0" and str(killed["ledger"])
    assert revived["reason"] == "policy fixed"


def test_trail_of_every_prompt(story: Path, cli: Cli) -> None:
    trail = records(cli, story)
    by_prompt: dict[object, list[str]] = {}
    for r in trail:
        by_prompt.setdefault(r["prompt"], []).append(str(r["type"]))
    assert set(by_prompt) == {"greet", "support/refund"}
    assert by_prompt["support/refund"] == records_types(cli, story, "support/refund")
    assert by_prompt["greet"] == ["commit", "release", "promote", "promote", "rollback", "kill"]
    times = [r["time"] for r in trail]
    assert times == sorted(times)
    # one ledger event touching both prompts gives one record for each, next to each other
    promotes = [(r["time"], r["prompt"]) for r in trail if r["type"] == "promote"]
    assert len(promotes) == 4 and promotes[0][0] == promotes[1][0]


def records_types(cli: Cli, root: Path, prompt: str) -> list[str]:
    return [str(r["type"]) for r in records(cli, root, prompt)]


def test_trail_text_format_and_output_file(story: Path, cli: Cli, tmp_path: Path) -> None:
    out_file = tmp_path / "trail.jsonl"
    code, out, err = cli("audit", "trail", "support/refund", "-o", out_file, "-C", story)
    assert code == 0 and out == "" and "10 records" in err
    assert len(out_file.read_text().splitlines()) == 10
    code, out, _ = cli("audit", "trail", "support/refund", "--format", "text", "-C", story)
    lines = out.splitlines()
    assert code == 0 and len(lines) == 10
    assert "commit" in lines[0] and "reason: launch self-service refunds" in lines[0]
    assert "(approved by Bob <bob@example.test>)" in lines[0]
    assert "evals skipped: no provider in tests" in lines[1]
    assert "production: - -> v0.1.0" in lines[2]


def test_trail_errors(story: Path, cli: Cli, make_repo: Callable[..., Path]) -> None:
    code, _, err = cli("audit", "trail", "nope", "-C", story)
    assert code == 2 and "unknown prompt 'nope'" in err
    assert cli("audit", "trail", "--format", "xml", "-C", story)[0] == 2
    outside = make_repo(dict(MINIMAL), use_git=False)
    code, _, err = cli("audit", "trail", "-C", outside)
    assert code == 2 and "not inside a git repository" in err


def test_trail_of_a_removed_prompt_and_of_a_project_in_a_subdirectory(make_repo: Callable[..., Path], cli: Cli) -> None:
    root = make_repo({f"bot/{k}": v for k, v in MINIMAL.items()} | {"bot/prompts/old.prompt": "Hi\n"})
    commit(root, {"bot/prompts/old.prompt": None}, "Drop old")
    project = root / "bot"
    old = records(cli, project, "old")
    assert [(r["type"], r["change"]) for r in old] == [("commit", "added"), ("commit", "deleted")]
    assert old[0]["path"] == "bot/prompts/old.prompt" and old[0]["release"] is None
    assert {r["prompt"] for r in records(cli, project)} == {"greet", "old"}


def test_a_skewed_clock_cannot_put_a_promote_before_its_release(
    make_repo: Callable[..., Path], cli: Cli, clock: Clock
) -> None:
    root = make_repo(dict(MINIMAL))
    assert release(cli, root) == "v0.1.0"
    clock.set("2020-01-01T00:00:00Z", git=False)  # the ledger's clock is skewed, git's is not
    assert cli("promote", "--reason", "test", "v0.1.0", "--env", "staging", "-C", root)[0] == 0
    trail = records(cli, root, "greet")
    assert [r["type"] for r in trail] == ["commit", "release", "promote"]
    assert trail[2]["time"] == "2020-01-01T00:00:00Z"


# -- the change-reason lint rule -----------------------------------------------------------------------------

HIGH = (
    "---\nowner: '@acme/support'\nrisk: high\nfallback: Sorry.\ninputs:\n  order:\n    type: string\n---\n"
    "Refund {{ order }}.\n"
)
HIGH_FILES = {**MINIMAL, "prompts/refund.prompt": HIGH, "evals/refund.yaml": REFUND_SUITE.format(id="refund")}


def reason_findings(source: object) -> list[tuple[str, str, int, str]]:
    return [(f.severity, f.file, f.line, f.message) for f in lint(source) if f.rule == "change-reason"]  # type: ignore[arg-type]


class NoGit:
    """Stands in for `subprocess` in the git seam: any git process fails the test."""

    def run(self, *args: object, **kwargs: object) -> None:
        raise AssertionError(f"git was run: {args}")


def test_change_reason_is_off_by_default_and_runs_no_git(
    make_repo: Callable[..., Path], cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = dict(HIGH_FILES)
    inside, outside = make_repo(files), make_repo(files, use_git=False)
    monkeypatch.setattr(git_seam, "subprocess", NoGit())
    for root in (inside, outside):
        assert reason_findings(TreeSource(root)) == []
        code, out, _ = cli("lint", "--format", "json", "-C", root)
        assert code == 0 and "change-reason" not in out
    assert reason_findings(DictSource({k: v for k, v in files.items() if v is not None})) == []


def test_lint_in_a_git_repository_does_not_import_gitpython(make_repo: Callable[..., Path]) -> None:
    root = make_repo(dict(HIGH_FILES))
    script = (
        "import sys; from promptops.cli import main; code = main(['lint', '-C', sys.argv[1]]); "
        "print(code, 'git' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", script, str(root)], capture_output=True, text=True, check=False)
    assert done.stdout.split() == ["0", "False"], done.stderr


@pytest.mark.parametrize("level", ["error", "warning"])
def test_change_reason_flags_commits_without_the_trailer(make_repo: Callable[..., Path], cli: Cli, level: str) -> None:
    files = HIGH_FILES | {"promptops.yaml": f"project: t\nlint:\n  rules:\n    change-reason: {level}\n"}
    root = make_repo(files, message="Start")
    git(root, "tag", "-a", "v0.1.0", "-m", "release")
    bare = commit(root, {"prompts/refund.prompt": HIGH + "Be kind.\n"}, "Tweak refund")
    commit(root, {"prompts/refund.prompt": HIGH + "Be kinder.\n"}, message("Kinder", "Change-Reason: tone"))
    commit(root, {"prompts/greet.prompt": MINIMAL["prompts/greet.prompt"] + "Bye.\n"}, "Low-risk, no reason")
    expected = [
        (
            level,
            "prompts/refund.prompt",
            1,
            f"commit {bare[:7]} (Tweak refund) changes high-risk prompt 'refund' without a Change-Reason: trailer",
        )
    ]
    assert reason_findings(TreeSource(root)) == expected
    assert reason_findings(GitSource(root, "HEAD")) == expected
    assert reason_findings(GitSource(root, bare)) == expected
    assert reason_findings(GitSource(root, "v0.1.0")) == []  # nothing since the release it is
    code, _, _ = cli("lint", "-C", root)
    assert code == (1 if level == "error" else 0)
    git(root, "tag", "-d", "v0.1.0")  # no release: every commit counts, the first one too
    assert len(reason_findings(TreeSource(root))) == 2
    assert reason_findings(DictSource({k: v for k, v in files.items() if v is not None})) == []


def test_change_reason_in_a_project_in_a_subdirectory(make_repo: Callable[..., Path]) -> None:
    files = HIGH_FILES | {"promptops.yaml": "project: t\nlint:\n  rules:\n    change-reason: error\n"}
    root = make_repo({f"bot/{k}": v for k, v in files.items()}, message="Start\n\nChange-Reason: launch")
    assert reason_findings(TreeSource(root / "bot")) == []
    commit(root, {"bot/prompts/refund.prompt": HIGH + "More.\n"}, "More")
    assert [f[1] for f in reason_findings(TreeSource(root / "bot"))] == ["prompts/refund.prompt"]


def test_trail_includes_the_commits_and_releases_that_changed_the_prompt_through_a_partial(
    make_repo: Callable[..., Path], cli: Cli, clock: Clock
) -> None:
    clock.set("2026-03-01T10:00:00Z")
    root = make_repo({**MINIMAL, "prompts/shared/_intro.j2": "Hi.\n"}, message="greet")
    assert release(cli, root) == "v0.1.0"
    clock.advance()
    tone = commit(root, {"prompts/shared/_tone.j2": "Be kind.\n"}, message("Kinder", "Change-Reason: tone"))
    clock.advance()
    commit(root, {"prompts/shared/_intro.j2": "Hello.\n"}, "an unused partial")  # greet does not include it
    clock.advance()
    assert release(cli, root) == "v0.1.1"
    assert cli("promote", "v0.1.1", "--env", "production", "--reason", "kinder", "-C", root)[0] == 0
    trail = records(cli, root, "greet")
    assert [r["type"] for r in trail] == ["commit", "release", "commit", "release", "promote"]
    via = trail[2]
    assert via["commit"] == tone and via["via"] == "prompts/shared/_tone.j2" and via["reasons"] == ["tone"]
    assert via["release"] == "v0.1.1"
    assert trail[3]["release"] == "v0.1.1" and trail[3]["via_partials"] == [tone] and trail[3]["includes"] == []
