"""`export_document`: the verified export of an environment, for a Python caller as for the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MINIMAL

from promptops.errors import GateFailed, InputError
from promptops.release.transitions import apply

SKIP = ("--skip-eval", "--reason", "export tests run no evals")
CONFIG = "project: t\nenvironments:\n  staging: {}\n  production: {}\n"

PROGRAM = """
import json, sys
from pathlib import Path
from promptops.loader import load
from promptops.workspace import TreeSource
from promptops.release.exporting import export_document
root = Path(sys.argv[1])
data = export_document(root, load(TreeSource(root)).config, "production")
sys.stdout.write(data.decode("utf-8"))
heavy = [m for m in ("typer", "rich", "click", "litellm") if m in sys.modules]
sys.stderr.write(json.dumps(heavy))
"""


@pytest.fixture
def killed(make_repo, cli) -> Path:
    root = make_repo({**MINIMAL, "promptops.yaml": CONFIG})
    assert cli("release", "--repo", root, *SKIP)[0] == 0
    assert cli("promote", "v0.1.0", "--env", "production", "--reason", "first", "--repo", root)[0] == 0
    assert (
        cli("kill", "greet", "--allow-error", "--env", "production", "--reason", "bad answers", "--repo", root)[0] == 0
    )
    return root


def test_a_python_caller_gets_the_same_bytes_as_export_without_the_command_line(killed: Path, cli) -> None:
    code, exported, err = cli("export", "--env", "production", "--repo", killed)
    assert code == 0, err
    done = subprocess.run([sys.executable, "-c", PROGRAM, str(killed)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == exported
    assert json.loads(done.stderr) == []
    doc = json.loads(exported)
    assert doc["environment"] == "production" and list(doc["kill_switch"]) == ["greet"]


def test_export_document_refuses_what_it_cannot_vouch_for(killed: Path) -> None:
    from promptops.loader import load
    from promptops.release.exporting import export_document
    from promptops.workspace import TreeSource

    config = load(TreeSource(killed)).config
    with pytest.raises(InputError, match="staging runs no release yet"):
        export_document(killed, config, "staging")
    with pytest.raises(InputError, match="unknown environment 'qa'"):
        export_document(killed, config, "qa")
    # The whole ledger replaced by one hand-made commit that un-kills greet: refused, exit 1.
    from test_replay import ledger_files, write_commit

    state, event, message = ledger_files(killed)
    state["killed"] = {"production": {}}
    write_commit(killed, state, event, message, None)
    with pytest.raises(GateFailed, match="does not replay"):
        export_document(killed, config, "production")


def test_apply_refuses_events_that_cannot_happen() -> None:
    from promptops.release.ledger import Event, empty_state

    base = {"by": "a <a@x>", "time": "t", "reason": "r"}
    state = empty_state()
    with pytest.raises(InputError, match="runs no release; there is nothing to kill"):
        apply(state, Event("kill", "prod", **base, prompt="p"))
    with pytest.raises(InputError, match="runs no release yet; nothing to roll back"):
        apply(state, Event("rollback", "prod", **base, version="v1"))
    with pytest.raises(InputError, match="unknown ledger action"):
        apply(state, Event("teleport", "prod", **base))
    promoted = apply(state, Event("promote", "prod", **base, version="v1", digest="d1", release_commit="c1"))
    assert promoted.environments["prod"]["stack"] == [{"version": "v1", "digest": "d1", "commit": "c1"}]
    assert state == empty_state()  # apply never changes its input
    with pytest.raises(InputError, match="says prod ran nothing, but it ran v1"):
        apply(promoted, Event("promote", "prod", **base, version="v2", digest="d2"))
    with pytest.raises(InputError, match="already runs v1"):
        apply(promoted, Event("promote", "prod", **base, version="v1", previous="v1"))
    with pytest.raises(InputError, match="names release 'v0'"):
        apply(promoted, Event("kill", "prod", **base, prompt="p", version="v0"))
    twice = apply(promoted, Event("promote", "prod", **base, version="v2", digest="d2", previous="v1"))
    with pytest.raises(InputError, match="names digest forged"):
        apply(twice, Event("rollback", "prod", **base, version="v1", digest="forged", previous="v2"))
