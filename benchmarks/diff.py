"""Benchmark of `promptops diff` on a large generated repository.

Generates a git repository with 1,000 prompts and 10 partials (prompt i includes partial i % 10, so each
partial reaches 100 prompts; every prompt has a one-case eval suite), commits it, then measures the wall
and CPU time of `python -m promptops diff HEAD --format json` (a fresh subprocess of this interpreter,
against the working tree) for these changes, each made in the working tree and undone afterwards:

  no change                   the floor: start-up, git, listing the project
  one changed prompt          target <= 0.4 s (the performance issue's goal)
  one changed partial         reaches 100 prompts; target <= 0.8 s
  routing: one route's model  a glob route serving 100 prompts swaps its model
  routing: default model      every prompt is re-routed (1,000 prompts compared)

Each is run once unmeasured, then --runs times (default 5); the table gives the median and the minimum wall
time, the median CPU time (user + system of the command and the git it starts: steadier than wall time on a
busy machine), and PASS/FAIL against the target on the median wall time. Every run's JSON is checked (the
number of prompts the diff reports), so a fast wrong answer cannot pass.

A benchmark prints figures; it does not assert. Exit status 0 whatever the figures; 1 when a run fails or
reports the wrong number of prompts.

Usage: python benchmarks/diff.py [--runs N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PROMPTS = 1_000
PARTIALS = 10
ENV = {
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.test",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.test",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00+00:00",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00+00:00",
    "GIT_CONFIG_NOSYSTEM": "1",
    "NO_COLOR": "1",
}
ROUTING = """\
defaults:
  model: fast
  params: {temperature: 0}
models:
  fast: {model: openai/gpt-4o-mini, api_key_env: OPENAI_API_KEY}
  smart: {model: openai/gpt-4o, api_key_env: OPENAI_API_KEY}
routes:
  "team3/*": {model: fast, fallbacks: [smart]}
judge: smart
"""


def prompt_file(i: int) -> str:
    return (
        f"---\ndescription: Answers question {i} for team {i % PARTIALS}.\nowner: '@team{i % PARTIALS}'\n"
        f"risk: {'high' if i % 50 == 0 else 'low'}\ninputs:\n  customer: {{type: string}}\n"
        f"  question: {{type: string, minLength: 1}}\n---\n"
        f'system:\n{{% include "shared/_rules{i % PARTIALS}.j2" %}}\nYou are assistant number {i}.\n'
        "user:\nCustomer {{ customer }} asks: {{ question }}\n"
    )


def suite_file(i: int) -> str:
    return (
        f"prompt: team{i % PARTIALS}/p{i:04d}\nthreshold: 0.9\ncases:\n"
        "  - id: basic\n    vars: {customer: Ada, question: 'Where is my order?'}\n"
        "    assert:\n      - {type: icontains, value: order}\n"
    )


def generate(root: Path) -> None:
    files = {"promptops.yaml": "project: bench\n", "routing.yaml": ROUTING}
    for j in range(PARTIALS):
        files[f"prompts/shared/_rules{j}.j2"] = f"Rules of team {j}: be accurate, be brief, be kind.\n"
    for i in range(PROMPTS):
        files[f"prompts/team{i % PARTIALS}/p{i:04d}.prompt"] = prompt_file(i)
        files[f"evals/team{i % PARTIALS}/p{i:04d}.yaml"] = suite_file(i)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "generated")


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, env={**os.environ, **ENV}, check=True, capture_output=True)


def replace_in(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, (rel, old)
    path.write_text(text.replace(old, new), encoding="utf-8")


@dataclass
class Case:
    label: str
    change: Callable[[Path], None]
    prompts: int  # how many prompts the diff must report
    target: float | None
    times: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)


CASES = [
    Case("no change", lambda root: None, 0, None),
    Case(
        "one changed prompt",
        lambda root: replace_in(root, "prompts/team7/p0417.prompt", "assistant number 417", "assistant no. 417"),
        1,
        0.4,
    ),
    Case(
        "one changed partial (100 prompts)",
        lambda root: replace_in(root, "prompts/shared/_rules3.j2", "be kind", "be kind and precise"),
        100,
        0.8,
    ),
    Case(
        "routing: one route's model (100)",
        lambda root: replace_in(root, "routing.yaml", '"team3/*": {model: fast', '"team3/*": {model: smart'),
        100,
        None,
    ),
    Case(
        "routing: default model (1,000)",
        lambda root: replace_in(root, "routing.yaml", "  model: fast\n  params", "  model: smart\n  params"),
        900,  # team3/* keeps its own route
        None,
    ),
]


def measure(root: Path, case: Case, runs: int) -> str | None:
    """Run the case; returns an error message, or None."""
    case.change(root)
    try:
        argv = [sys.executable, "-m", "promptops", "diff", "HEAD", "--format", "json", "--repo", str(root)]
        for n in range(runs + 1):
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            done = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **ENV}, check=False)
            elapsed = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if done.returncode != 0:
                return f"exit {done.returncode}: {done.stderr.strip()}"
            reported = len(json.loads(done.stdout)["prompts"])
            if reported != case.prompts:
                return f"reported {reported} prompts, expected {case.prompts}"
            if n:  # the first run warms the caches
                case.times.append(elapsed)
                case.cpus.append(after.ru_utime - usage.ru_utime + after.ru_stime - usage.ru_stime)
    finally:
        git(root, "checkout", "-q", "--", ".")
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="measured runs per change (default 5)")
    parser.add_argument("--keep", type=Path, help="generate the repository here and keep it")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="promptops-diff-bench-"))
    root = base / "repo"
    try:
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        started = time.perf_counter()
        generate(root)
        made = time.perf_counter() - started
        print(f"promptops diff benchmark, {dt.date.today().isoformat()}")
        print(
            f"Python {platform.python_version()} ({platform.python_implementation()}) on {platform.system()} "
            f"{platform.machine()}, {os.cpu_count()} CPU(s)"
        )
        print(
            f"Repository: {PROMPTS:,} prompts, {PARTIALS} partials, {PROMPTS:,} one-case suites "
            f"(generated and committed in {made:.1f} s)"
        )
        print(
            f"Command: python -m promptops diff HEAD --format json (working tree); {args.runs} measured runs "
            "after 1 warm-up\n"
        )
        failed = False
        rows = []
        for case in CASES:
            error = measure(root, case, args.runs)
            if error:
                failed = True
                rows.append((case.label, "-", "-", "-", "-", f"ERROR: {error}"))
                continue
            median, best, cpu = statistics.median(case.times), min(case.times), statistics.median(case.cpus)
            target = f"<= {case.target:g} s" if case.target else "-"
            verdict = ("PASS" if median <= case.target else "FAIL") if case.target else ""
            rows.append((case.label, f"{median:.3f}", f"{best:.3f}", f"{cpu:.3f}", target, verdict))
        header = ("change", "median s", "min s", "CPU s", "target", "")
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(6)]
        for row in [header, tuple("-" * w for w in widths), *rows]:
            cells = [
                cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            ]
            print("  ".join(cells))
        return 1 if failed else 0
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
