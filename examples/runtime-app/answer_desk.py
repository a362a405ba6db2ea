"""A small support desk that answers refund questions through the promptops runtime.

It serves what an environment of the support-bot repository runs, and keeps following it: promote, roll back,
kill or revive the prompt while it runs, and its next answers change without a restart. Every answer is written
to the audit log (`promptops audit show`, `promptops audit verify`).

    python examples/runtime-app/answer_desk.py --repo DIR --env staging            # live models (API keys)
    python examples/runtime-app/answer_desk.py --repo DIR --env staging --offline  # no network, no key
    python examples/runtime-app/answer_desk.py --bundle bundle.json --offline      # an exported bundle, no git

`--offline` plugs a local provider into the runtime's provider seam: it answers every call itself, so the
drill in the README runs anywhere.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from typing import Any

import promptops
from promptops.errors import PromptopsError
from promptops.providers import Completion, ProviderRequest

QUESTIONS: list[dict[str, Any]] = [
    {"customer_question": "Can I still return the lamp?", "order_total": 89.5, "days_since_delivery": 12,
     "region": "us", "customer_name": "Dana"},
    {"customer_question": "The kettle arrived broken, refund please.", "order_total": 45.0,
     "days_since_delivery": 3, "region": "uk", "customer_name": ""},
    {"customer_question": "Is a refund possible after two months?", "order_total": 120.0,
     "days_since_delivery": 61, "region": "eu", "customer_name": "Luca"},
]  # fmt: skip


class OfflineProvider:
    """Answers every call locally: a stand-in for a model, through the same seam as litellm."""

    name = "offline"

    async def ready(self) -> None:
        return None

    async def complete(self, request: ProviderRequest) -> Completion:
        question = request.messages[-1].content.strip().splitlines()[-1]
        text = f"[{request.model.name}] Thanks for asking. About: {question[:60]}"
        return Completion(text=text, prompt_tokens=20, completion_tokens=12, latency_ms=1.0, model=request.model.model)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=".", help="the support-bot repository (ledger mode)")
    parser.add_argument("--env", default=None, help="the environment to serve, e.g. staging")
    parser.add_argument("--bundle", default=None, help="serve this `promptops export` file instead")
    parser.add_argument("--every", type=float, default=2.0, help="seconds between questions")
    parser.add_argument("--count", type=int, default=0, help="stop after this many answers (0: run until Ctrl-C)")
    parser.add_argument("--reload", type=float, default=1.0, help="seconds between checks for a new release")
    parser.add_argument("--offline", action="store_true", help="answer locally instead of calling models")
    args = parser.parse_args(argv)
    if args.env is None and args.bundle is None:
        parser.error("give --env (with --repo) or --bundle")
    runtime = promptops.load(
        env=args.env,
        repo=args.repo,
        bundle=args.bundle,
        reload_interval=args.reload,
        provider=OfflineProvider() if args.offline else None,
    )
    with runtime:
        questions = itertools.cycle(QUESTIONS)
        for n in itertools.count(1):
            result = runtime.run("support/refund_answer", next(questions))
            first_line = result.text.strip().splitlines()[0] if result.text.strip() else ""
            print(f"{result.version:8} {result.answered_by:17} {first_line[:70]}", flush=True)
            if args.count and n >= args.count:
                break
            time.sleep(args.every)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
    except PromptopsError as exc:  # a refused bundle, a killed prompt without fallback, bad input
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
