"""What a human reads from `lint`, `status` and `history`, frozen in golden files (tests/golden/).

Times are fixed: the clock fixture dates ledger events and git commits, so the files are the same on any
machine and any day. Refresh on purpose with PROMPTOPS_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import MINIMAL, Clock, commit
from golden_files import check_golden

Cli = Callable[..., tuple[int, str, str]]

# Several rules at once, errors and warnings, in more than one file.
FLAWED = {
    "prompts/greet.prompt": (
        "---\ndescription: greets\nowner: '@team'\ninputs:\n  name:\n    type: string\n  unused:\n"
        "    type: string\n---\n"
        'system:\n{% include "shared/_tone.j2" %}\nuser:\nHello {{ name }}, you are {{ mood }}!\n'
    ),
    "prompts/shared/_spare.j2": "Spare.\n",
    "prompts/farewell.prompt": "---\ndescription: says goodbye\n---\nuser:\nGoodbye {{ name }}.\n",
}


def test_lint_text(make_repo: Callable[..., Path], cli: Cli) -> None:
    code, out, err = cli("lint", "--repo", make_repo({**MINIMAL, **FLAWED}))
    assert code == 1
    check_golden("lint.txt", out + "--- stderr ---\n" + err)


CONFIG = "project: t\nenvironments:\n  staging: {}\n  production: {}\n"
SKIP = ("--skip-eval", "--reason", "no provider in tests")


@pytest.fixture
def story(reuse, make_repo: Callable[..., Path], cli: Cli, clock: Clock) -> Path:
    """Two releases; staging and production promoted, production rolled back, greet killed there; qa untouched."""

    def build() -> Path:
        clock.set("2026-03-01T09:00:00Z")
        clock.step = timedelta(minutes=5)  # every ledger event five minutes after the step before
        config = CONFIG.replace("  staging: {}\n", "  qa: {}\n  staging: {}\n")
        root = make_repo({**MINIMAL, "promptops.yaml": config})

        def ok(*args: str) -> None:
            code, _, err = cli(*args, "--repo", root)
            assert code == 0, err

        ok("release", *SKIP)
        clock.advance(timedelta(hours=1))
        commit(root, {"prompts/shared/_tone.j2": "Be kind.\n"}, "kinder tone")
        ok("release", *SKIP)
        ok("promote", "v0.1.0", "--env", "production", "--reason", "first launch")
        ok("promote", "v0.1.1", "--env", "staging", "--reason", "try the kinder tone")
        ok("promote", "v0.1.1", "--env", "production", "--reason", "kinder tone tested on staging")
        ok("rollback", "--env", "production", "--reason", "customers found it too chatty")
        ok("kill", "greet", "--allow-error", "--env", "production", "--reason", "greet is off for the launch")
        return root

    return reuse("text-output-story", build)


def test_status_text(story: Path, cli: Cli) -> None:
    code, out, err = cli("status", "--repo", story)
    assert code == 0, err
    check_golden("status.txt", out)


def test_history_text(story: Path, cli: Cli) -> None:
    code, out, err = cli("history", "--repo", story)
    assert code == 0, err
    check_golden("history.txt", out)
    code, out, err = cli("history", "--env", "production", "--repo", story)
    assert code == 0, err
    check_golden("history-production.txt", out)
