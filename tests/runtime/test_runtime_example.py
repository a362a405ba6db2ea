"""The example application of the README's incident drill, run as a user runs it, on a copy of the example."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLE, git

APP = Path(__file__).resolve().parents[2] / "examples" / "runtime-app" / "answer_desk.py"
SKIP = ("--skip-eval", "--reason", "drill")


@pytest.fixture
def desk(tmp_path: Path, cli) -> Path:
    root = tmp_path / "desk"
    shutil.copytree(EXAMPLE, root)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "start")
    assert cli("release", "--repo", root, *SKIP)[0] == 0
    assert cli("promote", "0.1.0", "--env", "staging", "--reason", "drill", "--repo", root)[0] == 0
    return root


def answers(*args: str | Path, cwd: Path) -> list[list[str]]:
    done = subprocess.run(
        [sys.executable, str(APP), *map(str, args), "--offline", "--count", "2", "--every", "0"],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(APP.parents[2])},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [line.split(maxsplit=2) for line in done.stdout.splitlines()]


def test_the_desk_answers_then_obeys_a_kill_and_audits_every_answer(desk: Path, cli) -> None:
    lines = answers("--repo", desk, "--env", "staging", cwd=desk)
    assert [line[:2] for line in lines] == [["v0.1.0", "primary"], ["v0.1.0", "primary"]]
    assert cli("kill", "support/refund_answer", "--env", "staging", "--reason", "drill", "--repo", desk)[0] == 0
    lines = answers("--repo", desk, "--env", "staging", cwd=desk)
    assert [line[:2] for line in lines] == [["v0.1.0", "kill-switch"], ["v0.1.0", "kill-switch"]]
    assert lines[0][2].startswith("Hi Dana,")
    code, out, _ = cli("audit", "verify", "--repo", desk)
    assert code == 0, out
    code, out, _ = cli("audit", "show", "--repo", desk, "--format", "json")
    assert code == 0 and out.count("\n") == 4


def test_the_desk_serves_an_exported_bundle(desk: Path, cli, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.json"
    assert cli("export", "--env", "staging", "-o", bundle, "--repo", desk)[0] == 0
    lines = answers("--bundle", bundle, "--env", "staging", cwd=tmp_path)
    assert [line[:2] for line in lines] == [["v0.1.0", "primary"], ["v0.1.0", "primary"]]
