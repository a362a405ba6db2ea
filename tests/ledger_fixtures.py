"""Ledger commits read and written with git plumbing, shared by the replay and forgery tests."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import git

LEDGER = "refs/heads/promptops/ledger"


def write_commit(root: Path, state: object, event: dict, message: str, parent: str | None) -> str:
    """A ledger commit made by hand with git plumbing, as a forger would, moved onto the ledger ref."""

    def run(*args: str, data: bytes | None = None) -> str:
        done = subprocess.run(["git", *args], cwd=root, input=data, capture_output=True, check=True)
        return done.stdout.decode().strip()

    blobs = {
        name: run("hash-object", "-w", "--stdin", data=content)
        for name, content in (
            ("state.json", (json.dumps(state, indent=2, sort_keys=True) + "\n").encode()),
            ("event.json", (json.dumps(event, indent=2, sort_keys=True) + "\n").encode()),
        )
    }
    tree = run("mktree", data="".join(f"100644 blob {sha}\t{name}\n" for name, sha in sorted(blobs.items())).encode())
    commit = run("commit-tree", tree, *(["-p", parent] if parent else []), "-F", "-", data=message.encode())
    run("update-ref", LEDGER, commit)
    return commit


def ledger_files(root: Path, rev: str = LEDGER) -> tuple[dict, dict, str]:
    """(state, event, message) of a ledger commit."""
    return (
        json.loads(git(root, "show", f"{rev}:state.json")),
        json.loads(git(root, "show", f"{rev}:event.json")),
        git(root, "log", "-1", "--format=%B", rev) + "\n",
    )
