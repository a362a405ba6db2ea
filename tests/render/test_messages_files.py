"""Chat prompts written as messages files (.json / .yaml role lists), and partials in .md / .txt / .json."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import MINIMAL

CHAT_JSON = json.dumps(
    [
        {"role": "system", "content": 'You classify tickets.\n{% include "shared/_labels.md" %}'},
        {"role": "user", "content": "Ticket: {{ ticket }}"},
    ]
)
CHAT_YAML = """description: support triage
owner: '@support'
inputs:
  ticket: {type: string}
messages:
  - role: system
    content: |
      Answer with one of: {% include "shared/_labels.json" %}
  - role: user
    content: "{{ ticket }}"
"""


def test_a_messages_file_is_a_prompt_with_its_roles_and_partials(make_repo, cli) -> None:
    root: Path = make_repo(
        {
            **MINIMAL,
            "prompts/triage.json": CHAT_JSON,
            "prompts/triage_yaml.yaml": CHAT_YAML,
            "prompts/shared/_labels.md": "Labels: *bug*, *question*.\n",
            "prompts/shared/_labels.json": '["bug", "question"]\n',
            "evals/triage.yaml": "prompt: triage_yaml\ncases:\n  - {id: a, vars: {ticket: x}, assert: [{type: contains, value: bug}]}\n",
        }
    )
    code, out, err = cli("render", "triage", "--var", "ticket=It crashes", "--repo", root, "--format", "json")
    assert code == 0, err
    assert json.loads(out)["messages"] == [
        {"role": "system", "content": "You classify tickets.\nLabels: *bug*, *question*."},
        {"role": "user", "content": "Ticket: It crashes"},
    ]
    code, out, err = cli("render", "triage_yaml", "--var", "ticket=Help", "--repo", root, "--format", "json")
    assert code == 0, err
    assert json.loads(out)["messages"] == [
        {"role": "system", "content": 'Answer with one of: ["bug", "question"]'},
        {"role": "user", "content": "Help"},
    ]
    code, out, err = cli("lint", "--repo", root, "--format", "json")
    findings = json.loads(out)["findings"]
    assert [f for f in findings if f["severity"] == "error"] == [], findings  # inputs declared in the mapping form
    assert any(f["rule"] == "undeclared-variable" and f["file"] == "prompts/triage.json" for f in findings)


def test_a_malformed_messages_file_names_the_file_and_line(make_repo, cli) -> None:
    bad = "messages:\n  - role: system\n    content: ok\n  - role: robot\n    content: hi\n"
    root: Path = make_repo({**MINIMAL, "prompts/chat.yaml": bad})
    code, _, err = cli("render", "chat", "--repo", root)
    assert code == 2
    assert "prompts/chat.yaml:4" in err and "message 2 must be {role, content}" in err
