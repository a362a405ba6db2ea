"""Projects for eval tests: prompts whose answers the test provider server controls through `REPLY:` lines."""

from __future__ import annotations

SECRET = "sk-test-Secr3tValue0123456789abcdefXYZ"


def routing_for(base_url: str, *, retries: int = 2, timeout: float = 5, extra: str = "") -> str:
    return (
        "defaults:\n  model: main\n  params: {temperature: 0}\n"
        f"  timeout: {timeout}\n  retries: {retries}\n"
        "models:\n"
        f"  main: {{model: openai/test-model, api_base: '{base_url}', api_key_env: PROMPTOPS_TEST_KEY}}\n"
        f"  backup: {{model: openai/backup-model, api_base: '{base_url}', api_key_env: PROMPTOPS_TEST_KEY}}\n"
        "judge: main\n" + extra
    )


ANSWER_PROMPT = (
    "---\ndescription: answers\nowner: '@team'\nrisk: medium\ninputs:\n  answer: {type: string}\n"
    "fallback: 'Sorry, a human will answer.'\n---\n"
    "system:\nYou answer briefly.\nuser:\nREPLY: {{ answer }}\n"
)


def suite(cases: dict[str, str], *, threshold: float = 1.0, repeat: int = 1, word: str = "yes") -> str:
    lines = [f"prompt: answer\nthreshold: {threshold}\nrepeat: {repeat}\ncases:"]
    for case_id, answer in cases.items():
        lines.append(
            f"  - id: {case_id}\n    vars: {{answer: '{answer}'}}\n    assert:\n"
            f"      - {{type: contains, value: {word}}}"
        )
    return "\n".join(lines) + "\n"


def project(base_url: str, cases: dict[str, str], **kwargs: object) -> dict[str, str | bytes | None]:
    retries = int(kwargs.pop("retries", 2))  # type: ignore[call-overload]
    return {
        "promptops.yaml": "project: evaltest\n",
        "routing.yaml": routing_for(base_url, retries=retries),
        "prompts/answer.prompt": ANSWER_PROMPT,
        "evals/answer.yaml": suite(cases, **kwargs),  # type: ignore[arg-type]
    }
