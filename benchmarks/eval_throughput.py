"""Throughput of `promptops eval`: N cases, C in flight, against a local OpenAI-compatible server with latency L.

The server is `tests/provider_server.ProviderServer`, run in this process; promptops runs in a subprocess of the
same interpreter (`sys.executable`), so the server's threads neither share its GIL nor count in its CPU time.
Each project is generated in a temporary directory, git-initialised and committed, with the prompts of
`tests/eval_fixtures.py`: the user message carries a `REPLY:` line, so the server answers every case with a
text its `contains` assertion accepts, and every case passes.

  1  cold: `python -m promptops eval --repo DIR -j C -o report.json` on a project with one suite of N cases and
     no `.promptops/` yet. Reported: the subprocess's wall time; the engine's wall time, from the first request
     the server received to the last answer it sent (a responder records `time.monotonic()` as it answers,
     which the server does after waiting L, so the first request arrived L before the first answer); the ideal
     ceil(N/C) x L and the ratio engine / ideal; the requests the server answered; the promptops process's
     CPU time per case (user + system, from `resource.getrusage(RUSAGE_CHILDREN)` before and after, so it
     includes any git it runs) and its peak RSS (`ru_maxrss` of the children: a high-water mark over every
     child this benchmark has waited for, taken after the cold run, the first Python child).
  2  warm: the same command again on the same project, through a probe (`python -c` that calls
     `promptops.cli.main` and then prints whether `litellm` is in `sys.modules`): wall time, requests answered,
     whether litellm was imported. The response cache answers every case, so no call should be made and the
     litellm import (seconds) should never happen.
  3  --changed-since: a project of P prompts (default 200), each with a one-case suite, committed; one prompt is
     edited in the working tree, then `eval --changed-since HEAD` runs with no `.promptops/` yet (a cold
     cache, so only the suite selection can keep the other P - 1 cases from being called): requests answered
     and wall time.

Targets (printed with PASS or FAIL; they never change the exit status): engine / ideal <= 1.5x, warm wall time
< 2 s, warm requests 0, warm run does not import litellm, --changed-since requests 1.

A benchmark prints figures; it does not assert. Exit status 0 unless a promptops command fails (a non-zero exit,
its stderr is printed), then 1.

Usage: python benchmarks/eval_throughput.py [-n 1000] [-c 50] [-l 0.1] [--prompts 200] [--profile FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from eval_fixtures import ANSWER_PROMPT, SECRET, project, routing_for  # noqa: E402
from provider_server import ProviderServer, collector_paused, default_answer  # noqa: E402

KEY_ENV = "PROMPTOPS_TEST_KEY"
EDITED_PROMPT = 42  # the prompt edited in the --changed-since project (modulo --prompts)
PROBE = """
import json, sys
from promptops.cli import main
code = main(sys.argv[1:])
print("\\n" + json.dumps({"code": code, "litellm": "litellm" in sys.modules}), flush=True)
sys.exit(code)
"""
WARM_TARGET_S = 2.0
RATIO_TARGET = 1.5


class CommandFailed(Exception):
    """A promptops (or git) command exited non-zero."""


# ---------------------------------------------------------------------- the server's clock


class Timeline:
    """A responder that answers like the server's default rules and records when it answered each request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._times: list[float] = []

    def __call__(self, messages: list[dict[str, Any]], request: dict[str, Any]) -> str:
        now = time.monotonic()
        with self._lock:
            self._times.append(now)
        return str(default_answer(request))

    def clear(self) -> None:
        with self._lock:
            self._times.clear()

    def span(self, latency: float) -> float | None:
        """Seconds from the first request received (its answer time minus the latency) to the last answer."""
        with self._lock:
            if not self._times:
                return None
            return max(self._times) - (min(self._times) - latency)


# ---------------------------------------------------------------------- projects and commands


def _env() -> dict[str, str]:
    """A stable environment: the API key set, git sealed from the user's configuration, no colour."""
    env = dict(os.environ)
    for key in list(env):
        if key.startswith("GIT_"):
            del env[key]
    env.update(
        {
            KEY_ENV: SECRET,
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "Bench Mark",
            "GIT_AUTHOR_EMAIL": "bench@example.invalid",
            "GIT_COMMITTER_NAME": "Bench Mark",
            "GIT_COMMITTER_EMAIL": "bench@example.invalid",
            "NO_COLOR": "1",
            "COLUMNS": "120",
            "TERM": "dumb",
        }
    )
    env.pop("PROMPTOPS_DEBUG", None)
    return env


