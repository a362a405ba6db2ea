"""Audit log appends per second, with 1 and 8 writer processes, for both fsync policies.

For each fsync policy (`batch`: fsync at most every 100 records or 200 ms; `always`: fsync every record) and
each number of writers W (1 and 8), a fresh directory is made under --dir (default: the system's temporary
directory; fsync costs depend on the disk under it, so point --dir at the disk the application will log to).
W writer processes of this interpreter (`sys.executable`) each import `promptops.runtime.audit`, open an
`AuditLog` on that directory with one shared instance id (so all W append to ONE chain, serialised by the
chain's file lock, as the processes of one host do), wait for a start line on stdin, then append N records
(default 2,000 with `batch`, 300 with `always`) of about 1 KiB, a realistic redacted call record, timing each
append. The parent measures the wall time from the start line to the last writer's exit.

Printed per run: records, wall time, appends per second over all writers (records / wall), the median and
99th percentile of one append's latency as the caller sees it (lock wait included), and the CPU time per
append in the writers. Then `verify` of the directory (it must hold) and its speed in records per second.

A benchmark prints figures; it does not assert. Exit status 0 unless a writer fails or the log does not
verify (then 1).

Usage: python benchmarks/audit.py [--records 2000] [--records-always 300] [--dir DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WRITER = """
import json, sys, time
from promptops.runtime.audit import AuditLog
directory, policy, count, writer = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
record = {
    "environment": "production", "release": "v1.4.2", "digest": "sha256:" + "5f" * 32,
    "prompt": "support/refund_answer", "model": "careful", "answered_by": "primary",
    "latency_ms": 812.5, "tokens": {"input": 412, "output": 96}, "cost": 0.00131, "error": None,
    "inputs": {"customer_question": "Can I return the blender I bought on [REDACTED:date]? " * 4,
               "customer_email": "[REDACTED:email]", "region": "eu"},
    "output": "Yes: within 14 days of delivery you can return it for a full refund. " * 6,
}
log = AuditLog(directory, instance="bench-host", fsync=policy)
sys.stdin.readline()
times = []
cpu = time.process_time()
for n in range(count):
    record["n"] = n
    record["writer"] = writer
    t = time.perf_counter()
    log.append(record)
    times.append(time.perf_counter() - t)
log.close()
print(json.dumps({"times": times, "cpu": time.process_time() - cpu}))
"""


def run(directory: Path, policy: str, writers: int, count: int) -> dict[str, float]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(directory), policy, str(count), str(k)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for k in range(writers)
    ]
    time.sleep(0.5 + 0.1 * writers)  # let every writer import and open the log before the start
    start = time.perf_counter()
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
    outputs = [proc.communicate() for proc in procs]
    wall = time.perf_counter() - start
    for proc, (_, err) in zip(procs, outputs, strict=True):
        if proc.returncode != 0:
            sys.stderr.write(err.decode())
            raise SystemExit(1)
    results = [json.loads(out) for out, _ in outputs]
    times = sorted(t for r in results for t in r["times"])
    total = len(times)
    return {
        "records": total,
        "wall": wall,
        "rate": total / wall,
        "p50": statistics.median(times) * 1e6,
        "p99": times[min(total - 1, int(total * 0.99))] * 1e6,
        "cpu": sum(r["cpu"] for r in results) / total * 1e6,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000, help="records per writer with fsync batch")
    parser.add_argument("--records-always", type=int, default=300, help="records per writer with fsync always")
    parser.add_argument("--dir", type=Path, default=None, help="where to make the logs (default: a temp dir)")
    args = parser.parse_args()

    from promptops import __version__
    from promptops.runtime.audit_verify import verify

    print(f"promptops audit log benchmark, {dt.date.today().isoformat()}")
    print(
        f"Python {platform.python_version()} ({platform.python_implementation()}) on {platform.system()} "
        f"{platform.machine()}, {os.cpu_count()} CPU(s); promptops {__version__}"
    )
    base = Path(tempfile.mkdtemp(prefix="promptops-audit-bench-", dir=args.dir))
    print(f"Logs under {base} (removed at the end); one chain shared by all writers; records of about 1 KiB\n")
    header = (
        f"{'fsync':<7} {'writers':>7} {'records':>8} {'wall s':>7} {'appends/s':>10} "
        f"{'p50 us':>8} {'p99 us':>8} {'CPU us':>7}  verify"
    )
    print(header)
    print("-" * len(header))
    status = 0
    for policy, count in (("batch", args.records), ("always", args.records_always)):
        for writers in (1, 8):
            directory = base / f"{policy}-{writers}"
            r = run(directory, policy, writers, count)
            t = time.perf_counter()
            report = verify(directory)
            took = time.perf_counter() - t
            held = report.ok and report.chains[0].records == r["records"]
            status |= not held
            verdict = f"{'ok' if held else 'BROKEN'} ({r['records'] / took:,.0f} records/s)"
            print(
                f"{policy:<7} {writers:>7} {r['records']:>8} {r['wall']:>7.2f} {r['rate']:>10,.0f} "
                f"{r['p50']:>8.0f} {r['p99']:>8.0f} {r['cpu']:>7.0f}  {verdict}"
            )
    print(
        "\nappends/s: records of all writers / wall time from the start line to the last exit. p50, p99: one "
        "append as the caller\nsees it, lock wait included. CPU us: writers' CPU time per append."
    )
    shutil.rmtree(base, ignore_errors=True)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
