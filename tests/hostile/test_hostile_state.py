"""A broken cache never crashes or silently serves a run: a corrupt or foreign database is moved aside with a
warning and rebuilt, a locked one is exit 3 with what to do, a state path that is a file is exit 2."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from eval_fixtures import project
from provider_server import ProviderServer

pytestmark = pytest.mark.usefixtures("api_key")
Cli = Callable[..., tuple[int, str, str]]


def foreign(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE responses (a, b)")
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()


def future(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=99")
    db.commit()
    db.close()


BROKEN = {
    "not a database": lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000),
    "random bytes": lambda p: p.write_bytes(bytes(range(256)) * 20),
    "another program's tables": foreign,
    "an unknown schema version": future,
}


@pytest.mark.parametrize("make_broken", list(BROKEN.values()), ids=list(BROKEN))
def test_a_broken_cache_is_moved_aside_with_a_warning_and_rebuilt(
    cli: Cli, make_repo: Callable[..., Path], server: ProviderServer, make_broken: Callable[[Path], None]
) -> None:
    root = make_repo(project(server.base_url, {"a": "yes a"}))
    state = root / ".promptops"
    state.mkdir()
    make_broken(state / "promptops.sqlite")
    code, out, err = cli("eval", "--repo", root)
    assert code == 0, out + err
    assert "warning:" in err and "moved it to promptops.sqlite.broken-" in err
    assert [p.name for p in state.glob("promptops.sqlite.broken-*")]
    assert server.requests_succeeded == 1  # nothing was served from the broken file
    code, out, err = cli("eval", "--repo", root)  # the rebuilt cache works: no call, no warning
    assert code == 0 and "warning" not in err and server.requests_succeeded == 1


def test_a_state_directory_that_is_a_file_is_an_input_error(
    cli: Cli, make_repo: Callable[..., Path], server: ProviderServer
) -> None:
    root = make_repo(project(server.base_url, {"a": "yes a"}))
    (root / ".promptops").write_text("not a directory\n")
    code, out, err = cli("eval", "--repo", root)
    assert code == 2, out + err
    assert ".promptops" in err and "move the file" in err and "internal error" not in err


def test_a_database_locked_past_the_budget_is_exit_3_with_what_to_do(
    cli: Cli, make_repo: Callable[..., Path], server: ProviderServer
) -> None:
    root = make_repo(project(server.base_url, {"a": "yes a"}))
    assert cli("eval", "--repo", root)[0] == 0
    holder = sqlite3.connect(root / ".promptops" / "promptops.sqlite", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        code, out, err = cli("eval", "--repo", root, "--no-cache")
        assert code == 3, out + err
        assert "locked for more than 5 s" in err and "run again" in err
        assert time.monotonic() - started < 30
    finally:
        holder.rollback()
        holder.close()


@pytest.mark.parametrize("line", ["not json", '{"key": "k", "text": "t", "cost": NaN}', "[1, 2]", '{"text": "no key"}'])
def test_a_broken_recordings_line_stops_record_before_any_call(
    cli: Cli, make_repo: Callable[..., Path], server: ProviderServer, line: str
) -> None:
    files = project(server.base_url, {"a": "yes a", "b": "yes b"})
    files["evals/recordings/answer.jsonl"] = '{"key": "k0", "text": "fine"}\n' + line + "\n"
    root = make_repo(files)
    code, out, err = cli("eval", "--repo", root, "--record")
    assert code == 2, out + err
    assert "evals/recordings/answer.jsonl:2:" in err and "internal error" not in err
    assert server.requests_received == 0


@pytest.mark.parametrize("text", ["{not: a list}\n", "- case: a\n  verdict: maybe\n", "- [1, 2]\n", "a: [\n"])
def test_a_broken_overrides_file_stops_eval_before_any_call(
    cli: Cli, make_repo: Callable[..., Path], server: ProviderServer, text: str
) -> None:
    files = project(server.base_url, {"a": "yes a"})
    files["evals/overrides/answer.yaml"] = text
    code, out, err = cli("eval", "--repo", make_repo(files))
    assert code == 2, out + err
    assert "evals/overrides/answer.yaml:" in err and "internal error" not in err
    assert server.requests_received == 0