def _git(root: Path, *args: str) -> None:
    done = subprocess.run(["git", *args], cwd=root, env=_env(), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise CommandFailed(f"git {' '.join(args)} failed in {root}:\n{done.stderr}")


def _write(root: Path, files: Mapping[str, str | bytes | None]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif content is not None:
            path.write_text(content, encoding="utf-8")


def make_repo(root: Path, files: Mapping[str, str | bytes | None]) -> Path:
    """Write `files` under `root`, then git init and commit them."""
    root.mkdir(parents=True)
    _write(root, {**files, ".gitignore": ".promptops/\n"})
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "--no-gpg-sign", "-m", "benchmark project")
    return root


def many_prompts(base_url: str, count: int) -> dict[str, str | bytes | None]:
    """`count` prompts p000..., each with its own one-case suite."""
    files: dict[str, str | bytes | None] = {
        "promptops.yaml": "project: evalbench\n",
        "routing.yaml": routing_for(base_url),
    }
    for i in range(count):
        pid = f"p{i:03d}"
        files[f"prompts/{pid}.prompt"] = ANSWER_PROMPT
        files[f"evals/{pid}.yaml"] = (
            f"prompt: {pid}\nthreshold: 1.0\ncases:\n"
            f"  - id: only\n    vars: {{answer: 'yes {pid}'}}\n    assert:\n      - {{type: contains, value: yes}}\n"
        )
    return files


@dataclass
class Run:
    """One promptops subprocess: exit code, wall seconds, CPU seconds (user + system), peak RSS of children."""

    code: int
    wall: float
    cpu: float
    maxrss_mb: float
    stdout: str
    stderr: str


def _maxrss_mb(usage: resource.struct_rusage) -> float:
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return usage.ru_maxrss / scale


def run_promptops(args: Sequence[str], *, probe: bool = False, profile: Path | None = None) -> Run:
    """Run `promptops ARGS` in a subprocess (through the probe, or under cProfile) and measure it."""
    if probe:
        command = [sys.executable, "-c", PROBE, *args]
    elif profile is not None:
        command = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "promptops", *args]
    else:
        command = [sys.executable, "-m", "promptops", *args]
    with collector_paused():  # this process serves the run: no pause of its own delays an answer
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        done = subprocess.run(command, env=_env(), cwd=ROOT, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise CommandFailed(f"promptops {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return Run(done.returncode, wall, cpu, _maxrss_mb(after), done.stdout, done.stderr)


def _probe_result(stdout: str) -> dict[str, Any]:
    lines = stdout.strip().splitlines()
    if not lines:
        raise CommandFailed("the probe printed nothing")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _report_counts(path: Path) -> tuple[int, int, int]:
    """(results, passed, suites) of a JSON report."""
    data = json.loads(path.read_text(encoding="utf-8"))
    results = data.get("results", [])
    return len(results), sum(1 for r in results if r.get("status") == "pass"), len(data.get("suites", []))


# ---------------------------------------------------------------------- the three scenarios


@dataclass
class Figures:
    n: int
    c: int
    latency: float
    prompts: int
    cold: Run | None = None
    cold_engine: float | None = None
    cold_served: int = 0
    cold_report: tuple[int, int, int] = (0, 0, 0)
    warm: Run | None = None
    warm_served: int = 0
    warm_litellm: bool | None = None
    changed: Run | None = None
    changed_served: int = 0
    changed_report: tuple[int, int, int] = (0, 0, 0)

    @property
    def ideal(self) -> float:
        return math.ceil(self.n / self.c) * self.latency


def measure(args: argparse.Namespace, tmp: Path) -> Figures:
    fig = Figures(n=args.n, c=args.c, latency=args.latency, prompts=args.prompts)
    timeline = Timeline()
    with ProviderServer(latency=args.latency, responder=timeline, precise=True) as server:
        cases = {f"c{i:05d}": f"yes c{i:05d}" for i in range(args.n)}
        repo = make_repo(tmp / "suite", project(server.base_url, cases))
        eval_args = ["eval", "--repo", str(repo), "-j", str(args.c), "-o", str(tmp / "report.json")]

        server.reset()
        timeline.clear()
        fig.cold = run_promptops(eval_args, profile=args.profile)
        fig.cold_served = server.requests_received
        fig.cold_engine = timeline.span(args.latency)
        fig.cold_report = _report_counts(tmp / "report.json")

        server.reset()
        fig.warm = run_promptops(eval_args, probe=True)
        fig.warm_served = server.requests_received
        fig.warm_litellm = bool(_probe_result(fig.warm.stdout).get("litellm"))

        many = make_repo(tmp / "many", many_prompts(server.base_url, args.prompts))
        edited = many / "prompts" / f"p{EDITED_PROMPT % args.prompts:03d}.prompt"
        edited.write_text(ANSWER_PROMPT.replace("You answer briefly.", "You answer briefly and kindly."), "utf-8")
        server.reset()
        changed_args = ["eval", "--repo", str(many), "-j", str(args.c), "--changed-since", "HEAD"]
        fig.changed = run_promptops([*changed_args, "-o", str(tmp / "changed.json")])
        fig.changed_served = server.requests_received
        fig.changed_report = _report_counts(tmp / "changed.json")
    return fig


# ---------------------------------------------------------------------- output


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def print_figures(fig: Figures, profiled: bool) -> None:
    assert fig.cold is not None and fig.warm is not None and fig.changed is not None
    engine = fig.cold_engine
    ratio = engine / fig.ideal if engine is not None else math.inf
    rows: list[tuple[str, str, str, str]] = [
        ("cold: wall time of the command", f"{fig.cold.wall:.2f} s", "", ""),
        ("cold: engine, first request to last answer", f"{engine or 0:.2f} s", "", ""),
        ("cold: ideal ceil(N/C) x L", f"{fig.ideal:.2f} s", "", ""),
        ("cold: engine / ideal", f"{ratio:.2f}x", f"<= {RATIO_TARGET:g}x", _verdict(ratio <= RATIO_TARGET)),
        ("cold: requests served", str(fig.cold_served), f"{fig.n}", _verdict(fig.cold_served == fig.n)),
        ("cold: results passed (report.json)", f"{fig.cold_report[1]}/{fig.cold_report[0]}", "", ""),
        ("cold: CPU per case (promptops process)", f"{fig.cold.cpu / fig.n * 1000:.2f} ms", "", ""),
        ("cold: CPU in all (promptops process)", f"{fig.cold.cpu:.2f} s", "", ""),
        ("cold: peak RSS (promptops process)", f"{fig.cold.maxrss_mb:.0f} MB", "", ""),
        (
            "warm: wall time of the command",
            f"{fig.warm.wall:.2f} s",
            f"< {WARM_TARGET_S:g} s",
            _verdict(fig.warm.wall < WARM_TARGET_S),
        ),
        ("warm: requests served", str(fig.warm_served), "0", _verdict(fig.warm_served == 0)),
        ("warm: litellm imported", "yes" if fig.warm_litellm else "no", "no", _verdict(not fig.warm_litellm)),
        ("warm: CPU (promptops process)", f"{fig.warm.cpu:.2f} s", "", ""),
        ("changed-since: wall time of the command", f"{fig.changed.wall:.2f} s", "", ""),
        ("changed-since: requests served", str(fig.changed_served), "1", _verdict(fig.changed_served == 1)),
        ("changed-since: suites run (changed.json)", str(fig.changed_report[2]), "", ""),
        ("changed-since: CPU (promptops process)", f"{fig.changed.cpu:.2f} s", "", ""),
    ]
    width = max(len(r[0]) for r in rows)
    header = f"{'measure':{width}}  {'value':>10}  {'target':>9}  result"
    print(header)
    print("-" * len(header))
    for label, value, target, verdict in rows:
        print(f"{label:{width}}  {value:>10}  {target:>9}  {verdict}".rstrip())
    if profiled:
        print("\n(the cold run ran under cProfile: its wall, engine and CPU figures include the profiler's overhead)")


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-n", type=int, default=1000, help="cases in the cold and warm runs (default 1000)")
    parser.add_argument("-c", type=int, default=50, help="calls in flight, promptops -j (default 50)")
    parser.add_argument("-l", "--latency", type=float, default=0.1, help="server latency in seconds (default 0.1)")
    parser.add_argument("--prompts", type=int, default=200, help="prompts in the --changed-since project (200)")
    parser.add_argument("--profile", type=Path, help="run the cold eval under cProfile, writing its stats here")
    args = parser.parse_args(argv)
    if args.n < 1 or args.c < 1 or args.prompts < 1 or args.latency < 0:
        parser.error("-n, -c and --prompts must be >= 1 and --latency >= 0")
    if args.profile is not None:
        args.profile = args.profile.resolve()

    print(f"promptops eval throughput benchmark, {dt.date.today().isoformat()}")
    print(
        f"Python {platform.python_version()} ({platform.python_implementation()}) on {platform.system()} "
        f"{platform.machine()}, {os.cpu_count()} CPU(s)"
    )
    print(", ".join(f"{d} {_version(d)}" for d in ("promptops", "litellm", "httptools")))
    print(
        f"N={args.n} cases, C={args.c} in flight (-j), L={args.latency:g} s server latency; "
        f"--changed-since project: {args.prompts} prompts, one edited\n"
    )
    with tempfile.TemporaryDirectory(prefix="promptops-evalbench-") as tmp:
        try:
            figures = measure(args, Path(tmp))
        except CommandFailed as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    print_figures(figures, profiled=args.profile is not None)
    print(
        "\nengine: the server's clock, from the first request received to the last answer sent. CPU and peak RSS:"
        "\nresource.getrusage(RUSAGE_CHILDREN) around the promptops subprocess (peak RSS: the high-water mark of"
        "\nthe children, after the cold run). served: requests the test server received during that command."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
