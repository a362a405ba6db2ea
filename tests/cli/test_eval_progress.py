"""The progress bar of `promptops eval` on a terminal (a real pseudo-terminal, a real subprocess)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from eval_fixtures import SECRET, project
from provider_server import ProviderServer

pty = pytest.importorskip("pty")


def test_the_bar_counts_every_task_of_a_run_that_plans_while_calling(make_repo, tmp_path) -> None:
    """A new project's run starts before its total is known (shown as "?"); the bar then counts to the total."""
    with ProviderServer(latency=0.03) as server:
        root = make_repo(project(server.base_url, {f"c{i:03d}": f"yes c{i:03d}" for i in range(40)}))
        leader, follower = pty.openpty()
        env = {**os.environ, "PROMPTOPS_TEST_KEY": SECRET, "COLUMNS": "100", "TERM": "xterm"}
        env.pop("NO_COLOR", None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "promptops", "eval", "--repo", str(root), "-j", "2"],
            stdin=follower,
            stdout=follower,
            stderr=follower,
            env=env,
        )
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal is closed once the command exits
                break
            if not chunk:
                break
            shown += chunk
        os.close(leader)
        assert proc.wait(timeout=60) == 0
    counts = re.findall(r"(\d+)/(\d+|\?)", shown.decode(errors="replace"))
    assert ("40", "40") in counts  # the whole run, counted against the total planned
    assert all(total in ("40", "?") and int(done) <= 40 for done, total in counts)
    assert "answer" in shown.decode(errors="replace")  # the summary table follows the bar
