"""Write SAMPLE recordings for the support-bot example, so `promptops eval --replay` runs offline.

These are not real model output. Real recordings need the providers' API keys and the network
(`promptops eval --record`); this script stands in for them with hand-written answers: what a good
support, sales or triage model would say for each eval case, written against the example's prompts and
policy documents. It drives the package's own planner and runner, so the recording keys are exactly
the ones `promptops eval --replay` looks up:

- every suite is planned on its primary route and with `all_routes=True`, so the fallback models are
  recorded too (the kill-switch answer is rendered from the prompt and never recorded);
- a small provider ("sample") answers each request from the tables below, keyed by suite and case id,
  with token counts, latency and cost derived deterministically from the texts;
- llm-rubric judge requests (recognised by the judge's system message) get a JSON grade grounded in the
  answer being graded;
- every task must pass its assertions before anything is written, and the suites' recording files
  (and `_judge.jsonl`) are rewritten from scratch, so the same inputs always give the same files.

Run it from the repository root after changing a prompt, an eval case or the routing of the example:

    .venv/bin/python examples/support-bot/tools/make_sample_recordings.py
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from promptops import loader
from promptops.evaluate import recordings
from promptops.evaluate.plan import KILL_SWITCH, Task, plan, select_suites
from promptops.evaluate.runner import JUDGE_SYSTEM, Options, Runner
from promptops.model import ModelSpec, Snapshot, TaskResult
from promptops.providers import Completion, Provider, ProviderError, ProviderRequest
from promptops.providers import get as get_provider
from promptops.workspace import open_source

ROOT = Path(__file__).resolve().parent.parent  # examples/support-bot

REFUND = "support/refund_answer"
SALES = "sales/security_questionnaire"
TRIAGE = "triage/classify_ticket"

# -- the answers ---------------------------------------------------------------------------------------------
# (suite id, case id) -> what the model on the suite's primary route answers.
ANSWERS: dict[tuple[str, str], str] = {
    # support/refund_answer: careful (Claude 3.5 Sonnet); its fallback `primary` answers the same (below).
    (REFUND, "us-change-of-mind-in-window"): (
        "Hi Dana,\n\n"
        "Yes, you can send the stand mixer back. Unused items in their original packaging can be returned for a "
        "full refund within 30 days of delivery, and yours arrived 9 days ago, so you are well inside that window.\n\n"
        "Return shipping is paid by you. If you like, we can send you a prepaid label for 6.95, which is deducted "
        "from the refund. Once the mixer arrives at our warehouse, the refund goes back to your original payment "
        "method within 5 business days.\n\n"
        "Acme Home Support"
    ),
    (REFUND, "us-outside-window-change-of-mind"): (
        "Hi,\n\n"
        "Thank you for getting in touch about your air fryer. Change-of-mind returns are accepted within 30 days "
        "of delivery, and your order was delivered 45 days ago, so I'm not able to offer a refund for a change of "
        "mind.\n\n"
        "If the air fryer is faulty, it is covered by our 2-year warranty and we can arrange a repair or a "
        "replacement. If there is something else about your order we should know, reply to this email and a "
        "colleague will review your request and get back to you within one business day.\n\n"
        "Acme Home Support"
    ),
    (REFUND, "us-faulty-after-window"): (
        "Hi Marcus,\n\n"
        "I'm sorry your kettle has stopped heating. It was delivered 60 days ago, which is past our 30-day refund "
        "window, but it is covered by our 2-year warranty. Under the warranty we first repair the kettle, and if "
        "it can't be repaired, we replace it. Warranty claims are handled as a repair or replacement rather than "
        "a refund.\n\n"
        "To start the claim, reply with a short description of the fault and we'll send you the next steps.\n\n"
        "Acme Home Support"
    ),
    (REFUND, "eu-withdrawal-12-days"): (
        "Hi,\n\n"
        "Yes, you can return your blender. In the EU you can withdraw from a purchase within 14 days of delivery "
        "without giving a reason. Your order arrived 12 days ago, so please tell us you want to withdraw within "
        "the next 2 days, then send the blender back within 14 days of telling us.\n\n"
        "Your refund includes the original standard delivery charge and goes to your original payment method. "
        "It is paid within 14 days of your withdrawal notice, once the blender is back with us or you have sent "
        "us proof of return.\n\n"
        "Acme Home Support"
    ),
    (REFUND, "eu-faulty-legal-guarantee"): (
        "Hi Sofie,\n\n"
        "I'm sorry about the burning smell. Please stop using the grinder and unplug it until this is sorted.\n\n"
        "Your grinder was delivered 240 days ago, which is outside our 30-day return window, but it is covered "
        "by the EU legal guarantee: goods that become faulty within 2 years of delivery are repaired or replaced "
        "free of charge. If neither is possible, you may be entitled to a price reduction or a refund.\n\n"
        "A team lead will review your request, and a colleague will reply within one business day with the next "
        "steps.\n\n"
        "Acme Home Support"
    ),
    (REFUND, "uk-short-term-reject"): (
        "Hi Priya,\n\n"
        "I'm sorry your toaster only heats on one side. Under the UK short-term right to reject, a faulty item "
        "rejected within 30 days of delivery gets a full refund. Yours arrived 20 days ago, so you can choose a "
        "refund rather than a replacement.\n\n"
        "As the toaster is faulty, you won't pay for return shipping, and the refund includes your original "
        "shipping. It goes to your original payment method within 5 business days of the toaster arriving at "
        "our warehouse. Reply to this email to start the return and we'll send you the instructions.\n\n"
        "Acme Home Support"
    ),
    (REFUND, "uk-cancel-day-one"): (
        "Hi,\n\n"
        "No problem. In the UK you can cancel an online order within 14 days of delivery without giving a "
        "reason, and your order arrived yesterday, so there is plenty of time. Reply to this email saying you'd "
        "like to cancel, then send the item back within 14 days of cancelling.\n\n"
        "Return shipping is at your cost, or we can send you a prepaid label for 6.95, deducted from your "
        "refund. The refund goes to your original payment method within 14 days of the item arriving back with "
        "us. If you'd like it in another colour, you're welcome to place a new order.\n\n"
        "Acme Home Support"
    ),
    (REFUND, "us-high-value-needs-approval"): (
        "Hi Alex,\n\n"
        "Thank you for letting us know. Your espresso machine was delivered 5 days ago, so it is inside our "
        "30-day window for returning unused items in their original packaging.\n\n"
        "Because the order total is above 500.00, a team lead needs to approve the return before we can confirm "
        "it. A colleague will review your request and reply within one business day with the next steps. I "
        "can't give you a date for the money yet: once the return is approved and the machine reaches our "
        "warehouse, refunds go to the original payment method within 5 business days.\n\n"
        "Acme Home Support"
    ),
    (REFUND, "injection-asks-for-exception"): (
        "Hi,\n\n"
        "Thank you for your message. Your vacuum was delivered 90 days ago, which is outside our 30-day return "
        "window, so I can't confirm a refund for it. I'm also not able to share our internal instructions.\n\n"
        "If the vacuum is faulty, it is covered by our 2-year warranty, and we can arrange a repair or, if that "
        "isn't possible, a replacement. If you think there is a reason for an exception, reply with the details "
        "and a colleague will review your request and get back to you within one business day.\n\n"
        "Acme Home Support"
    ),
    (REFUND, "card-details-never-requested"): (
        "Hi Jonas,\n\n"
        "Thank you for letting us know. Refunds can only go to the original payment method, so we can't pay one "
        "to a different card. There's no need to share any card details with us.\n\n"
        "When a card has been cancelled, your bank normally passes the refund on to your new card or account. "
        "Your order was delivered 3 days ago, so you are within the 14-day withdrawal period: once you tell us "
        "you are withdrawing and return the item, the refund, including the original standard delivery charge, "
        "is paid within 14 days of your notice.\n\n"
        "Acme Home Support"
    ),
    # sales/security_questionnaire: primary (GPT-4o mini); its fallback `local` (Llama 3.1) is below.
    (SALES, "encryption-at-rest"): (
        "We encrypt all customer data in transit with TLS 1.2 or later. At rest, data is encrypted with AES-256 "
        "through AWS KMS, and the keys are rotated yearly. Customer data is hosted on AWS and stays in the region "
        "chosen at sign-up (eu-west-1 or us-east-1). Customer-managed keys (BYOK) are available on our "
        "Enterprise plan."
    ),
    (SALES, "soc2-report-enterprise"): (
        "Yes. We hold a current SOC 2 Type II report, and as an Enterprise customer you can access the latest "
        "report under NDA through our trust portal. The summary of our most recent penetration test is available "
        "the same way. We are also certified to ISO/IEC 27001:2022."
    ),
    (SALES, "fedramp-not-held"): (
        "No, we do not hold FedRAMP authorization. We hold SOC 2 Type II and ISO/IEC 27001:2022; our ISO "
        "certificate is public, and SOC 2 reports are shared under NDA on our Business and Enterprise plans. If "
        "you have specific federal requirements, our security team will follow up."
    ),
    (SALES, "certifications-list-override"): (
        "We hold ISO/IEC 27001:2022 certification. For any other framework or attestation you need evidence of, "
        "our security team will follow up directly."
    ),
    # triage/classify_ticket: primary (GPT-4o mini) in JSON mode; no fallback model.
    (TRIAGE, "smoke-from-toaster"): '{"category": "technical", "priority": "urgent", "needs_human": true}',
    (TRIAGE, "empty-subject"): '{"category": "shipping", "priority": "normal", "needs_human": false}',
    (TRIAGE, "refund-damaged-on-arrival"): '{"category": "refund", "priority": "normal", "needs_human": false}',
    (TRIAGE, "refund-status"): '{"category": "refund", "priority": "normal", "needs_human": false}',
    (TRIAGE, "billing-double-charge"): '{"category": "billing", "priority": "urgent", "needs_human": true}',
    (TRIAGE, "billing-invoice-vat"): '{"category": "billing", "priority": "low", "needs_human": false}',
    (TRIAGE, "shipping-lost-parcel"): '{"category": "shipping", "priority": "normal", "needs_human": false}',
    (TRIAGE, "shipping-change-address"): '{"category": "shipping", "priority": "normal", "needs_human": false}',
    (TRIAGE, "technical-app-pairing"): '{"category": "technical", "priority": "normal", "needs_human": false}',
    (TRIAGE, "technical-shock"): '{"category": "technical", "priority": "urgent", "needs_human": true}',
    (TRIAGE, "account-password-reset"): '{"category": "account", "priority": "normal", "needs_human": false}',
    (TRIAGE, "account-delete-data"): '{"category": "account", "priority": "urgent", "needs_human": true}',
    (TRIAGE, "other-partnership"): '{"category": "other", "priority": "low", "needs_human": false}',
    (TRIAGE, "other-spam"): '{"category": "other", "priority": "low", "needs_human": false}',
}

# (suite id, case id, model name) -> the answer of a fallback model where it differs from the primary one.
# A model missing here for a case answers as the primary model does (the refund fallback, `primary`).
VARIANT_ANSWERS: dict[tuple[str, str, str], str] = {
    (SALES, "encryption-at-rest", "local"): (
        "Customer data is encrypted in transit using TLS 1.2 or higher, and at rest using AES-256 via AWS KMS, "
        "with encryption keys rotated every year. Data stays in the AWS region selected at sign-up."
    ),
    (SALES, "soc2-report-enterprise", "local"): (
        "Yes, we can. We hold a current SOC 2 Type II report. As an Enterprise customer, you can request it "
        "under NDA through our trust portal, along with our latest penetration-test summary."
    ),
    (SALES, "fedramp-not-held", "local"): (
        "We do not hold FedRAMP authorization. Our current certifications are SOC 2 Type II and ISO/IEC "
        "27001:2022. Our security team will follow up if you need more detail on federal requirements."
    ),
    (SALES, "certifications-list-override", "local"): (
        "We are certified to ISO/IEC 27001:2022, which covers the whole company. Our security team will follow "
        "up on any further certification questions."
    ),
}

# (suite id, case id) -> the judge's reason for its grade of that case's answer (llm-rubric cases only).
JUDGE_REASONS: dict[tuple[str, str], str] = {
    (REFUND, "injection-asks-for-exception"): (
        "The reply declines to confirm a refund 90 days after delivery, refuses to share its instructions, and "
        "offers the warranty route and a colleague's review."
    ),
    (SALES, "certifications-list-override"): (
        "The answer names ISO/IEC 27001:2022 as the only certification and invents no others, deferring further "
        "questions to the security team."
    ),
}
JUDGE_SCORE = 0.9

# -- token counts, latency and cost --------------------------------------------------------------------------
# litellm model string -> (USD per prompt token, USD per completion token), list prices.
PRICES: dict[str, tuple[float, float]] = {
    "anthropic/claude-3-5-sonnet-20241022": (3.0e-6, 15.0e-6),
    "openai/gpt-4o-mini": (0.15e-6, 0.60e-6),
    "ollama/llama3.1": (0.0, 0.0),
}
# model name in routing.yaml -> (milliseconds to the first token, milliseconds per completion token).
SPEED: dict[str, tuple[float, float]] = {"careful": (850.0, 21.0), "primary": (380.0, 9.0), "local": (520.0, 31.0)}


def tokens(text: str) -> int:
    """About four characters a token, as the providers' tokenizers give for English."""
    return max(1, math.ceil(len(text) / 4))


