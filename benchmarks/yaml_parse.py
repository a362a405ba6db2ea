"""CPU time of the YAML reader on a long suite: the event reader (`yamlevents`) against the node reader.

Two suites of N cases (default 10,000), written as people write them: one with a flow mapping of vars per case
(about 970 KB at 10,000 cases), one with a multi-line block scalar in each case's vars (about 7 MB). Each is
read by `yamltext._parse` (the event reader, which leaves anything unusual to the node reader) and by
`yamltext._parse_nodes` (the node reader alone, what `_parse` was before), in turn, `--runs` times, with the
cyclic garbage collector paused (as `eval` reads its files) and then running; the table gives the median CPU
time (`time.process_time`) of each and the ratio. Both must return equal data and lines, which is checked once.

A benchmark prints figures; it does not assert anything else. Exit status 0.

Usage: python benchmarks/yaml_parse.py [--cases 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

from promptops import yamltext


def suite(cases: int, block: bool) -> str:
    out = ["prompt: answer", "threshold: 1.0", "repeat: 1", "cases:"]
    for i in range(cases):
        out.append(f"  - id: c{i:05d}")
        if block:
            out.append("    vars:")
            out.append("      question: |")
            out.extend(f"        line {j} of question {i}: what is the answer? It is yes, or 42." for j in range(8))
            out.append(f"      answer: 'yes c{i:05d}'")
        else:
            out.append(f"    vars: {{answer: 'yes c{i:05d}'}}")
        out.append("    assert:")
        out.append("      - {type: contains, value: yes}")
    return "\n".join(out) + "\n"


def cpu(read: Callable[[str, str, int], Any], text: str, paused: bool) -> float:
    gc.collect()
    if paused:
        gc.disable()
    try:
        start = time.process_time()
        read(text, "evals/suite.yaml", 1)
        return time.process_time() - start
    finally:
        gc.enable()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    readers = {"events": yamltext._parse, "nodes": yamltext._parse_nodes}
    print(f"{'suite':<28} {'collector':<9} {'nodes s':>8} {'events s':>9} {'ratio':>6}")
    for label, block in (("flow vars", False), ("block-scalar vars", True)):
        text = suite(args.cases, block)
        assert readers["events"](text, "f", 1) == readers["nodes"](text, "f", 1)
        for paused in (True, False):
            times: dict[str, list[float]] = {name: [] for name in readers}
            for _ in range(args.runs):
                for name, read in readers.items():
                    times[name].append(cpu(read, text, paused))
            nodes, events = (statistics.median(times[name]) for name in ("nodes", "events"))
            row = f"{label}, {len(text) // 1024} KB"
            collector = "paused" if paused else "running"
            print(f"{row:<28} {collector:<9} {nodes:8.3f} {events:9.3f} {events / nodes:5.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
