"""Sources that travel: `source("path")` reads only the documents a prompt pins; bundles and exports carry them
by content hash; the runtime renders an export with no repository exactly as `render` does at the release's
commit, and each audit record lists the digests of the documents the call read."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import MINIMAL, commit, git
from hypothesis import given, settings
from hypothesis import strategies as st
from scripted_provider import ScriptedProvider

import promptops
from promptops.digest import sha256
from promptops.model import Prompt
from promptops.pinned import Documents, rendering, source_function

SKIP = ("--skip-eval", "--reason", "source tests run no evals")
POLICY = "Refunds within 30 days.\nNo refunds on gift cards.\n"
ANSWER = (
    "---\ndescription: answers\ninputs:\n  question: {type: string}\nsources: [docs/*.md]\n"
    "fallback: 'Policy says: {{ source(\"docs/refunds.md\") | truncate(20) }}'\n---\n"
    'system:\nAnswer from this policy:\n{{ source("docs/refunds.md") }}\nuser:\nREPLY: {{ question }}\n'
)
QUOTE = "---\ndescription: quotes\nsources: [docs/copy.md]\n---\nuser:\n{{ source('docs/copy.md') }}\n"


@pytest.fixture
def project(reuse, make_repo, cli) -> Path:
    return reuse("pinned-sources", lambda: build(make_repo, cli))


def build(make_repo, cli) -> Path:
    """v0.1.0 pins the policy under two paths (one stored copy); production runs it; then the policy changes."""
    root = make_repo(
        {
            **MINIMAL,
            "promptops.yaml": "project: t\nenvironments:\n  production: {}\n",
            "prompts/answer.prompt": ANSWER,
            "prompts/quote.prompt": QUOTE,
            "docs/refunds.md": POLICY,
            "docs/copy.md": POLICY,
            "docs/secret.txt": "not pinned\n",
            "evals/answer.yaml": "prompt: answer\ncases:\n  - id: refund\n    vars: {question: q}\n"
            "    assert:\n      - {type: contains, value: q}\n",
        }
    )
    assert cli("release", "--repo", root, *SKIP)[0] == 0
    assert cli("promote", "v0.1.0", "--env", "production", "--reason", "r", "--repo", root)[0] == 0
    commit(root, {"docs/refunds.md": "Refunds within 14 days.\n"}, "shorter window")
    return root


def test_an_export_renders_without_the_repository_as_render_does_at_the_release(project, cli, tmp_path) -> None:
    export = tmp_path / "elsewhere" / "production.json"
    export.parent.mkdir()
    assert cli("export", "--env", "production", "--output", export, "--repo", project)[0] == 0
    doc = json.loads(export.read_bytes())
    assert doc["documents"] == {sha256(POLICY): POLICY}  # content-addressed: two paths, one copy
    assert doc["hashes"]["sources"] == {"docs/copy.md": sha256(POLICY), "docs/refunds.md": sha256(POLICY)}
    code, out, err = cli(
        "render", "answer", "--ref", "v0.1.0", "--var", "question=q", "--format", "json", "-C", project
    )
    assert code == 0, err
    at_release = json.loads(out)["messages"]
    shutil.rmtree(project)  # no repository at hand
    provider = ScriptedProvider()
    audit = tmp_path / "audit"
    with promptops.load(bundle=export, reload_interval=None, audit=audit, provider=provider) as rt:
        assert rt.render("answer", {"question": "q"}).messages == at_release
        assert "Refunds within 30 days." in at_release[0]["content"]
        result = rt.run("answer", {"question": "may I?"})
    assert result.text == "may I?"
    from promptops.runtime.audit_verify import read

    (record,) = list(read(audit))
    assert record["sources"] == {"docs/refunds.md": sha256(POLICY)}


def test_render_reads_the_working_tree_and_any_revision(project, cli) -> None:
    code, out, _ = cli("render", "answer", "--var", "question=q", "-C", project)
    assert code == 0 and "Refunds within 14 days." in out
    code, out, _ = cli("render", "answer", "--ref", "v0.1.0", "--var", "question=q", "-C", project)
    assert code == 0 and "Refunds within 30 days." in out


def test_diff_shows_a_source_change_with_the_prompts_and_eval_cases_it_reaches(project, cli) -> None:
    code, out, err = cli("diff", "v0.1.0", "HEAD", "--format", "json", "-C", project)
    assert code == 0, err
    prompts = {p["id"]: p for p in json.loads(out)["prompts"]}
    assert set(prompts) == {"answer"}  # quote pins only docs/copy.md, which did not change
    (change,) = [c for c in prompts["answer"]["changes"] if c["kind"] == "source"]
    assert change["field"] == "docs/refunds.md" and change["behaviour"] is True
    (case,) = prompts["answer"]["rendered"]
    assert case["case"] == "refund" and "+Refunds within 14 days." in json.dumps(case)


def test_source_refuses_a_document_the_prompt_does_not_list(make_repo, cli) -> None:
    prompt = ANSWER.replace('source("docs/refunds.md") }}\nuser', 'source("docs/secret.txt") }}\nuser')
    root = make_repo({**MINIMAL, "prompts/answer.prompt": prompt, "docs/secret.txt": "s\n"}, use_git=False)
    code, _, err = cli("render", "answer", "--var", "question=q", "-C", root)
    assert code == 2
    assert "prompts/answer.prompt:10: source('docs/secret.txt') is not among the documents" in err
    assert "sources" in err and "Traceback" not in err
    code, out, _ = cli("lint", "-C", root, "--format", "json")
    assert code == 1 and "unlisted-source" in out and "docs/secret.txt" in out


def test_source_refuses_a_listed_path_that_is_a_symbolic_link_in_the_tree_and_at_a_revision(make_repo, cli) -> None:
    secret = "OPENAI_API_KEY=sk-linkedlinkedlinkedlinked0001\n"
    linked = "---\ndescription: reads docs\nsources: [docs/**]\n---\nuser:\n{{ source(PATH) }}\n"
    files = {
        **MINIMAL,
        ".gitignore": ".env\nprivate/\n",
        ".env": secret,
        "private/notes.md": secret,
        "prompts/env.prompt": linked.replace("PATH", "'docs/env.md'"),
        "prompts/dir.prompt": linked.replace("PATH", "'docs/private/notes.md'"),
    }
    root = make_repo(files, use_git=False)
    (root / "docs").mkdir()
    (root / "docs" / "env.md").symlink_to("../.env")  # a file link, committed
    (root / "docs" / "private").symlink_to("../private")  # a directory link on the way to the file
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "docs")
    for prompt, path in (("env", "docs/env.md"), ("dir", "docs/private/notes.md")):
        code, out, err = cli("render", prompt, "-C", root)
        assert code == 2, out
        assert f"prompts/{prompt}.prompt:6: source('{path}'): {path} is read through a symbolic link" in err
        assert "linkedlinked" not in out + err and "Traceback" not in err
    code, out, err = cli("render", "env", "--ref", "HEAD", "-C", root)
    assert code == 2, out
    assert "prompts/env.prompt:6: source('docs/env.md'): docs/env.md is committed as a symbolic link" in err
    assert "../.env" not in out


def test_the_kill_switch_answer_reads_pinned_sources_and_the_audit_lists_them(project, cli, tmp_path) -> None:
    assert cli("kill", "answer", "--env", "production", "--reason", "r", "--repo", project)[0] == 0
    export = tmp_path / "production.json"
    assert cli("export", "--env", "production", "--output", export, "--repo", project)[0] == 0
    provider = ScriptedProvider()
    with promptops.load(bundle=export, reload_interval=None, audit=tmp_path / "a", provider=provider) as rt:
        result = rt.run("answer", {"question": "q"})
    assert result.answered_by == "kill-switch" and result.text.startswith("Policy says: Refunds") and not provider.calls
    from promptops.runtime.audit_verify import read

    assert [r["sources"] for r in read(tmp_path / "a")] == [{"docs/refunds.md": sha256(POLICY)}]


@settings(max_examples=25, deadline=None)
@given(text=st.text(max_size=50), other=st.text(max_size=50))
def test_a_document_is_served_only_at_its_pinned_hash(text: str, other: str) -> None:
    prompt = Prompt(id="p", path="prompts/p.prompt", body="", sources=("docs/*.md",))
    data = {"docs/a.md": text.encode()}
    source = source_function(Documents(data.get, {"docs/a.md": sha256(other.encode())}))
    with rendering(prompt) as used:
        if text == other:
            assert source("docs/a.md") == text and used == {"docs/a.md": sha256(text.encode())}
        else:
            with pytest.raises(promptops.errors.InputError, match="the release pinned"):
                source("docs/a.md")


def test_a_release_recorded_before_bundles_carried_documents_still_verifies(project, cli) -> None:
    from conftest import git, retag

    from promptops.release.bundle import digest_of

    bundle = json.loads(cli("bundle", "--ref", "v0.1.0", "-C", project)[1])
    del bundle["documents"]
    old_digest = digest_of(bundle)  # what the release recorded when bundles did not carry documents
    message = git(project, "tag", "-l", "--format=%(contents)", "v0.1.0")
    old = message.replace(' "pinned_documents": true,\n', "").replace(bundle["digest"], old_digest)
    assert old != message and '"pinned_documents"' not in old
    retag(project, "v0.1.0", old + "\n")
    code, out, err = cli("verify", "v0.1.0", "-C", project)
    assert code == 0, out + err
    assert "documents" not in json.loads(cli("bundle", "--ref", "v0.1.0", "-C", project)[1])
