"""The last scrub of an error message on its way to the terminal knows the variables routing.yaml names as
holding keys, not only those named like keys (`*_API_KEY`, `*_TOKEN`, ...)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Built at run time so that secret scanners do not flag the test data.
CREDENTIAL = "Zq9Wd4Rt8Yb3" + "NcQqLm7Kx2"
FILES = {
    "promptops.yaml": "project: t\n",
    "routing.yaml": "defaults:\n  model: fast\nmodels:\n  fast:\n    model: openai/gpt-4o-mini\n"
    "    api_key_env: LLM_CREDS\n",
    "prompts/count.prompt": "---\ndescription: d\nowner: '@t'\ninputs:\n  n: {type: integer}\n---\nuser:\nHi {{ n }}\n",
}


def run(root: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "promptops", *args, "--repo", str(root)]
    return subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **env}, check=False)


@pytest.mark.parametrize("variable", ["LLM_CREDS", "UNRELATED"])
def test_a_key_in_a_variable_routing_names_never_reaches_the_terminal_in_an_error(make_repo, variable: str) -> None:
    root: Path = make_repo(FILES)
    done = run(root, "render", "count", "--var", f"n={CREDENTIAL}", env={variable: CREDENTIAL})
    assert done.returncode == 2
    assert "--var n:" in done.stderr and "is not valid JSON for type integer" in done.stderr
    if variable == "LLM_CREDS":  # routing.yaml says this variable holds a key: its value is never shown
        assert CREDENTIAL not in done.stderr + done.stdout
        assert "[REDACTED:secret]" in done.stderr
    else:  # a value no variable of the project holds as a key is the user's own text, shown as typed
        assert CREDENTIAL in done.stderr