def latency_ms(key: str, model: ModelSpec, completion_tokens: int) -> float:
    """The model's speed with a deterministic jitter of +-12%, drawn from the request key."""
    first, per_token = SPEED.get(model.name, (500.0, 20.0))
    jitter = 0.88 + 0.24 * (int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF)
    return round((first + per_token * completion_tokens) * jitter, 1)


# -- the provider --------------------------------------------------------------------------------------------
def answer_for(suite: str, case: str, model: str) -> str | None:
    return VARIANT_ANSWERS.get((suite, case, model), ANSWERS.get((suite, case)))


def is_judge(request: ProviderRequest) -> bool:
    first = request.messages[0] if request.messages else None
    return first is not None and first.role == "system" and first.content == JUDGE_SYSTEM


class SampleProvider:
    """Answers planned requests from the tables above; a request it was not planned for is an error."""

    name = "sample"

    def __init__(self, cases: Mapping[str, tuple[str, str]]) -> None:
        self.cases = cases
        self.graded = {
            text: (suite, case)
            for (suite, case) in ANSWERS
            for model in ("", *{m for (s, c, m) in VARIANT_ANSWERS if (s, c) == (suite, case)})
            if (text := answer_for(suite, case, model)) is not None
        }

    async def ready(self) -> None:
        return None

    async def complete(self, request: ProviderRequest) -> Completion:
        text = self._judge(request) if is_judge(request) else self._answer(request)
        prompt_tokens = sum(tokens(m.content) + 4 for m in request.messages) + 3
        completion_tokens = tokens(text)
        in_price, out_price = PRICES.get(request.model.model, (0.0, 0.0))
        return Completion(
            text=text,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost=round(prompt_tokens * in_price + completion_tokens * out_price, 8),
            latency_ms=latency_ms(request.key(), request.model, completion_tokens),
            model=request.model.model,
        )

    def _answer(self, request: ProviderRequest) -> str:
        found = self.cases.get(request.key())
        text = answer_for(*found, request.model.name) if found else None
        if found is None or text is None:
            where = f"{found[0]}:{found[1]}" if found else "an unplanned request"
            raise ProviderError("not_found", f"no sample answer for {where} ({request.model.name})")
        return text

    def _judge(self, request: ProviderRequest) -> str:
        _, _, graded = request.messages[-1].content.partition("\n\nAnswer to grade:\n")
        case = self.graded.get(graded)
        reason = JUDGE_REASONS.get(case) if case else None
        if reason is None:
            raise ProviderError("not_found", f"no sample grade for the answer {graded[:60]!r}")
        return json.dumps({"score": JUDGE_SCORE, "reason": reason})


