"""`promptops render`: working tree, --ref, --case, --vars-file, formats."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import MINIMAL, commit


def test_render_working_tree_and_previous_commit_with_changed_partial(make_repo, cli) -> None:
    root: Path = make_repo(MINIMAL)
    commit(root, {"prompts/shared/_tone.j2": "Be warm and brief.\n"}, "warmer tone")
    (root / "prompts/shared/_tone.j2").write_text("Be warm, brief and exact.\n")  # uncommitted

    code, out, err = cli("render", "greet", "--var", "name=Ada", "--repo", root)
    assert code == 0, err
    assert out == "system:\nBe warm, brief and exact.\n\nuser:\nHello Ada!\n"

    code, out, _ = cli("render", "greet", "--var", "name=Ada", "--repo", root, "--ref", "HEAD")
    assert code == 0
    assert "Be warm and brief." in out

    code, out, _ = cli("render", "greet", "--var", "name=Ada", "--repo", root, "--ref", "HEAD~1")
    assert code == 0
    assert out == "system:\nBe brief.\n\nuser:\nHello Ada!\n"


def test_render_ref_in_a_subdirectory_project(make_repo, cli) -> None:
    root: Path = make_repo({f"sub/project/{k}": v for k, v in MINIMAL.items()})
    commit(root, {"sub/project/prompts/shared/_tone.j2": "Changed.\n"})
    code, out, err = cli("render", "greet", "--var", "name=Ada", "--repo", root / "sub/project", "--ref", "HEAD~1")
    assert code == 0, err
    assert "Be brief." in out


def test_render_unknown_ref_is_an_input_error(make_repo, cli) -> None:
    root: Path = make_repo(MINIMAL)
    code, _, err = cli("render", "greet", "--var", "name=Ada", "--repo", root, "--ref", "nope")
    assert code == 2
    assert "unknown git revision 'nope'" in err


def test_render_ref_outside_git_says_so(make_repo, cli) -> None:
    root: Path = make_repo(MINIMAL, use_git=False)
    code, _, err = cli("render", "greet", "--var", "name=Ada", "--repo", root, "--ref", "HEAD")
    assert code == 2
    assert "not inside a git repository" in err


def test_render_case_vars_file_and_json(make_repo, cli, tmp_path: Path) -> None:
    root: Path = make_repo(MINIMAL)
    code, out, _ = cli("render", "greet", "--case", "greet:ada", "--repo", root, "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hello Ada!"},
    ]
    vars_file = tmp_path / "vars.yaml"
    vars_file.write_text("name: Grace\n")
    code, out, _ = cli("render", "greet", "--vars-file", vars_file, "--repo", root)
    assert code == 0
    assert "Hello Grace!" in out
    code, out, _ = cli("render", "greet", "--vars-file", vars_file, "--var", "name=Linus", "--repo", root)
    assert "Hello Linus!" in out  # --var wins over the file


def test_render_unknown_case_lists_cases(make_repo, cli) -> None:
    root: Path = make_repo(MINIMAL)
    code, _, err = cli("render", "greet", "--case", "greet:nobody", "--repo", root)
    assert code == 2
    assert "has no case 'nobody'" in err and "ada" in err


def test_var_values_are_coerced_by_the_input_schema(make_repo, cli) -> None:
    files = dict(MINIMAL)
    files["prompts/total.prompt"] = (
        "---\ninputs:\n  n: {type: integer}\n  code: {type: string}\n---\n{{ n + 1 }} {{ code }}\n"
    )
    root: Path = make_repo(files)
    code, out, err = cli("render", "total", "--var", "n=41", "--var", "code=007", "--repo", root)
    assert code == 0, err
    assert out == "user:\n42 007\n"
    code, _, err = cli("render", "total", "--var", "n=forty", "--var", "code=1", "--repo", root)
    assert code == 2
    assert "not valid JSON" in err
    code, _, err = cli("render", "total", "--var", "n=1.5", "--var", "code=1", "--repo", root)
    assert code == 2
    assert "prompts/total.prompt" in err and "is not of type 'integer'" in err


def test_plain_text_prompt_is_one_user_message(make_repo, cli) -> None:
    root: Path = make_repo({**MINIMAL, "prompts/plain.txt": "Just say hi.\n"})
    code, out, _ = cli("render", "plain", "--repo", root, "--format", "json")
    assert code == 0
    assert json.loads(out)["messages"] == [{"role": "user", "content": "Just say hi."}]


def test_whitespace_control_next_to_a_role_line_keeps_the_messages_apart(make_repo, cli) -> None:
    """`{{- x }}` right after a role line, or `-%}` right before one, strips the line breaks around the marker,
    never the marker itself: the messages stay apart and nothing of the marker shows."""
    body = (
        "---\ndescription: d\nowner: '@t'\ninputs:\n  name:\n    type: string\n---\n"
        "system:\n{%- if name %}Be brief.{% endif -%}\nuser:\n{{- name }}\n\nassistant:\n{{- name -}}\n"
    )
    root: Path = make_repo({**MINIMAL, "prompts/tight.prompt": body})
    code, out, err = cli("render", "tight", "--repo", root, "--var", "name=Ada", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Ada"},
        {"role": "assistant", "content": "Ada"},
    ]


def test_hidden_directories_are_skipped_at_revisions_as_in_the_working_tree(make_repo, cli) -> None:
    root: Path = make_repo({**MINIMAL, "prompts/.drafts/wip.prompt": "user:\nnot yet\n"})
    for ref in ((), ("--ref", "HEAD")):
        code, out, _ = cli("list", "--repo", root, "--format", "json", *ref)
        assert code == 0
        assert [e["id"] for e in json.loads(out)["prompts"]] == ["greet"]


def test_render_shows_no_key_a_template_or_document_puts_in_a_message(make_repo, cli, monkeypatch) -> None:
    key, token = "acmeacmeacme-0123456789-creds", "Hx8Kd2Lq7Zp4Wm9Rt3Yv"
    monkeypatch.setenv("ACME_CREDS", key)  # named by routing.yaml only
    monkeypatch.setenv("MY_SERVICE_TOKEN", token)  # named like a key
    root = make_repo(
        {
            **MINIMAL,
            "routing.yaml": "defaults:\n  model: m\nmodels:\n  m:\n    model: openai/gpt-4o-mini\n"
            "    api_key_env: ACME_CREDS\n",
            "prompts/leak.prompt": "---\ndescription: d\nsources: [docs/*]\n---\nuser:\n"
            "{{ source('docs/notes.md') }} and sk-secretsecretsecretsecret12345\n",
            "docs/notes.md": f"creds {key}, token {token}",
        },
        use_git=False,
    )
    for fmt in ("text", "json"):
        code, out, err = cli("render", "leak", "--format", fmt, "-C", root)
        assert code == 0, err
        assert key not in out and token not in out and "secretsecret" not in out
        assert out.count("[REDACTED:") == 3
