"""Instructions an eval executes, counted by valgrind's callgrind: a figure that does not move with the machine.

Wall and CPU times on a shared machine move by a tenth from one run to the next, more than most single changes
save; the number of instructions an eval executes moves by about 1%. This script counts them for a cold eval
(no `.promptops/`, every call made to the loopback test server) and for a warm re-run (every answer cached) of
the same N-case project, for one or more source trees given as NAME=PATH (a git worktree of another revision:
`git worktree add /tmp/base HEAD~3`), each run from a neutral directory so that PATH, not the current
directory, provides `promptops`. It prints the counts and each tree's ratio to the first one.

    python benchmarks/instructions.py -n 2000 base=/tmp/base now=.

Under callgrind a run is about 50 times slower (a 2,000-case cold eval: about a minute). The counts include
every thread (the results store's writer, the background imports). The cold count depends a little on timing
(how the answers interleave with planning); compare trees in the same run, and prefer the warm count for
changes outside the calls.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

import eval_throughput as ev  # noqa: E402  (benchmarks/eval_throughput.py)
from eval_fixtures import project  # noqa: E402
from provider_server import ProviderServer  # noqa: E402


def instructions(tree: Path, repo: Path, scratch: Path) -> int:
    """The instructions of one `promptops eval` of `repo` with `tree` first on the path."""
    out = scratch / "callgrind.out"
    env = {**ev._env(), "PYTHONPATH": str(tree)}
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-m", "promptops"]
    command += ["eval", "--repo", str(repo), "-j", "64", "-o", str(scratch / "report.json")]
    done = subprocess.run(command, env=env, cwd=scratch, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1):
        raise SystemExit(f"eval with {tree} exited {done.returncode}:\n{done.stderr[-2000:]}")
    for line in out.read_text().splitlines():
        if line.startswith("totals:"):
            out.unlink()
            return int(line.split()[1])
    raise SystemExit(f"callgrind wrote no totals for {tree}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", nargs="+", help="NAME=PATH of a source tree holding promptops/")
    parser.add_argument("-n", type=int, default=2000, help="cases (default 2000)")
    parser.add_argument("-l", "--latency", type=float, default=0.02, help="server latency in seconds (0.02)")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    trees = [(name, Path(path).resolve()) for name, _, path in (t.partition("=") for t in args.trees)]
    for name, path in trees:
        if not (path / "promptops" / "__init__.py").is_file():
            raise SystemExit(f"{name}: {path} holds no promptops/ package")
    scratch = Path(tempfile.mkdtemp(prefix="promptops-instructions-"))
    try:
        with ProviderServer(latency=args.latency) as server:
            cases = {f"c{i:05d}": f"yes c{i:05d}" for i in range(args.n)}
            repo = ev.make_repo(scratch / "project", project(server.base_url, cases))
            counts: dict[str, tuple[int, int]] = {}
            for name, path in trees:
                shutil.rmtree(repo / ".promptops", ignore_errors=True)
                cold = instructions(path, repo, scratch)
                warm = instructions(path, repo, scratch)
                counts[name] = (cold, warm)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    first = next(iter(counts.values()))
    print(f"instructions of `promptops eval`, {args.n:,} cases, L={args.latency * 1000:.0f} ms, C=64 (callgrind)")
    print(f"{'tree':<12} {'cold':>16} {'ratio':>7} {'warm':>16} {'ratio':>7}")
    for name, (cold, warm) in counts.items():
        print(f"{name:<12} {cold:>16,} {cold / first[0]:>6.3f}x {warm:>16,} {warm / first[1]:>6.3f}x")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    sys.exit(main())
