"""The repository model: frozen dataclasses, no I/O."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .config_model import FORMAT_VERSION as FORMAT_VERSION
from .config_model import AuditSettings as AuditSettings  # re-exported: the model of promptops.yaml
from .config_model import Config as Config
from .quickinit import quick_init

Severity = Literal["error", "warning"]
ROLES = ("system", "user", "assistant", "developer")


@dataclass(frozen=True)
class Finding:
    """One problem found in the repository, with where it is and how to fix it."""

    rule: str
    severity: Severity
    message: str
    file: str = ""
    line: int = 0
    hint: str = ""

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.file and self.line else self.file


@quick_init
@dataclass(frozen=True)
class Message:
    role: str
    content: str

    def as_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class Prompt:
    """A prompt file: frontmatter fields plus its Jinja2 body."""

    id: str
    path: str
    body: str
    body_line: int = 1
    description: str = ""
    owner: str = ""
    risk: str = "low"
    tags: tuple[str, ...] = ()
    inputs: Mapping[str, Any] = field(default_factory=dict)
    required: tuple[str, ...] | None = None
    output: Mapping[str, Any] | None = None
    sources: tuple[str, ...] = ()
    fallback: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    lines: Mapping[str, int] = field(default_factory=dict)

    def line_of(self, key: str) -> int:
        return self.lines.get(key, 1)

    @property
    def required_inputs(self) -> tuple[str, ...]:
        """Declared `required`, or every input without a default."""
        if self.required is not None:
            return self.required
        return tuple(k for k, v in self.inputs.items() if not (isinstance(v, Mapping) and "default" in v))

    @property
    def inputs_schema(self) -> dict[str, Any]:
        return {"type": "object", "properties": dict(self.inputs), "required": list(self.required_inputs)}


@dataclass(frozen=True)
class Partial:
    """An includable template (a file under prompts/ whose name starts with `_`)."""

    name: str
    path: str
    body: str


STRUCTURED_OUTPUT = ("json_schema", "json_object", "none")


@dataclass(frozen=True)
class Price:
    """What a model costs, in USD per million tokens (routing.yaml `price:`)."""

    input_per_mtok: float
    output_per_mtok: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input_per_mtok + completion_tokens * self.output_per_mtok) / 1_000_000


@dataclass(frozen=True)
class ModelSpec:
    name: str
    model: str
    api_base: str | None = None
    api_key_env: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    line: int = 0
    # How a prompt's `output` schema is asked for: json_schema (response_format with the schema), json_object
    # (any JSON; the schema still gates through the json-schema assertion) or none (no response_format at all).
    structured_output: str = "json_schema"
    price: Price | None = None  # overrides the provider's price table; None: the table's price, if any

    def as_dict(self) -> dict[str, Any]:
        """The model as a bundle and a routing diff show it; the settings added later appear only when set,
        so a bundle built without them keeps its bytes."""
        data: dict[str, Any] = {
            "name": self.name, "model": self.model, "api_base": self.api_base, "api_key_env": self.api_key_env
        }  # fmt: skip
        if self.structured_output != "json_schema":
            data["structured_output"] = self.structured_output
        if self.price is not None:
            data["price"] = {"input_per_mtok": self.price.input_per_mtok, "output_per_mtok": self.price.output_per_mtok}
        return data


@dataclass(frozen=True)
class Route:
    pattern: str
    model: str | None = None
    fallbacks: tuple[str, ...] | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    timeout: float | None = None
    retries: int | None = None
    line: int = 0


@dataclass(frozen=True)
class Routing:
    path: str = "routing.yaml"
    model: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    timeout: float = 60.0
    retries: int = 2
    fallbacks: tuple[str, ...] = ()
    models: Mapping[str, ModelSpec] = field(default_factory=dict)
    routes: tuple[Route, ...] = ()
    judge: str | None = None
    lines: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ResolvedRoute:
    """The routing a prompt ends up with: its model, fallback chain and parameters."""

    prompt: str
    route: str | None
    model: ModelSpec | None
    fallbacks: tuple[ModelSpec, ...]
    params: Mapping[str, Any]
    timeout: float
    retries: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "route": self.route,
            "model": self.model.as_dict() if self.model else None,
            "fallbacks": [m.as_dict() for m in self.fallbacks],
            "params": dict(self.params),
            "timeout": self.timeout,
            "retries": self.retries,
        }


@quick_init
@dataclass(frozen=True)
class Assertion:
    type: str
    value: Any = None
    negate: bool = False
    weight: float = 1.0
    threshold: float | None = None
    fallback: bool = False
    config: Mapping[str, Any] = field(default_factory=dict)
    line: int = 0
    metric: str = ""  # the named score this assertion counts in, for the reports


@quick_init
@dataclass(frozen=True)
class Case:
    id: str
    vars: Mapping[str, Any]
    asserts: tuple[Assertion, ...] = ()
    description: str = ""
    file: str = ""
    line: int = 0
    options: Mapping[str, Any] = field(default_factory=dict)  # model, response_format, repeat


@dataclass(frozen=True)
class Suite:
    """An eval suite: the prompt it targets, its gates and its cases."""

    id: str
    path: str
    prompt: str
    cases: tuple[Case, ...] = ()
    description: str = ""
    threshold: float = 1.0
    repeat: int = 1
    min_consistency: float | None = None
    max_flaky: int | None = None
    datasets: tuple[str, ...] = ()
    lines: Mapping[str, int] = field(default_factory=dict)
    problems: tuple[Finding, ...] = ()
    metadata: tuple[str, ...] = ()  # case vars / dataset columns that are data about the case, not prompt inputs
    variant: str = ""  # the name of this prompt variant, when the suite file compares several prompts
    variants: tuple[tuple[str, str], ...] = ()  # (name, prompt id) of each variant, as the file lists them

    def line_of(self, key: str) -> int:
        return self.lines.get(key, 1)


VARIANT_SEP = "@"  # a suite file comparing prompts becomes one suite per variant: <file's suite id>@<variant>


def variant_parts(suite_id: str) -> tuple[str, str]:
    """(the suite file's id, the variant name or "") of a suite id."""
    base, sep, name = suite_id.rpartition(VARIANT_SEP)
    return (base, name) if sep and base else (suite_id, "")


@dataclass(frozen=True)
class Snapshot:
    """Everything promptops knows of a repository at one revision (or the working tree)."""

    label: str
    config: Config
    prompts: Mapping[str, Prompt]
    partials: Mapping[str, Partial]
    routing: Routing
    suites: Mapping[str, Suite]
    problems: tuple[Finding, ...] = ()
    files: tuple[str, ...] = ()
    # Reads a file of the revision the snapshot was loaded from (the pinned documents `source()` returns).
    read: Callable[[str], bytes | None] | None = field(default=None, compare=False, repr=False)
    # path -> labelled sha256 each document must hash to (a release bundle's pins); None: whatever `read` gives.
    pins: Mapping[str, str] | None = field(default=None, compare=False, repr=False)

    def problems_in(self, path: str) -> tuple[Finding, ...]:
        return tuple(p for p in self.problems if p.file == path and p.severity == "error")


# -- evaluation results --------------------------------------------------------------------------------------

Status = Literal["pass", "fail", "error", "unchecked"]


def verdict_of(statuses: Iterable[str]) -> Status:
    """A case's verdict over its runs: error when any run ended in error, unchecked when no run was checked (the
    case has no assertion that applies), pass when every checked run passed, else fail.

    The one rule behind an eval's case summaries and `diff --eval`'s baseline verdicts."""
    seen = list(statuses)
    if "error" in seen:
        return "error"
    checked = [s for s in seen if s != "unchecked"]
    if seen and not checked:
        return "unchecked"
    return "pass" if checked and all(s == "pass" for s in checked) else "fail"


@quick_init
@dataclass(frozen=True)
class CheckResult:
    """One assertion applied to one output. `error` means the check itself could not run."""

    type: str
    passed: bool
    score: float
    reason: str
    weight: float = 1.0
    negate: bool = False
    error: bool = False
    metric: str = ""

    @property
    def label(self) -> str:
        return f"not-{self.type}" if self.negate else self.type


@dataclass(frozen=True)
class Override:
    """A reviewer's verdict on one case's output, valid while the output hash matches."""

    suite: str
    case: str
    verdict: Status
    reason: str
    author: str
    time: str
    output_hash: str


@quick_init
@dataclass(frozen=True)
class TaskResult:
    """One run of one case: the output, each check, and what it cost."""

    suite: str
    case: str
    repeat: int
    model: str
    variant: str  # the role: "primary", "fallback:N" (N-th model of the fallback chain, from 1) or "kill-switch"
    key: str  # hash of the canonical request
    status: Status
    output: str | None = None
    error: str | None = None
    checks: tuple[CheckResult, ...] = ()
    score: float = 0.0
    latency_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None
    cached: bool = False
    output_hash: str = ""
    override: Override | None = None
    error_kind: str | None = None  # "input", "check", or the provider error kind (rate_limit, auth, ...)


@quick_init
@dataclass(frozen=True)
class CaseSummary:
    """The verdict of one case over its repeats, for one variant role and one cell of the run's axes.

    A case's identity is (suite, case, variant, axes): the model is not part of it unless the run is a model
    matrix (then `axes` holds {"model": NAME}), so a baseline pairs a case across a model swap."""

    suite: str
    case: str
    model: str
    variant: str
    runs: int
    passed_runs: int
    failed_runs: int
    error_runs: int
    verdict: Status
    pass_all: bool  # pass^k: every run passed
    pass_any: bool  # pass@k: at least one run passed
    agreement: float  # share of runs whose output equals the most common output
    flaky: bool  # the verdict differs between runs
    baseline: str | None = None  # regressed, fixed, still-failing, flaky, unchecked, unchanged, new, removed
    unchecked_runs: int = 0  # runs with no assertion to apply: neither passes nor failures
    axes: dict[str, str] = field(default_factory=dict)  # the run's dimensions, e.g. {"model": "fast"} in a matrix
    base_model: str | None = None  # the model that served the case at the baseline, when it was there
    base_verdict: str | None = None  # the case's verdict at the baseline, when it was there


@dataclass(frozen=True)
class SuiteSummary:
    suite: str
    prompt: str
    path: str
    cases: int
    passed: int
    failed: int
    errors: int
    pass_rate: float
    threshold: float
    consistency: float
    flaky: int
    min_consistency: float | None
    max_flaky: int | None
    prompt_tokens: int
    completion_tokens: int
    cost: float | None  # None: unknown, some answer came from a model without a price
    duration_s: float
    gate_passed: bool
    gate_reasons: tuple[str, ...] = ()
    axes: dict[str, str] = field(default_factory=dict)  # the row's cell: {"model": NAME} in a model matrix
    unchecked: int = 0  # cases with no assertion to apply: not in the pass rate
    missing_runs: int = 0  # planned runs with no result (an interrupted run): the gate is incomplete
    overrides: int = 0  # runs whose verdict a reviewer's override decided

    @property
    def incomplete(self) -> bool:
        return self.missing_runs > 0

    @property
    def gate(self) -> str:
        """pass, fail, or incomplete (runs missing: never a pass)."""
        return "incomplete" if self.incomplete else "pass" if self.gate_passed else "fail"


@dataclass(frozen=True)
class EvalReport:
    """Everything one `promptops eval` produced; the writers in report/ turn it into text."""

    run_id: str
    project: str
    label: str  # "working tree", or a revision
    started: str
    finished: str
    suites: tuple[SuiteSummary, ...]
    cases: tuple[CaseSummary, ...]
    results: tuple[TaskResult, ...]
    baseline: str | None = None
    interrupted: bool = False
    shard: str | None = None
    axes: tuple[str, ...] = ()  # the dimensions rows are split by: ("model",) for a model matrix
    removed: tuple[CaseSummary, ...] = ()  # cases only the baseline had: they belong to the base side alone
    base_suites: tuple[SuiteSummary, ...] = ()  # the baseline's own rows (its overrides applied)

    @property
    def passed(self) -> bool:
        return all(s.gate_passed for s in self.suites) and not self.interrupted

    @property
    def errors(self) -> int:
        return sum(s.errors for s in self.suites)
