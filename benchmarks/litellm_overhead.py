"""Overhead of the litellm provider: N chat completions with C in flight against a local server with latency L.

The server is `tests.provider_server.ProviderServer`, run in this process. Each client runs in a fresh
subprocess of the same interpreter, so the server's threads neither share the client's GIL nor count in its
CPU time, and one client's litellm settings and warm caches cannot leak into the next:

  a  bare `litellm.acompletion` loop, litellm's default settings (num_retries=0)
  b  promptops `LitellmProvider` (its direct route for OpenAI-compatible models)
  b' `LitellmProvider(direct=False)`: the litellm.acompletion route that non-OpenAI providers take
  c  the openai SDK's `AsyncOpenAI` directly (max_retries=0)
  f  a bare aiohttp POST and json.loads, no LLM library at all
  h  the floor: a bare POST on promptops' own HTTP client (providers/http1.py) and json.loads

Each client imports its library and makes one warm-up call, then the server's counters are reset and the
measured run starts: N requests through an asyncio.Semaphore(C). Reported per client: the wall time from the
first request to the last answer, the ideal ceil(N/C) x L, their ratio, CPU ms per call (the client process's
CPU time over the run, all threads, divided by N), the test server's CPU per request (this process), and
what the server counted (requests answered, TCP connections opened). A benchmark prints figures; it does not
assert. Exit status 0 unless a client fails.

Usage: python benchmarks/litellm_overhead.py [-n 1000] [-c 50] [-l 0.1] [--repeat 1] [--modes a,b,b',c,f,h]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODES = {
    "a": "bare litellm.acompletion (defaults)",
    "b": "LitellmProvider (promptops)",
    "b'": "LitellmProvider(direct=False)",
    "c": "openai AsyncOpenAI (SDK only)",
    "f": "bare aiohttp + json",
    "h": "floor: bare http1.Client + json",
}
MODEL = "test-model"
KEY = "sk-benchmark"


# ---------------------------------------------------------------------- client side (a subprocess)


def _call_factory(mode: str, base_url: str) -> Callable[[int], Awaitable[str]]:
    """An async function that makes request number i through the client under test and returns its text."""
    if mode == "a":
        os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # no network; otherwise litellm's defaults
        import litellm

        async def bare(i: int) -> str:
            response = await litellm.acompletion(
                model=f"openai/{MODEL}", messages=_messages(i), api_base=base_url, api_key=KEY, num_retries=0
            )
            return str(response.choices[0].message.content)

        return bare
    if mode in ("b", "b'"):
        from promptops.model import Message, ModelSpec
        from promptops.providers import ProviderRequest
        from promptops.providers.litellm import LitellmProvider

        provider = LitellmProvider(env={}, direct=mode == "b")
        spec = ModelSpec(name="bench", model=f"openai/{MODEL}", api_base=base_url)

        async def ours(i: int) -> str:
            messages = tuple(Message(m["role"], m["content"]) for m in _messages(i))
            completion = await provider.complete(ProviderRequest(spec, messages, api_key=KEY, timeout=30.0))
            return completion.text

        return ours
    if mode == "f":
        return _floor(base_url)
    if mode == "h":
        return _own_client(base_url)
    import openai

    client = openai.AsyncOpenAI(base_url=base_url, api_key=KEY, max_retries=0)

    async def sdk(i: int) -> str:
        response = await client.chat.completions.create(model=MODEL, messages=_messages(i))  # type: ignore[arg-type]
        return str(response.choices[0].message.content)

    return sdk


def _floor(base_url: str) -> Callable[[int], Awaitable[str]]:
    import aiohttp

    sessions: list[aiohttp.ClientSession] = []  # made on first use, inside the running loop
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}

    async def floor(i: int) -> str:
        if not sessions:
            sessions.append(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)))
        body = json.dumps({"model": MODEL, "messages": _messages(i)})
        async with sessions[0].post(f"{base_url}/chat/completions", data=body, headers=headers) as response:
            return str(json.loads(await response.read())["choices"][0]["message"]["content"])

    return floor


def _own_client(base_url: str) -> Callable[[int], Awaitable[str]]:
    from promptops.providers.http1 import Client

    client = Client()
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}

    async def own(i: int) -> str:
        body = json.dumps({"model": MODEL, "messages": _messages(i)}).encode()
        _, raw, _ = await client.post(f"{base_url}/chat/completions", body, headers, 60.0)
        return str(json.loads(raw)["choices"][0]["message"]["content"])

    return own


def _messages(i: int) -> list[dict[str, str]]:
    return [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": f"question {i}"}]


async def _client_run(mode: str, base_url: str, n: int, c: int) -> dict[str, Any]:
    call = _call_factory(mode, base_url)
    await call(-1)  # warm-up: imports done, first connection made
    print("ready", flush=True)
    sys.stdin.readline()  # the server resets its counters, then says go
    semaphore = asyncio.Semaphore(c)

    async def one(i: int) -> bool:
        async with semaphore:
            return (await call(i)).startswith("echo: question")

    cpu0, t0 = time.process_time(), time.perf_counter()
    answers = await asyncio.gather(*(one(i) for i in range(n)))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {"wall": wall, "cpu": cpu, "ok": sum(answers)}


def client_main(mode: str, base_url: str, n: int, c: int) -> int:
    result = asyncio.run(_client_run(mode, base_url, n, c))  # the process ends next: no cleanup needed
    print(json.dumps(result), flush=True)
    return 0


# ---------------------------------------------------------------------- server side (this process)


def run_client(mode: str, server: Any, n: int, c: int) -> dict[str, Any]:
    from tests.provider_server import collector_paused

    command = [sys.executable, __file__, "--client", mode, "--base-url", server.base_url, "-n", str(n), "-c", str(c)]
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    ) as child:
        assert child.stdin is not None and child.stdout is not None and child.stderr is not None
        if child.stdout.readline().strip() != "ready":
            child.kill()
            raise RuntimeError(f"client {mode} failed before the run:\n{child.stderr.read()}")
        server.reset()
        with collector_paused():  # this process serves the run: no pause of its own delays an answer
            server_cpu = time.process_time()  # this process only serves during the run
            child.stdin.write("go\n")
            child.stdin.flush()
            line = child.stdout.readline()
            server_cpu = time.process_time() - server_cpu
        child.wait()
        if child.returncode != 0 or not line.strip():
            raise RuntimeError(f"client {mode} failed:\n{child.stderr.read()}")
    result: dict[str, Any] = json.loads(line)
    stats = server.stats()
    result.update(served=stats["requests_succeeded"], connections=stats["connections_opened"], server_cpu=server_cpu)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-n", type=int, default=1000, help="requests per client (default 1000)")
    parser.add_argument("-c", type=int, default=50, help="requests in flight (default 50)")
    parser.add_argument("-l", "--latency", type=float, default=0.1, help="server latency in seconds (default 0.1)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per client; the median is shown (default 1)")
    parser.add_argument("--modes", default=",".join(MODES), help="clients to run (default: all)")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:
        return client_main(args.client, args.base_url, args.n, args.c)

    from tests.provider_server import ProviderServer

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    ideal = math.ceil(args.n / args.c) * args.latency
    print(f"litellm overhead benchmark: N={args.n} requests, C={args.c} in flight, L={args.latency:g} s latency")
    print(
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}, {os.cpu_count()} CPU(s); "
        f"{_versions()}; {args.repeat} run(s) per client, median shown"
    )
    print(f"ideal wall time ceil(N/C) x L = {ideal:.2f} s\n")
    rows = []
    with ProviderServer(latency=args.latency, precise=True) as server:
        for mode in modes:
            runs = [run_client(mode, server, args.n, args.c) for _ in range(args.repeat)]
            wall = statistics.median(r["wall"] for r in runs)
            cpu_ms = statistics.median(r["cpu"] for r in runs) / args.n * 1000
            server_ms = statistics.median(r["server_cpu"] for r in runs) / args.n * 1000
            last = runs[-1]
            rows.append((mode, MODES[mode], wall, wall / ideal, cpu_ms, server_ms, last["served"], last["connections"]))
    header = (
        f"{'':3} {'client':38} {'wall s':>7} {'ideal s':>7} {'ratio':>6} {'CPU ms/call':>11} {'server ms':>9} "
        f"{'served':>7} {'conns':>6}"
    )
    print(header)
    print("-" * len(header))
    for mode, label, wall, ratio, cpu_ms, server_ms, served, conns in rows:
        print(
            f"{mode:3} {label:38} {wall:7.2f} {ideal:7.2f} {ratio:5.2f}x {cpu_ms:11.2f} {server_ms:9.2f} "
            f"{served:7d} {conns:6d}"
        )
    print(
        "\nCPU ms/call: the client process's CPU time (all threads) over the run / N. server ms: this process's"
        "\nCPU time (the test server) / N. served, conns: requests answered and TCP connections the server opened"
        "\nduring the measured run (the warm-up's connection is made before it)."
    )
    return 0


def _versions() -> str:
    from importlib.metadata import version

    return ", ".join(f"{name} {version(name)}" for name in ("litellm", "openai", "aiohttp", "httpx"))


if __name__ == "__main__":
    sys.exit(main())