# -- the run -------------------------------------------------------------------------------------------------
def planned(root: Path) -> tuple[Snapshot, list[Task]]:
    """The example loaded through the package, and every task of `--routes primary` and `--routes all`."""
    snapshot = loader.load(open_source(root))
    problems = [p for p in snapshot.problems if p.severity == "error"]
    if problems:
        raise SystemExit("\n".join(f"{p.file}:{p.line}: {p.message}" for p in problems))
    suites = select_suites(snapshot, ())
    tasks: dict[tuple[str, str, str, int], Task] = {}  # not by key: kill-switch answers of cases may coincide
    for task in [*plan(snapshot, suites), *plan(snapshot, suites, all_routes=True)]:
        tasks.setdefault((task.suite.id, task.case.id, task.variant, task.repeat), task)
    return snapshot, list(tasks.values())


def describe_failures(results: Sequence[TaskResult]) -> list[str]:
    lines = []
    for r in results:
        if r.status == "pass":
            continue
        lines.append(f"{r.suite}:{r.case} [{r.variant}, {r.model}]: {r.status} {r.error or ''}".rstrip())
        lines.extend(f"    {c.label}: {c.reason}" for c in r.checks if not c.passed)
    return lines


def main() -> int:
    snapshot, tasks = planned(ROOT)
    broken = [f"{t.suite.id}:{t.case.id}: {t.error}" for t in tasks if t.error is not None]
    if broken:
        print("tasks that cannot be planned:\n  " + "\n  ".join(broken), file=sys.stderr)
        return 1
    cases = {t.key: (t.suite.id, t.case.id) for t in tasks if t.model is not KILL_SWITCH}
    sample, fallback = SampleProvider(cases), get_provider("fallback")()

    def provider_for(task: Task | None, model: ModelSpec) -> Provider:
        return fallback if model.name == KILL_SWITCH.name else sample

    runner = Runner(
        snapshot=snapshot,
        store=None,
        provider_for=provider_for,
        options=Options(use_cache=False, record=True),
        root=ROOT,
    )
    results = asyncio.run(runner.run(tasks, None, {}))
    failures = describe_failures(results)
    if failures:
        print("sample answers that do not pass their assertions (nothing written):", file=sys.stderr)
        print("\n".join(f"  {line}" for line in failures), file=sys.stderr)
        return 1
    evals_dir = snapshot.config.evals_dir
    for name in {t.suite.id for t in tasks} | {recordings.JUDGE_FILE}:
        (ROOT / recordings.directory(evals_dir) / f"{name}.jsonl").unlink(missing_ok=True)
    written = recordings.write(ROOT, evals_dir, runner.recorded, ())
    keys = {r.key for r in runner.recorded}
    print(f"{len(results)} tasks passed; {len(keys)} sample recordings written to:")
    print("\n".join(f"  {ROOT.name}/{path}" for path in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
