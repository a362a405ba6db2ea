"""Rollback on a repository with a long history, and bundle build time for a large project.

  1  history: a project (a few prompts, `staging` and `production` environments) with R releases (default 200)
     and E ledger events (default 1,000), built in this process with promptops' own code, not by hand:
     each release is a commit (one line of a shared partial changes) then `plan_release` + `apply_release`
     (what `promptops release --skip-eval --reason bench` runs: lint, the diff since the previous release for
     the bump, the bundle, the annotated tag); the events are `promote` (production and staging walk through
     the releases), `kill` and `revive` (two prompts in production, in turn), each one compare-and-swap
     commit on the ledger branch. The build times are reported, per release and per event.
  2  rollback: `python -m promptops rollback --env production --reason bench` as a fresh subprocess of this
     interpreter (`sys.executable`), after one unmeasured warm-up run; before each run the ledger branch is
     reset to the same commit, so every run does the same work. The repository's `origin` remote points at a
     path that does not exist, so any fetch or push would fail the command; one more run under `GIT_TRACE`
     lists every git command it started and reports any that talks to a remote. Also measured the same way:
     `promptops status` (reads the whole ledger log) and `promptops export --env production` (rebuilds the
     running release's bundle and checks its digest). Last, the size of the repository's object store, loose
     (as the ledger's plumbing leaves it: every event writes the whole `state.json`) and after `git gc`.
  3  bundle: a project of P prompts (default 1,000; each includes one of 20 partials, every tenth has its own
     route, each has a one-case eval suite), committed; `python -m promptops bundle -o FILE`, wall time.

Targets (PASS or FAIL; they never change the exit status): rollback median < 0.5 s (issue 5) with no remote
contacted. Bundle for 1,000 prompts < 5 s: DESIGN.md gives no figure; this one is ours (a deploy step that
waits for a bundle should wait seconds, not minutes), set before the first measurement.

A benchmark prints figures; it does not assert. Exit status 0 unless a promptops command fails (then 1, with
its stderr).

Usage: python benchmarks/rollback.py [--releases 200] [--events 1000] [--prompts 1000] [--runs 9]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROLLBACK_TARGET = 0.5
BUNDLE_TARGET = 5.0
LEDGER = "refs/heads/promptops/ledger"
ROUTING = (
    "defaults:\n  model: fast\nmodels:\n  fast:\n    model: openai/gpt-4o-mini\n    api_key_env: OPENAI_API_KEY\n"
    "  slow:\n    model: openai/gpt-4o\n    api_key_env: OPENAI_API_KEY\n"
)
CONFIG = "project: bench\nenvironments:\n  staging: {}\n  production: {}\n"


def seal(home: Path) -> None:
    """This process and its children: git identity and config sealed, no inherited GIT_* variables, no colour."""
    for key in [k for k in os.environ if k.startswith("GIT_")]:
        del os.environ[key]
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n")
    os.environ.update(
        HOME=str(home),
        GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Bench Runner",
        GIT_AUTHOR_EMAIL="bench@example.test",
        GIT_COMMITTER_NAME="Bench Runner",
        GIT_COMMITTER_EMAIL="bench@example.test",
        NO_COLOR="1",
        COLUMNS="120",
    )


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {done.stderr}")
    return done.stdout.strip()


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def prompt(pid: str, partial: str) -> str:
    return (
        f"---\ndescription: {pid}\nowner: '@team'\ninputs:\n  name: {{type: string}}\n"
        f"fallback: 'Sorry, {{{{ name }}}}, a person will answer.'\n---\n"
        f'system:\n{{% include "{partial}" %}}\nuser:\nHello {{{{ name }}}}, this is {pid}.\n'
    )


def suite(pid: str) -> str:
    case = "  - id: one\n    vars: {name: Ada}\n    assert:\n      - {type: contains, value: Ada}\n"
    return f"prompt: {pid}\ncases:\n{case}"


def init_repo(root: Path, files: dict[str, str]) -> None:
    root.mkdir(parents=True)
    write(root, files)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")


# -- 1. the history ------------------------------------------------------------------------------------------


def build_history(root: Path, releases: int, events: int) -> dict[str, float]:
    from promptops import loader
    from promptops.gates import plan_release
    from promptops.git import GitRepo
    from promptops.release import environments as envs
    from promptops.release.ledger import Ledger
    from promptops.release.releasing import Request, apply_release
    from promptops.workspace import open_source

    files = {"promptops.yaml": CONFIG, "routing.yaml": ROUTING, "prompts/shared/_tone.j2": "Tone 0.\n"}
    for pid in ("greet", "refund", "triage", "sales"):
        files[f"prompts/{pid}.prompt"] = prompt(pid, "shared/_tone.j2")
        files[f"evals/{pid}.yaml"] = suite(pid)
    init_repo(root, files)

    started = time.perf_counter()
    for n in range(releases):
        if n:
            write(root, {"prompts/shared/_tone.j2": f"Tone {n}.\n"})
            git(root, "commit", "-q", "-am", f"tone {n}\n\nChange-Reason: benchmark step {n}")
        plan = plan_release(root, "v", Request(skip_eval_reason="bench"))
        apply_release(root, plan, push=False)
    release_time = time.perf_counter() - started
    tags = sorted(git(root, "tag", "--list").split(), key=lambda t: tuple(int(p) for p in t[1:].split(".")))
    assert len(tags) == releases, tags

    repo = GitRepo(root)
    config = loader.load(open_source(root, None)).config
    ctx = envs.Context(repo=repo, config=config, ledger=Ledger(repo, config.ledger_branch), who=repo.identity())
    started = time.perf_counter()
    written, step, killed = 0, 0, False
    while written < events:
        kind = step % 5
        step += 1
        if kind in (0, 1, 4):  # production moves on (twice per cycle), staging once
            env = "staging" if kind == 1 else "production"
            current = ctx.ledger.state().version(env) or None
            tag = tags[(step // 2) % len(tags)]
            if tag == current:
                tag = tags[(step // 2 + 1) % len(tags)]
            envs.promote(ctx, tag, env, f"bench step {step}")
        elif kind == 2 and not killed:
            envs.kill(ctx, "refund", "production", f"bench kill {step}")
            killed = True
        else:
            if not killed:
                continue
            envs.revive(ctx, "refund", "production", f"bench revive {step}")
            killed = False
        written += 1
    events_time = time.perf_counter() - started
    return {"release_s": release_time, "events_s": events_time}


# -- measuring -----------------------------------------------------------------------------------------------


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "promptops", *args]


def timed(argv: Sequence[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        print(f"command failed ({done.returncode}): {' '.join(argv)}\n{done.stderr}", file=sys.stderr)
        raise SystemExit(1)
    return elapsed


def runs_of(argv: Sequence[str], runs: int, before: object = None) -> list[float]:
    times = []
    for n in range(runs + 1):  # the first run warms the caches and is not counted
        if callable(before):
            before()
        elapsed = timed(argv)
        if n:
            times.append(elapsed)
    return times


def remote_commands(argv: Sequence[str], trace: Path) -> tuple[int, list[str]]:
    """How many git commands a run starts (GIT_TRACE), and those among them that would talk to a remote."""
    timed(argv, env={**os.environ, "GIT_TRACE": str(trace)})
    lines = trace.read_text().splitlines()
    started = [line.split("trace: built-in: git ", 1)[1] for line in lines if "trace: built-in: git " in line]
    started += [line.split("run_command: ", 1)[1] for line in lines if "run_command: " in line]
    network = ("fetch", "push", "pull", "ls-remote", "clone", "remote-", "git-remote", "ssh", "http")
    return len(started), [c for c in started if c.split()[0].strip("'").startswith(network)]


def build_bundle_project(root: Path, prompts: int) -> None:
    files = {"promptops.yaml": "project: many\n", "routing.yaml": ROUTING + "routes:\n"}
    for n in range(20):
        files[f"prompts/shared/_p{n}.j2"] = f"Shared guidance number {n}.\n"
    for n in range(prompts):
        pid = f"team{n % 10}/prompt{n:04d}"
        files[f"prompts/{pid}.prompt"] = prompt(pid, f"shared/_p{n % 20}.j2")
        files[f"evals/{pid}.yaml"] = suite(pid)
        if n % 10 == 0:
            files["routing.yaml"] += f"  {pid}:\n    model: slow\n    fallbacks: [fast]\n"
    init_repo(root, files)


# -- the report ----------------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--releases", type=int, default=200)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--prompts", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args(argv)

    import promptops

    with tempfile.TemporaryDirectory(prefix="promptops-rollback-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "home").mkdir()
        seal(tmp / "home")
        print(f"promptops rollback benchmark, {dt.date.today().isoformat()}")
        print(
            f"Python {platform.python_version()} ({platform.python_implementation()}) on {platform.system()} "
            f"{platform.machine()}, {os.cpu_count()} CPU(s); promptops {promptops.__version__}; "
            f"{git(tmp, 'version')}"
        )

        history = tmp / "history"
        built = build_history(history, args.releases, args.events)
        ledger_events = len(git(history, "rev-list", LEDGER).split())
        state_size = len(git(history, "cat-file", "-p", f"{LEDGER}:state.json"))
        objects = dict(line.split(": ") for line in git(history, "count-objects", "-v").splitlines())
        store_kib = int(objects["size"]) + int(objects["size-pack"])
        git(history, "remote", "add", "origin", str(tmp / "no-such-remote.git"))
        head = git(history, "rev-parse", LEDGER)
        print(
            f"History: {args.releases} releases in {built['release_s']:.1f} s "
            f"({1000 * built['release_s'] / args.releases:.0f} ms each, in process); {ledger_events} ledger events "
            f"in {built['events_s']:.1f} s ({1000 * built['events_s'] / ledger_events:.0f} ms each); "
            f"state.json now {state_size / 1024:.0f} KiB; `origin` points at a path that does not exist.\n"
        )

        def reset() -> None:
            git(history, "update-ref", LEDGER, head)

        repo_arg = ("--repo", str(history))
        rollback = command("rollback", "--env", "production", "--reason", "bench", *repo_arg)
        rows = [("rollback --env production", runs_of(rollback, args.runs, reset), ROLLBACK_TARGET)]
        reset()
        rows.append(("status", runs_of(command("status", *repo_arg), args.runs), None))
        export = command("export", "--env", "production", "-o", str(tmp / "production.json"), *repo_arg)
        rows.append(("export --env production", runs_of(export, args.runs), None))
        reset()
        traced, talked = remote_commands(rollback, tmp / "trace")
        reset()
        git(history, "gc", "-q")
        packed = dict(line.split(": ") for line in git(history, "count-objects", "-v").splitlines())
        packed_kib = int(packed["size"]) + int(packed["size-pack"])

        many = tmp / "many"
        started = time.perf_counter()
        build_bundle_project(many, args.prompts)
        setup = time.perf_counter() - started
        bundle = command("bundle", "--repo", str(many), "-o", str(tmp / "many.json"))
        bundle_runs = max(3, args.runs // 3)
        rows.append((f"bundle, {args.prompts} prompts", runs_of(bundle, bundle_runs), BUNDLE_TARGET))
        size = (tmp / "many.json").stat().st_size

        print(f"{'command':<28}{'median s':>10}{'min s':>9}{'runs':>6}  target")
        print(f"{'-' * 27:<28}{'-' * 8:>10}{'-' * 7:>9}{'-' * 4:>6}  {'-' * 16}")
        for label, times, target in rows:
            median = statistics.median(times)
            shown = f"< {target:g} s  {verdict(median < target)}" if target else "-"
            print(f"{label:<28}{median:>10.3f}{min(times):>9.3f}{len(times):>6}  {shown}")
        offline = traced > 0 and not talked
        print(
            f"\nrollback offline: {verdict(offline)} ({traced} git commands traced; "
            f"{'none talks to a remote' if not talked else 'talking to a remote: ' + '; '.join(talked)})"
        )
        print(f"object store: {store_kib / 1024:.1f} MiB loose, {packed_kib / 1024:.1f} MiB after `git gc`")
        print(f"bundle: {args.prompts} prompts, {size / 1024:.0f} KiB; project made and committed in {setup:.1f} s")
        print("Each command is a fresh `python -m promptops` subprocess; one warm-up run each, not counted.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
