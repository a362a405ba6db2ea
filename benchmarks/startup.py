"""Start-up benchmark for the promptops CLI.

Runs each command N times (default 15) as a fresh subprocess of the same interpreter (`sys.executable`), after one
unmeasured warm-up run each, and prints the median and minimum wall time. The commands are measured round-robin (one
run of each, then the next round) so that drift in the machine's load is spread over all of them alike.

promptops is run as `python -m promptops ...`, not through the `promptops` console script, so the figures leave out
the shim's own cost (finding the entry point, a few ms on most machines) and compare like with like against the bare
typer app, which is also a plain `python script.py` run.

Then it prints the ratios of `--help`, `render` and `lint` to the bare typer app against their targets, and which
heavy third-party modules (litellm, git, jsonschema, jinja2, detect_secrets, requests, rich) each command imports,
found with `python -X importtime`.

A benchmark prints figures; it does not assert. The exit status is 0 unless one of the commands itself fails (then 1,
with its stderr). `promptops lint` exiting 1 (the project has lint errors) is a result, not a failure.

Usage: python benchmarks/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = Path("examples") / "support-bot"
EXAMPLE_PROMPT = "support/refund_answer"
HEAVY_MODULES = ("litellm", "git", "jsonschema", "jinja2", "detect_secrets", "requests", "rich")

BARE_TYPER_APP = textwrap.dedent(
    '''\
    import typer

    app = typer.Typer(add_completion=False)


    @app.command()
    def hello(name: str = typer.Argument("world", help="Who to greet.")) -> None:
        """Say hello to NAME."""
        typer.echo(f"hello {name}")


    if __name__ == "__main__":
        app()
    '''
)


class CommandFailed(Exception):
    def __init__(self, argv: Sequence[str], result: subprocess.CompletedProcess[str]) -> None:
        super().__init__(f"{' '.join(argv)} exited {result.returncode}")
        self.argv = list(argv)
        self.result = result


@dataclass
class Bench:
    label: str
    argv: list[str]
    ok_codes: tuple[int, ...] = (0,)
    times: list[float] = field(default_factory=list)
    last_code: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def best(self) -> float:
        return min(self.times)


def _env() -> dict[str, str]:
    """A stable environment: no colour, fixed width, no user site surprises from the terminal."""
    env = dict(os.environ)
    env.update({"NO_COLOR": "1", "COLUMNS": "100", "TERM": "dumb", "PYTHONIOENCODING": "utf-8"})
    env.pop("PROMPTOPS_DEBUG", None)
    return env


def _run(argv: Sequence[str], ok_codes: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(argv),
        cwd=ROOT,
        env=_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        check=False,
    )
    if result.returncode not in ok_codes:
        raise CommandFailed(argv, result)
    return result


def _timed(bench: Bench) -> float:
    start = time.perf_counter()
    result = _run(bench.argv, bench.ok_codes)
    elapsed = time.perf_counter() - start
    bench.last_code = result.returncode
    return elapsed


def _promptops(*args: str) -> list[str]:
    return [sys.executable, "-m", "promptops", *args]


def _first_case_id(suite_file: Path) -> str | None:
    """The id of the first case of an eval suite file, or None."""
    try:
        data = yaml.safe_load(suite_file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    if not isinstance(data, dict):
        return None
    for case in data.get("cases") or []:
        if isinstance(case, dict) and isinstance(case.get("id"), str):
            return str(case["id"])
    return None


def _render_args(project: Path, prompt_id: str, suite_id: str | None, case_id: str | None) -> list[str]:
    args = ["render", prompt_id, "--repo", str(project)]
    if suite_id and case_id:
        args += ["--case", f"{suite_id}:{case_id}"]
    return args


def _scratch_project(tmp: Path) -> tuple[Path, list[str]]:
    """`promptops init` a temporary project and pick the render of its first prompt (with its first eval case)."""
    project = tmp / "project"
    _run(_promptops("init", str(project)))
    listing = json.loads(_run(_promptops("list", "--format", "json", "--repo", str(project))).stdout)
    prompts = listing.get("prompts") or []
    if not prompts:
        raise SystemExit(f"`promptops init` created no prompt in {project}")
    first = prompts[0]
    prompt_id = str(first["id"])
    for suite_id in first.get("suites") or []:
        case_id = _first_case_id(project / "evals" / f"{suite_id}.yaml")
        if case_id:
            return project, _render_args(project, prompt_id, str(suite_id), case_id)
    return project, _render_args(project, prompt_id, None, None)


def _choose_project(tmp: Path) -> tuple[Path, list[str], str]:
    """The project to render and lint: examples/support-bot, or a scratch `promptops init` project without it."""
    suite_file = ROOT / EXAMPLE / "evals" / f"{EXAMPLE_PROMPT}.yaml"
    case_id = _first_case_id(suite_file)
    if (ROOT / EXAMPLE / "promptops.yaml").is_file() and case_id:
        return EXAMPLE, _render_args(EXAMPLE, EXAMPLE_PROMPT, EXAMPLE_PROMPT, case_id), f"{EXAMPLE.as_posix()}"
    project, render = _scratch_project(tmp)
    return project, render, f"a scratch `promptops init` project ({EXAMPLE.as_posix()} not found or has no eval case)"


def _display(argv: Sequence[str], tmp: Path) -> str:
    shown = ["python" if a == sys.executable else a for a in argv]
    return " ".join(a.replace(str(tmp), "$TMP") for a in shown)


def _imports(argv: Sequence[str], ok_codes: tuple[int, ...]) -> tuple[dict[str, float], int]:
    """Heavy modules `argv` imports (with their cumulative import time in ms) and how many modules it imports."""
    python, *rest = argv
    result = _run([python, "-X", "importtime", *rest], ok_codes)
    heavy: dict[str, float] = {}
    count = 0
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        parts = line.split("|")
        if len(parts) != 3:
            continue
        count += 1
        name = parts[2].strip()
        top = name.split(".", 1)[0]
        if top in HEAVY_MODULES and top not in heavy:
            heavy[top] = 0.0
        if name in HEAVY_MODULES:
            heavy[name] = int(parts[1].strip()) / 1000
    return heavy, count


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure the start-up time of the promptops CLI.")
    parser.add_argument("--runs", type=int, default=15, help="measured runs per command (default 15)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    tmp = Path(tempfile.mkdtemp(prefix="promptops-bench-"))
    try:
        return _bench(args.runs, tmp)
    except CommandFailed as exc:
        sys.stdout.flush()
        sys.stderr.write(f"benchmark command failed: {_display(exc.argv, tmp)} (exit {exc.result.returncode})\n")
        sys.stderr.write(exc.result.stderr or exc.result.stdout)
        sys.stderr.write("\n")
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _bench(runs: int, tmp: Path) -> int:
    script = tmp / "bare_typer_app.py"
    script.write_text(BARE_TYPER_APP, encoding="utf-8")
    project, render_args, project_note = _choose_project(tmp)

    benches = [
        Bench("python -c pass", [sys.executable, "-c", "pass"]),
        Bench("bare typer app --help", [sys.executable, str(script), "--help"]),
        Bench("promptops --version", _promptops("--version")),
        Bench("promptops --help", _promptops("--help")),
        Bench("promptops render", _promptops(*render_args)),
        # Exit 1 means "lint found errors": still a complete run of the command.
        Bench("promptops lint", _promptops("lint", str(project)), ok_codes=(0, 1)),
    ]
    by_label = {b.label: b for b in benches}

    cpus = os.cpu_count() or 0
    print(f"promptops start-up benchmark, {dt.date.today().isoformat()}")
    print(
        f"Python {platform.python_version()} ({platform.python_implementation()}) on {platform.system()} "
        f"{platform.machine()}, {cpus} CPU(s)"
    )
    print(
        f"promptops {_version('promptops')}, typer {_version('typer')}, click {_version('click')}, "
        f"rich {_version('rich')}"
    )
    print(f"Project rendered and linted: {project_note}")
    print(f"{runs} measured runs per command after 1 warm-up, round-robin; wall time of a fresh subprocess.")
    print("promptops runs as `python -m promptops` (the console-script shim is not measured).")
    print()

    for bench in benches:  # warm-up: bytecode caches, file system caches
        _timed(bench)
    for _ in range(runs):
        for bench in benches:
            bench.times.append(_timed(bench))

    width = max(len(b.label) for b in benches)
    print(f"{'command':<{width}}  {'median ms':>10}  {'min ms':>8}  {'runs':>4}")
    print(f"{'-' * width}  {'-' * 10}  {'-' * 8}  {'-' * 4}")
    for bench in benches:
        print(f"{bench.label:<{width}}  {bench.median * 1000:>10.1f}  {bench.best * 1000:>8.1f}  {len(bench.times):>4}")
    print()
    print("Commands:")
    for bench in benches:
        print(f"  {bench.label:<{width}}  {_display(bench.argv, tmp)}")
    lint = by_label["promptops lint"]
    if lint.last_code:
        print(f"  (promptops lint exited {lint.last_code}: the project has lint errors; timed all the same)")
    print()

    bare = by_label["bare typer app --help"]
    targets = (("promptops --help", 1.5), ("promptops render", 3.0), ("promptops lint", 3.0))
    print("Ratios to the bare typer app (PASS/FAIL on the ratio of medians; min/min shown for a noisy machine):")
    for label, target in targets:
        ratio = by_label[label].median / bare.median
        ratio_min = by_label[label].best / bare.best
        verdict = "PASS" if ratio <= target else "FAIL"
        print(
            f"  {label + ' / bare typer app':<{width + 18}}  {ratio:5.2f}x  (target <= {target:.1f}x)  {verdict}"
            f"   [min/min {ratio_min:.2f}x]"
        )
    print()

    print(f"Heavy modules imported ({', '.join(HEAVY_MODULES)}), from `python -X importtime`:")
    for label in ("promptops --version", "promptops --help", "promptops render", "promptops lint"):
        bench = by_label[label]
        heavy, count = _imports(bench.argv, bench.ok_codes)
        found = ", ".join(f"{name} ({ms:.1f} ms)" for name, ms in sorted(heavy.items())) or "none"
        print(f"  {label:<{width}}  {found}  [{count} modules imported in all]")
    print("  (ms: cumulative import time of the package under -X importtime, which itself adds overhead)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
