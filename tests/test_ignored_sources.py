"""`source()` never reads a file git ignores from the working tree (a `.env`, a key): it would go to the model and
into reports, and no release could carry it. Untracked documents git does not ignore, and tracked ones a
.gitignore also matches, are read as before; so is everything in a directory without git."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import MINIMAL, commit, git
from eval_fixtures import ANSWER_PROMPT, routing_for
from provider_server import ProviderServer

from promptops.lint import lint
from promptops.workspace import TreeSource, open_source

ENV_VALUE = "OPENAI_API_KEY=sk-live-" + "Zq81Xw" * 5  # built at run time: secret scanners skip this file
LEAKY = "---\ndescription: leaks\nsources: ['*']\n---\nuser:\nContext:\n{{ source('.env') }}\n"
DOCS = "---\ndescription: docs\nsources: ['docs/**']\n---\nuser:\n{{ source('docs/a.md') }}|{{ source('docs/b.md') }}\n"


def project(make_repo, files: dict[str, str | bytes | None], *, use_git: bool = True) -> Path:
    """MINIMAL plus `files`, committed (when git is on); then `.env` written, untracked, and ignored."""
    root = make_repo({**MINIMAL, ".gitignore": ".env\n*.pem\nprivate/\n", **files}, use_git=use_git)
    (root / ".env").write_text(ENV_VALUE + "\n")
    return root


def assert_refused(code: int, out: str, err: str, file: str = "prompts/leaky.prompt") -> None:
    assert code == 2, out + err
    assert f"{file}:" in err and "source('.env'): git ignores .env" in err
    assert "hint: commit the document under a path git does not ignore" in err
    assert "sk-live-" not in out + err


def test_render_refuses_an_ignored_env_file_matched_by_a_glob(make_repo, cli) -> None:
    root = project(make_repo, {"prompts/leaky.prompt": LEAKY})
    assert_refused(*cli("render", "leaky", "--repo", root))
    assert_refused(*cli("render", "leaky", "--repo", root, "--format", "json"))


def test_eval_refuses_it_before_any_request(make_repo, cli, server: ProviderServer, api_key: str) -> None:
    prompt = ANSWER_PROMPT.replace("fallback:", "sources: ['*']\nfallback:").replace(
        "REPLY:", "{{ source('.env') }}\nREPLY:"
    )
    suite = "prompt: answer\ncases:\n  - id: a\n    vars: {answer: yes}\n    assert:\n      - {type: contains, value: yes}\n"
    files = {"routing.yaml": routing_for(server.base_url), "prompts/answer.prompt": prompt, "evals/answer.yaml": suite}
    root = project(make_repo, {**files, "prompts/greet.prompt": None, "evals/greet.yaml": None})
    code, out, err = cli("eval", "--repo", root)
    assert_refused(code, out, err, "prompts/answer.prompt")
    assert server.requests_received == 0
    assert "sk-live-" not in "".join(p.read_text(errors="replace") for p in root.rglob("*.json"))


def test_diff_of_the_working_tree_neither_renders_nor_pins_it(make_repo, cli) -> None:
    suite = "prompt: leaky\ncases:\n  - id: a\n    assert:\n      - {type: contains, value: x}\n"
    before = LEAKY.replace("{{ source('.env') }}", "none")
    root = project(make_repo, {"prompts/leaky.prompt": before, "evals/leaky.yaml": suite})
    (root / "prompts/leaky.prompt").write_text(LEAKY)
    for args in ((), ("--format", "json")):
        code, out, err = cli("diff", "HEAD", "--repo", root, *args)
        assert code == 0, out + err
        assert "sk-live-" not in out + err
        assert "source('.env'): git ignores .env" in out
        assert "pinned source .env" not in out and '"path": ".env"' not in out  # as in a release: not pinned


def test_an_ignored_directory_and_an_ignored_file_in_an_untracked_directory_are_refused(make_repo, cli) -> None:
    body = "---\ndescription: keys\nsources: ['private/**', 'new/*']\n---\nuser:\n{{ source(path) }}\n"
    prompt = body.replace("description: keys", "description: keys\ninputs:\n  path: {type: string}")
    root = project(make_repo, {"prompts/keys.prompt": prompt})
    (root / "private").mkdir()
    (root / "private/notes.md").write_text("private notes\n")
    (root / "new").mkdir()
    (root / "new/server.pem").write_text("-----BEGIN PRIVATE KEY-----\n")
    (root / "new/readme.md").write_text("a new document\n")
    for path in ("private/notes.md", "new/server.pem"):
        code, out, err = cli("render", "keys", "--repo", root, "--var", f"path={path}")
        assert code == 2 and f"git ignores {path}" in err, out + err
    code, out, err = cli("render", "keys", "--repo", root, "--var", "path=new/readme.md")
    assert code == 0 and "a new document" in out, out + err


def test_git_own_files_are_refused(make_repo, cli) -> None:
    root = project(make_repo, {"prompts/leaky.prompt": LEAKY.replace("'*'", "'**'").replace(".env", ".git/config")})
    git(root, "config", "remote.origin.url", "https://bob:" + ENV_VALUE[-20:] + "@example.com/r.git")
    code, out, err = cli("render", "leaky", "--repo", root)
    assert code == 2 and "source('.git/config'): git ignores .git/config" in err, out + err
    assert ENV_VALUE[-20:] not in out + err


def test_untracked_and_tracked_but_matched_documents_are_still_read(make_repo, cli) -> None:
    root = project(make_repo, {"prompts/docs.prompt": DOCS, ".gitignore": ".env\ndocs/b.md\n"})
    (root / "docs").mkdir()
    (root / "docs/a.md").write_text("new, not yet committed\n")  # untracked, not ignored
    (root / "docs/b.md").write_text("committed\n")
    git(root, "add", "-f", "docs/b.md")  # tracked although .gitignore matches it: git never ignores it
    git(root, "commit", "-q", "-m", "b")
    code, out, err = cli("render", "docs", "--repo", root)
    assert code == 0, out + err
    assert "new, not yet committed\n|committed" in out
    assert not [f for f in lint(TreeSource(root)) if f.rule == "ignored-source"]


def test_a_directory_without_git_reads_as_before(make_repo, cli) -> None:
    root = project(make_repo, {"prompts/leaky.prompt": LEAKY}, use_git=False)
    code, out, err = cli("render", "leaky", "--repo", root)
    assert code == 0 and "Context:\nOPENAI_API_KEY=" in out, out + err


def test_a_project_in_a_subdirectory_of_the_repository(make_repo, cli) -> None:
    outer = make_repo({"README.md": "monorepo\n", ".gitignore": "*.pem\n"})
    inner = outer / "team"
    for name, content in {**MINIMAL, "prompts/leaky.prompt": LEAKY.replace(".env", "k.pem")}.items():
        (inner / name).parent.mkdir(parents=True, exist_ok=True)
        (inner / name).write_text(content)
    commit(outer, {}, "team project")
    (inner / "k.pem").write_text("-----BEGIN PRIVATE KEY-----\n")
    code, out, err = cli("render", "leaky", "--repo", inner)
    assert code == 2 and "git ignores k.pem" in err, out + err


def test_git_is_asked_once_per_render_and_never_without_sources(make_repo, cli, tmp_path, monkeypatch) -> None:
    """A `git` on PATH that records its arguments, then runs the real one."""
    root = project(make_repo, {"prompts/docs.prompt": DOCS})
    commit(root, {"docs/a.md": "A\n", "docs/b.md": "B\n"})
    log, shim = tmp_path / "git.log", tmp_path / "bin" / "git"
    shim.parent.mkdir()
    real = next(Path(d) / "git" for d in os.environ["PATH"].split(os.pathsep) if (Path(d) / "git").is_file())
    shim.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{real}" "$@"\n')
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim.parent}{os.pathsep}{os.environ['PATH']}")
    assert cli("render", "greet", "--repo", root, "--var", "name=Ada")[0] == 0
    assert not log.exists() or "ls-files" not in log.read_text()
    code, out, err = cli("render", "docs", "--repo", root)
    assert code == 0 and "A\n|B" in out, out + err
    assert log.read_text().count("ls-files") == 1


# -- lint ----------------------------------------------------------------------------------------------------


def test_lint_reports_a_listed_ignored_file_and_a_literal_call_of_one(make_repo, cli) -> None:
    listed = "---\ndescription: d\nsources: [.env]\n---\nuser:\nHi.\n"
    root = project(make_repo, {"prompts/leaky.prompt": LEAKY, "prompts/listed.prompt": listed})
    found = {(f.file, f.line) for f in lint(TreeSource(root)) if f.rule == "ignored-source"}
    assert found == {("prompts/leaky.prompt", 7), ("prompts/listed.prompt", 3)}
    code, out, err = cli("lint", "--repo", root)
    assert code == 1
    assert "prompts/listed.prompt:3: error: source '.env' of prompt 'listed' is a file git ignores" in out
    assert "[ignored-source]" in out and "sk-live-" not in out + err


def test_lint_of_a_revision_and_of_prompts_without_sources_reports_nothing(make_repo) -> None:
    root = project(make_repo, {"prompts/leaky.prompt": LEAKY})
    assert [f.rule for f in lint(TreeSource(root)) if f.rule == "ignored-source"] == ["ignored-source"]
    assert not [f for f in lint(open_source(root, "HEAD")) if f.rule == "ignored-source"]


@pytest.mark.parametrize("pattern", ["*.pem", "secrets/"])
def test_tree_source_answers_from_one_listing(make_repo, pattern: str) -> None:
    root = make_repo({**MINIMAL, ".gitignore": pattern + "\n"})
    (root / "secrets").mkdir()
    (root / "secrets/x.pem").write_text("k\n")
    (root / "y.md").write_text("y\n")
    tree = TreeSource(root)
    assert tree.ignored("secrets/x.pem") and tree.ignored("./secrets//x.pem")
    assert not tree.ignored("y.md") and not tree.ignored("routing.yaml")
