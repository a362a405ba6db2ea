"""Crash safety and warm runs, with promptops in a real subprocess: kill -9 loses nothing already finished."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from eval_fixtures import SECRET, project
from provider_server import ProviderServer

PROBE = """
import json, sys
from promptops.cli import main
code = main(sys.argv[1:])
modules = {"litellm": "litellm", "aiohttp": "aiohttp", "httptools": "httptools", "provider": "promptops.providers.litellm"}
print("\\n" + json.dumps({"code": code, **{k: name in sys.modules for k, name in modules.items()}}))
"""


def env() -> dict[str, str]:
    return {**os.environ, "PROMPTOPS_TEST_KEY": SECRET}


def finished_cases(root: Path) -> set[str]:
    db = root / ".promptops" / "promptops.sqlite"
    if not db.exists():
        return set()
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return {row[0] for row in conn.execute("SELECT case_id FROM results")}
    except sqlite3.Error:
        return set()


def requests_per_case(server: ProviderServer) -> dict[str, int]:
    counts: dict[str, int] = {}
    for body in server.request_bodies:
        text = body["messages"][-1]["content"]
        case = text.split("REPLY: yes ", 1)[1].strip()
        counts[case] = counts.get(case, 0) + 1
    return counts


def test_kill_9_then_rerun_repeats_no_finished_case_and_matches_a_clean_run(make_repo, cli, api_key, tmp_path) -> None:
    """Without the response cache, so only the results store can spare the finished calls: the run resumes."""
    with ProviderServer(latency=0.03) as server:
        cases = {f"c{i:03d}": f"yes c{i:03d}" for i in range(100)}
        root = make_repo(project(server.base_url, cases))
        command = [sys.executable, "-m", "promptops", "eval", "--repo", str(root), "-j", "5", "--no-cache"]
        proc = subprocess.Popen(command, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while len(finished_cases(root)) < 20 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        done_before = finished_cases(root)
        assert 20 <= len(done_before) < 100, "the run should have been killed midway"

        report = tmp_path / "resumed.json"
        rerun = subprocess.run([*command, "-o", str(report)], env=env(), capture_output=True, text=True)
        assert rerun.returncode == 0, rerun.stderr
        counts = requests_per_case(server)
        assert all(counts[c] == 1 for c in done_before), {c: counts[c] for c in done_before if counts[c] != 1}
        assert set(counts) == set(cases)

        clean = tmp_path / "clean.json"  # in this process: only the killed run and its rerun need their own
        asked = server.requests_received
        code, _, err = cli(*command[3:], "-o", clean)
        assert code == 0, err
        assert server.requests_received == asked + 100  # a finished run is not resumed: every case is asked anew

    def essence(path: Path) -> list[tuple[str, str, str | None]]:
        data = json.loads(path.read_text())
        return sorted((r["case"], r["status"], r["output"]) for r in data["results"])

    assert essence(report) == essence(clean)
    assert len(essence(report)) == 100


def test_no_run_of_an_openai_compatible_model_imports_litellm(make_repo) -> None:
    """Cold (the native route makes the calls on promptops' own HTTP client) and warm (the cache answers): neither
    litellm nor aiohttp is ever imported, and a warm run, which sends nothing, does not import the HTTP client
    (httptools) either."""
    with ProviderServer() as server:
        root = make_repo(project(server.base_url, {f"c{i}": f"yes {i}" for i in range(10)}))
        cold = subprocess.run(
            [sys.executable, "-c", PROBE, "eval", "--repo", str(root)], env=env(), capture_output=True, text=True
        )
        assert json.loads(cold.stdout.strip().splitlines()[-1]) == {
            "code": 0,
            "litellm": False,
            "aiohttp": False,
            "httptools": True,
            "provider": True,
        }
        served = server.requests_received
        assert served == 10
        warm = subprocess.run(
            [sys.executable, "-c", PROBE, "eval", "--repo", str(root)], env=env(), capture_output=True, text=True
        )
        # Nothing to call: the live provider is not even made (nor its module, nor the HTTP client, imported).
        warm_modules = json.loads(warm.stdout.strip().splitlines()[-1])
        assert warm_modules == {"code": 0, "litellm": False, "aiohttp": False, "httptools": False, "provider": False}
        assert server.requests_received == served


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_exits_130_keeps_partial_results_and_resumes(make_repo, cli, api_key, tmp_path) -> None:
    with ProviderServer(latency=0.1) as server:
        root = make_repo(project(server.base_url, {f"c{i:03d}": f"yes c{i:03d}" for i in range(50)}))
        command = [sys.executable, "-m", "promptops", "eval", "--repo", str(root), "-j", "2"]
        proc = subprocess.Popen(
            [*command, "-o", str(tmp_path / "partial.json")],
            env=env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while len(finished_cases(root)) < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        assert "interrupted" in err
        partial = json.loads((tmp_path / "partial.json").read_text())
        assert partial["interrupted"] is True
        assert 10 <= len(partial["results"]) < 50
        (row,) = partial["suites"]  # runs are missing: incomplete, never a pass
        assert row["missing_runs"] == 50 - len(partial["results"]) and row["gate_passed"] is False
        kept = {r["case"] for r in partial["results"]}
        code, _, err = cli(*command[3:], "-j", "10")  # the resumed run, in this process
        assert code == 0, err
        counts = requests_per_case(server)
        assert all(counts[c] == 1 for c in kept)


def test_kill_9_during_batched_writes_with_no_cache_resends_no_written_case(make_repo, cli, api_key) -> None:
    """Results reach the database a batch at a time: a kill -9 loses at most the batch in flight, and the
    resumed run (with --no-cache, so only the stored results keep it from calling again) sends only the rest."""
    from promptops.evaluate.store import BATCH_SIZE

    with ProviderServer(latency=0.02) as server:
        cases = {f"c{i:03d}": f"yes c{i:03d}" for i in range(4 * BATCH_SIZE)}
        root = make_repo(project(server.base_url, cases))
        command = [sys.executable, "-m", "promptops", "eval", "--repo", str(root), "-j", "8", "--no-cache"]
        proc = subprocess.Popen(command, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while len(finished_cases(root)) < BATCH_SIZE and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        written = finished_cases(root)
        sent_before = requests_per_case(server)
        assert BATCH_SIZE <= len(written) < len(cases), "the run should have been killed midway"
        lost = set(sent_before) - written
        assert len(lost) <= BATCH_SIZE + 2 * 8, "more than the batch in flight (and the calls in flight) was lost"

        code, _, err = cli(*command[3:])
        assert code == 0, err
        counts = requests_per_case(server)
        assert all(counts[c] == 1 for c in written), {c: counts[c] for c in written if counts[c] != 1}
        assert set(counts) == set(cases)
        assert len(finished_cases(root)) == len(cases)


def test_a_finished_run_is_marked_finished_without_a_copy_of_its_report(make_repo, cli, api_key, tmp_path) -> None:
    """The results database keeps a run's results and marks it finished (a re-run does not resume it); the
    whole report, which nothing reads, is not stored again with the run (it grew the database by the size of
    every report)."""
    with ProviderServer() as server:
        root = make_repo(project(server.base_url, {f"c{i:02d}": f"yes c{i:02d}" for i in range(20)}))
        for _ in range(2):
            code, _, err = cli("eval", "--repo", root, "-o", tmp_path / "report.json")
            assert code == 0, err
    with sqlite3.connect(root / ".promptops" / "promptops.sqlite") as conn:
        runs = conn.execute("SELECT finished, report FROM runs").fetchall()
    assert len(runs) == 2
    assert all(finished and report is None for finished, report in runs)
