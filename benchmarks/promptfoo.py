"""promptops against promptfoo, side by side on the same loopback server, in the same run.

Both tools evaluate the same cases: one prompt (a system line and a `REPLY: {{ answer }}` user line), N cases each
with a `contains: yes` assertion, answered by `tests/provider_server.py` on 127.0.0.1 (run in this process) with
latency L, C requests in flight (`-j C` for both). The server answers each case with the text after `REPLY:`, so
every case passes in both tools; a run where one does not is reported as failed.

Rows (the issue's comparison; each row runs the two tools in turn, `--runs` times, and shows the medians):
  eval N=200, L=100 ms, C=32, cold     promptops: no `.promptops/`;   promptfoo: `--no-cache`
  eval N=2,000, L=50 ms, C=64, cold    the same
  eval N=2,000, warm re-run            both with their cache filled by one earlier run (0 requests expected)
  --help                               `promptops --help` and `promptfoo --help`

promptfoo is not a dependency of promptops and is not installed by the project. Install it once, anywhere:

    npm install --prefix /tmp/pf promptfoo@0.121.11     # then: --promptfoo /tmp/pf/node_modules/.bin/promptfoo

promptfoo runs with telemetry, update checks and sharing off, its home (`~/.promptfoo`: cache and database) in a
temporary directory, and `--no-write --no-table -o out.json`. A benchmark prints figures; it does not assert.
Exit status 0, or 2 when promptfoo is not found.

Usage: python benchmarks/promptfoo.py --promptfoo PATH [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT / "tests")]

import eval_throughput as ev  # noqa: E402
from eval_fixtures import project  # noqa: E402
from provider_server import ProviderServer, collector_paused  # noqa: E402

COLD = ((200, 0.1, 32), (2000, 0.05, 64))
WARM = (2000, 0.05, 64)
PROMPTFOO_ENV = {
    "PROMPTFOO_DISABLE_TELEMETRY": "1",
    "PROMPTFOO_DISABLE_UPDATE": "1",
    "PROMPTFOO_DISABLE_SHARING": "1",
    "PROMPTFOO_DISABLE_REDTEAM_REMOTE_GENERATION": "1",
    "NO_COLOR": "1",
}


@dataclass
class Timed:
    wall: float
    cpu: float
    requests: int


def _timed(argv: Sequence[str], cwd: Path, env: dict[str, str], server: ProviderServer) -> Timed:
    served = server.requests_received
    with collector_paused():  # this process serves the run: no pause of its own delays an answer
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:3])} exited {done.returncode}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return Timed(wall, cpu, server.requests_received - served)


def promptfoo_config(base_url: str, n: int) -> str:
    """The promptfoo twin of `eval_fixtures.project(...)` with N cases."""
    lines = [
        "description: bench",
        "prompts:",
        "  - id: answer",
        "    raw: |",
        '      [{"role": "system", "content": "You answer briefly."},'
        ' {"role": "user", "content": "REPLY: {{ answer }}"}]',
        "providers:",
        "  - id: openai:chat:test-model",
        "    config:",
        f"      apiBaseUrl: {base_url}",
        "      apiKey: sk-bench-not-a-key",
        "      temperature: 0",
        "tests:",
    ]
    for i in range(n):
        lines += [f"  - vars: {{answer: 'yes c{i:05d}'}}", "    assert:", "      - {type: contains, value: 'yes'}"]
    return "\n".join(lines) + "\n"


class Tools:
    """Runs either tool on the same cases; each scenario gets fresh directories (a cold cache)."""

    def __init__(self, promptfoo: str, tmp: Path, server: ProviderServer) -> None:
        self.promptfoo, self.tmp, self.server = promptfoo, tmp, server
        self.count = 0

    def fresh_promptops(self, n: int) -> Path:
        self.count += 1
        cases = {f"c{i:05d}": f"yes c{i:05d}" for i in range(n)}
        return ev.make_repo(self.tmp / f"po-{self.count}", project(self.server.base_url, cases))

    def fresh_promptfoo(self, n: int) -> tuple[Path, dict[str, str]]:
        self.count += 1
        root = self.tmp / f"pf-{self.count}"
        (root / "home").mkdir(parents=True)
        (root / "promptfooconfig.yaml").write_text(promptfoo_config(self.server.base_url, n), encoding="utf-8")
        env = {**os.environ, **PROMPTFOO_ENV, "HOME": str(root / "home")}
        return root, env

    def promptops_eval(self, root: Path, concurrency: int) -> Timed:
        argv = [sys.executable, "-m", "promptops", "eval", "--repo", str(root), "-j", str(concurrency)]
        return _timed([*argv, "-o", str(root / "report.json")], ROOT, ev._env(), self.server)

    def promptfoo_eval(self, root: Path, env: dict[str, str], concurrency: int, *, cache: bool) -> Timed:
        argv = [self.promptfoo, "eval", "-c", "promptfooconfig.yaml", "-j", str(concurrency)]
        argv += ["--no-table", "--no-write", "--no-progress-bar", "-o", "out.json"]
        timed = _timed([*argv] + ([] if cache else ["--no-cache"]), root, env, self.server)
        stats = json.loads((root / "out.json").read_text(encoding="utf-8"))["results"]["stats"]
        if stats.get("failures") or stats.get("errors"):
            raise SystemExit(f"promptfoo did not pass every case: {stats}")
        return timed


def _median(timings: list[Timed]) -> Timed:
    return Timed(
        statistics.median(t.wall for t in timings),
        statistics.median(t.cpu for t in timings),
        max(t.requests for t in timings),
    )


def _row(label: str, ours: list[Timed], theirs: list[Timed], goal: float | None) -> list[str]:
    a, b = _median(ours), _median(theirs)
    ratio = a.wall / b.wall
    verdict = "-" if goal is None else ("PASS" if ratio <= goal else "FAIL")
    return [
        label,
        f"{a.wall:.2f} s ({a.cpu:.1f} s CPU, {a.requests} req)",
        f"{b.wall:.2f} s ({b.cpu:.1f} s CPU, {b.requests} req)",
        f"{ratio:.2f}x",
        "-" if goal is None else f"<= {goal}x",
        verdict,
    ]


def measure(tools: Tools, runs: int) -> list[list[str]]:
    rows = []
    goals = {200: 0.4, 2000: 0.2}
    for n, latency, concurrency in COLD:
        tools.server.configure(latency=latency)
        ours, theirs = [], []
        for _ in range(runs):  # interleaved, so a change in the machine's load hits both alike
            ours.append(tools.promptops_eval(tools.fresh_promptops(n), concurrency))
            root, env = tools.fresh_promptfoo(n)
            theirs.append(tools.promptfoo_eval(root, env, concurrency, cache=False))
        rows.append(_row(f"eval N={n:,}, L={latency * 1000:.0f} ms, C={concurrency}, cold", ours, theirs, goals[n]))
    n, latency, concurrency = WARM
    tools.server.configure(latency=latency)
    ours_root = tools.fresh_promptops(n)
    tools.promptops_eval(ours_root, concurrency)
    theirs_root, env = tools.fresh_promptfoo(n)
    tools.promptfoo_eval(theirs_root, env, concurrency, cache=True)
    ours = [tools.promptops_eval(ours_root, concurrency) for _ in range(runs)]
    theirs = [tools.promptfoo_eval(theirs_root, env, concurrency, cache=True) for _ in range(runs)]
    rows.append(_row(f"eval N={n:,}, warm re-run", ours, theirs, None))
    helps = ([], [])
    for _ in range(runs):
        helps[0].append(_timed([sys.executable, "-m", "promptops", "--help"], ROOT, ev._env(), tools.server))
        root, env = tools.fresh_promptfoo(1)
        helps[1].append(_timed([tools.promptfoo, "--help"], root, env, tools.server))
    rows.append(_row("--help", helps[0], helps[1], None))
    return rows


def _promptfoo_version(binary: str) -> str:
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, **PROMPTFOO_ENV, "HOME": home}
        done = subprocess.run([binary, "--version"], capture_output=True, text=True, env=env, check=False)
    return done.stdout.strip() or "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--promptfoo", default=os.environ.get("PROMPTFOO_BIN") or shutil.which("promptfoo"))
    parser.add_argument("--runs", type=int, default=3, help="runs of each tool per row (median shown)")
    args = parser.parse_args(argv)
    if not args.promptfoo or not Path(args.promptfoo).exists():
        print("promptfoo not found: install it (see this script's docstring) and pass --promptfoo PATH")
        return 2
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed tool has its bytecode compiled
    print(
        f"promptops against promptfoo {_promptfoo_version(args.promptfoo)}, Python {platform.python_version()} "
        f"on {platform.system()} {platform.machine()}, {os.cpu_count()} CPU(s), "
        f"load average {os.getloadavg()[0]:.1f}; medians of {args.runs}\n"
    )
    with tempfile.TemporaryDirectory(prefix="promptops-vs-promptfoo-") as name, ProviderServer(precise=True) as server:
        rows = measure(Tools(args.promptfoo, Path(name), server), args.runs)
    header = ["scenario", "promptops", "promptfoo", "ratio (wall)", "goal", "result"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for line in [header, ["-" * w for w in widths], *rows]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
