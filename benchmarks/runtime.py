"""What the runtime costs an application: import, per-call overhead, audit appends, reload after a rollback.

    .venv/bin/python benchmarks/runtime.py [--calls 2000] [--runs 9]

Figures, no assertions:
- import of `promptops.runtime` in a fresh interpreter (median of --runs), and which heavy modules it loaded;
- per-call overhead of `Runtime.arun` (render + route + redaction + audit append; the model is a provider that
  answers at once through the provider seam), for: no audit log, audit fsync "batch", audit fsync "always";
- audit appends per second with 1 and 8 writer processes, both fsync policies (benchmarks/audit.py);
- reload latency: from a `promptops rollback` (and a replaced export file) to the first call answered by the
  rolled-back release, against the reload interval.
The project is a copy of examples/support-bot with two releases, in a temporary git repository.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import promptops
from promptops.providers import Completion, ProviderRequest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "support-bot"
VARS = {"customer_question": "Can I return it? Mail me at ada@example.com", "order_total": 89.5,
        "days_since_delivery": 12, "region": "us", "customer_name": "Ada"}  # fmt: skip
# The example routes to OpenAI and Anthropic models: keys must be there, or the runtime (rightly) skips the models.
KEYS = {"OPENAI_API_KEY": "not-a-real-key-0", "ANTHROPIC_API_KEY": "not-a-real-key-1"}
GIT_ENV = {"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.test", "GIT_COMMITTER_NAME": "Bench",
           "GIT_COMMITTER_EMAIL": "bench@example.test", "GIT_CONFIG_NOSYSTEM": "1"}  # fmt: skip


class Instant:
    """A provider that answers at once: what is left of a call's time is the runtime's own."""

    name = "instant"

    async def ready(self) -> None:
        return None

    async def complete(self, request: ProviderRequest) -> Completion:
        return Completion(text="Hi Ada, yes: within 30 days.", prompt_tokens=50, completion_tokens=9, model="instant")


def sh(*args: str, cwd: Path) -> None:
    subprocess.run(args, cwd=cwd, check=True, capture_output=True, env={**os.environ, **GIT_ENV})


def project(tmp: Path) -> Path:
    root = tmp / "support-bot"
    shutil.copytree(EXAMPLE, root)
    (tmp / "gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    os.environ["GIT_CONFIG_GLOBAL"] = str(tmp / "gitconfig")
    cli = (sys.executable, "-m", "promptops")
    sh("git", "init", "-q", cwd=root)
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "example", cwd=root)
    sh(*cli, "release", "--skip-eval", "--reason", "benchmark", cwd=root)
    tone = root / "prompts" / "shared" / "_tone.j2"
    tone.write_text(tone.read_text() + "\nBe brief.\n")
    sh("git", "commit", "-qam", "tone", cwd=root)
    sh(*cli, "release", "--skip-eval", "--reason", "benchmark", cwd=root)
    sh(*cli, "promote", "0.1.0", "--env", "staging", "--reason", "b", cwd=root)
    sh(*cli, "promote", "0.1.1", "--env", "staging", "--reason", "b", cwd=root)
    return root


def import_time(runs: int) -> None:
    code = (
        "import time, sys; t = time.perf_counter(); import promptops.runtime; d = time.perf_counter() - t; "
        "print(d, ' '.join(m for m in ('typer','rich','git','litellm','jinja2','jsonschema') if m in sys.modules))"
    )
    times, heavy = [], ""
    for _ in range(runs + 1):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
        times.append(float(out[0]) * 1000)
        heavy = " ".join(out[1:])
    print(f"import promptops.runtime: median {statistics.median(times[1:]):.1f} ms (target < 150 ms); "
          f"heavy modules loaded: {heavy or 'none'}")  # fmt: skip


def per_call(root: Path, tmp: Path, calls: int) -> None:
    from promptops.runtime.audit import AuditLog

    bundle = tmp / "bundle.json"
    sh(sys.executable, "-m", "promptops", "export", "--env", "staging", "-o", str(bundle), cwd=root)
    print(f"per-call overhead of arun, {calls} calls (render + route + redaction + audit; instant model):")
    for label, audit in [
        ("no audit log", False),
        ("audit, fsync batch", AuditLog(tmp / "audit-batch", fsync="batch")),
        ("audit, fsync always", AuditLog(tmp / "audit-always", fsync="always")),
    ]:
        rt = promptops.load(
            bundle=bundle, env="staging", audit=audit, reload_interval=None, provider=Instant(), environ=KEYS
        )

        async def go(n: int, runtime: promptops.Runtime = rt) -> list[float]:
            spent = []
            for _ in range(n):
                t = time.perf_counter()
                await runtime.arun("support/refund_answer", VARS)
                spent.append((time.perf_counter() - t) * 1e6)
            return spent

        asyncio.run(go(50))  # warm: templates compiled, detectors loaded
        spent = asyncio.run(go(calls))
        rt.close()
        print(f"  {label:22} median {statistics.median(spent):7.0f} us   p95 "
              f"{statistics.quantiles(spent, n=20)[-1]:7.0f} us   (target < 1000 us)")  # fmt: skip


def audit_processes() -> None:
    path = Path(__file__).with_name("audit.py")
    if not path.exists():
        print("audit appends: benchmarks/audit.py is missing")
        return
    print("audit appends per second (benchmarks/audit.py):")
    subprocess.run([sys.executable, str(path)], check=False)


def reload_latency(root: Path, tmp: Path, interval: float) -> None:
    cli = (sys.executable, "-m", "promptops")
    with promptops.load(
        env="staging", repo=root, audit=False, reload_interval=interval, provider=Instant(), environ=KEYS
    ) as rt:
        before = rt.version
        sh(*cli, "rollback", "--env", "staging", "--reason", "bench", cwd=root)
        done = time.perf_counter()
        while rt.run("support/refund_answer", VARS).version == before:
            time.sleep(0.002)
        print(f"reload after `promptops rollback` (ledger, interval {interval:g} s): "
              f"{(time.perf_counter() - done) * 1000:.0f} ms")  # fmt: skip
    bundle, older = tmp / "live.json", tmp / "older.json"
    sh(*cli, "export", "--env", "staging", "-o", str(older), cwd=root)
    sh(*cli, "promote", "0.1.1", "--env", "staging", "--reason", "b", cwd=root)
    sh(*cli, "export", "--env", "staging", "-o", str(bundle), cwd=root)
    with promptops.load(
        bundle=bundle, env="staging", audit=False, reload_interval=interval, provider=Instant(), environ=KEYS
    ) as rt:
        before = rt.version
        os.replace(older, bundle)
        done = time.perf_counter()
        while rt.run("support/refund_answer", VARS).version == before:
            time.sleep(0.002)
        print(f"reload after replacing the export file (interval {interval:g} s): "
              f"{(time.perf_counter() - done) * 1000:.0f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--interval", type=float, default=1.0, help="reload interval, seconds")
    args = parser.parse_args()
    import_time(args.runs)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        root = project(tmp)
        os.chdir(tmp)
        per_call(root, tmp, args.calls)
        reload_latency(root, tmp, args.interval)
    if importlib.util.find_spec("promptops.runtime.audit"):
        audit_processes()


if __name__ == "__main__":
    main()
