"""diff(base, head): every change kind, its classification, contract rules and the version bump (no git)."""

from __future__ import annotations

import json

import jsonschema
import pytest

from promptops import diff as d
from promptops import loader
from promptops.loader import schema
from promptops.report import diff as writers
from promptops.workspace import DictSource

ROUTING = """\
defaults:
  model: fast
  params: {temperature: 0}
models:
  fast: {model: openai/gpt-4o-mini}
  smart: {model: openai/gpt-4o}
routes:
  support/*: {model: smart, fallbacks: [fast]}
judge: smart
"""
REFUND = """\
---
description: refund answers
owner: '@support'
risk: high
inputs:
  order_total: {type: number, minimum: 0}
  region: {type: string, enum: [us, eu]}
output:
  type: object
  properties:
    decision: {type: string, enum: [approve, deny]}
    reason: {type: string}
  required: [decision]
sources: [docs/*.md]
fallback: A human will answer.
---
system:
{% include "shared/_tone.j2" %}
Decide on refunds for {{ region }}.
user:
Total: {{ order_total }}
"""
GREET = """\
---
owner: '@team'
inputs:
  name: {type: string}
---
system:
{% include "shared/_tone.j2" %}
user:
Hello {{ name }}!
"""
GREET_SUITE = """\
prompt: greet
threshold: 0.9
repeat: 3
max_flaky: 1
min_consistency: 0.8
cases:
  - id: ada
    vars: {name: Ada}
    assert:
      - {type: contains, value: Ada}
      - {type: similar, value: Hello Ada, threshold: 0.8}
  - id: bob
    vars: {name: Bob}
    assert:
      - {type: contains, value: Bob}
"""
REFUND_SUITE = """\
prompt: support/refund
cases:
  - id: small
    vars: {order_total: 10, region: us}
    assert:
      - {type: is-json}
"""
BASE = {
    "promptops.yaml": "project: t\n",
    "routing.yaml": ROUTING,
    "prompts/greet.prompt": GREET,
    "prompts/shared/_tone.j2": "Be brief.\n",
    "prompts/support/refund.prompt": REFUND,
    "docs/policy.md": "Refunds within 30 days.\n",
    "evals/greet.yaml": GREET_SUITE,
    "evals/support/refund.yaml": REFUND_SUITE,
}


def run(base: dict[str, str], head: dict[str, str], **kwargs: object) -> d.DiffReport:
    a, b = DictSource(dict(base), "base"), DictSource(dict(head), "head")
    return d.diff(loader.load(a), loader.load(b), base_source=a, head_source=b, **kwargs)  # type: ignore[arg-type]


def changed(**files: str | None) -> dict[str, str]:
    head = dict(BASE)
    for path, text in files.items():
        path = path.replace("__", "/").replace("_DOT_", ".")
        if text is None:
            head.pop(path, None)
        else:
            head[path] = text
    return head


def edit(path: str, old: str, new: str, files: dict[str, str] | None = None) -> dict[str, str]:
    files = dict(files or BASE)
    assert old in files[path], (path, old)
    files[path] = files[path].replace(old, new)
    return files


def only(report: d.DiffReport, prompt: str) -> d.PromptDiff:
    found = [p for p in report.prompts if p.id == prompt]
    assert found, [p.id for p in report.prompts]
    return found[0]


def valid(report: d.DiffReport) -> dict[str, object]:
    doc = d.as_dict(report)
    jsonschema.validate(doc, schema("diff"))
    return doc


# -- no change -----------------------------------------------------------------------------------------------


def test_identical_snapshots_have_no_change_and_no_bump() -> None:
    report = run(BASE, BASE)
    assert not report.changed and d.version_bump(report) is None
    assert valid(report)["summary"]["changes"] == 0  # type: ignore[index]
    assert "No changes" in writers.to_text(d.as_dict(report))


def test_comments_whitespace_and_yaml_style_are_not_changes() -> None:
    head = dict(BASE)
    head["routing.yaml"] = "# who serves what\n" + ROUTING.replace(
        "judge: smart", "judge: smart   # grades rubrics\n\n"
    )
    head["evals/greet.yaml"] = "# greet suite\n" + GREET_SUITE.replace("threshold: 0.9", "threshold:   0.90")
    head["prompts/greet.prompt"] = GREET.replace("owner: '@team'", '# the owner\nowner: "@team"')
    head["evals/support/refund.yaml"] = json.dumps(
        {
            "prompt": "support/refund",
            "cases": [{"id": "small", "vars": {"order_total": 10, "region": "us"}, "assert": [{"type": "is-json"}]}],
        }
    )
    report = run(BASE, head)
    assert not report.changed, report


# -- prompts, partials, templates and rendering -------------------------------------------------------------


def test_a_partial_change_shows_in_every_prompt_it_reaches_with_rendered_messages() -> None:
    report = run(BASE, edit("prompts/shared/_tone.j2", "Be brief.", "Be very brief."))
    assert [p.name for p in report.partials] == ["shared/_tone.j2"]
    assert report.partials[0].reaches == ("greet", "support/refund")
    greet = only(report, "greet")
    assert greet.behaviour and not greet.template_diff
    assert [c.field for c in greet.changes if c.kind == "partial"] == ["shared/_tone.j2"]
    assert greet.rendered_cases == 2 and [r.case for r in greet.rendered] == ["ada", "bob"]
    message = greet.rendered[0].messages[0]
    assert (message.index, message.role, message.status) == (1, "system", "changed")
    assert "-Be brief." in message.diff and "+Be very brief." in message.diff
    assert d.version_bump(report) == "patch" and not d.is_breaking(report)
    assert d.high_risk(report) == ["support/refund"]
    valid(report)


def test_a_template_change_has_a_unified_diff_and_message_level_changes() -> None:
    head = edit("prompts/greet.prompt", "user:\nHello {{ name }}!\n", "user:\nHi {{ name }}!\nassistant:\nHello.\n")
    greet = only(run(BASE, head), "greet")
    assert "-Hello {{ name }}!" in greet.template_diff and "+Hi {{ name }}!" in greet.template_diff
    statuses = [(m.index, m.role, m.status) for m in greet.rendered[0].messages]
    assert statuses == [(2, "user", "changed"), (3, "assistant", "added")]


def test_a_render_error_on_one_side_is_shown_not_raised() -> None:
    report = run(BASE, edit("prompts/shared/_tone.j2", "Be brief.", "Be {{ mood }}."))
    case = only(report, "greet").rendered[0]
    assert case.base_error is None and case.head_error and "mood" in case.head_error
    assert "fails to render at head" in writers.to_text(valid(report))


def test_added_removed_prompts_and_the_bump() -> None:
    added = run(BASE, changed(prompts__new_DOT_prompt="Hello.\n"))
    assert [(p.id, p.status) for p in added.prompts] == [("new", "added")]
    assert d.version_bump(added) == "minor"
    removed = run(BASE, changed(prompts__greet_DOT_prompt=None))
    assert [(p.id, p.status) for p in removed.prompts] == [("greet", "removed")]
    assert d.is_breaking(removed) and d.version_bump(removed) == "major"


def test_rename_with_git_renames_is_one_renamed_prompt_and_breaking() -> None:
    head = changed(prompts__greet_DOT_prompt=None, prompts__hello_DOT_prompt=GREET)
    report = run(BASE, head, renames={"prompts/greet.prompt": "prompts/hello.prompt"})
    (p,) = [p for p in report.prompts if p.status == "renamed"]
    assert (p.old_id, p.id, p.old_path) == ("greet", "hello", "prompts/greet.prompt")
    assert d.version_bump(report) == "major"
    assert d.changed_prompts(report) == [{"prompt": "hello", "change": "renamed from greet (breaking)"}]
    without = run(BASE, head)
    assert sorted((p.id, p.status) for p in without.prompts) == [("greet", "removed"), ("hello", "added")]


def test_a_prompt_that_fails_to_load_is_a_problem_not_a_removal() -> None:
    report = run(BASE, changed(prompts__greet_DOT_prompt="---\ninputs: [\n---\nHi\n"))
    assert not report.prompts
    assert [(p.side, p.file) for p in report.problems] == [("head", "prompts/greet.prompt")]
    assert report.changed
    assert "Failed to load" in writers.to_text(valid(report))


def test_metadata_changes_are_not_behaviour_affecting_and_lowering_high_risk_weakens() -> None:
    head = edit("prompts/support/refund.prompt", "risk: high", "risk: medium")
    head = edit("prompts/support/refund.prompt", "refund answers", "answers refunds", head)
    p = only(run(BASE, head), "support/refund")
    assert not p.behaviour and p.high_risk
    risk = next(c for c in p.changes if c.field == "risk")
    assert risk.weakened and "high-risk lint rules" in risk.note


def test_fallback_params_and_sources_fields_are_behaviour_affecting() -> None:
    head = edit(
        "prompts/support/refund.prompt", "fallback: A human will answer.", "fallback: Soon.\nparams: {max_tokens: 50}"
    )
    p = only(run(BASE, head), "support/refund")
    assert {c.field for c in p.changes} == {"fallback", "params.max_tokens"} and p.behaviour


# -- routing -------------------------------------------------------------------------------------------------


def test_a_model_swap_is_resolved_per_prompt_and_listed_as_a_routing_edit() -> None:
    report = run(BASE, edit("routing.yaml", "support/*: {model: smart", "support/*: {model: fast"))
    p = only(report, "support/refund")
    model = next(c for c in p.changes if c.field == "model")
    assert model.kind == "route" and model.note == "model swap" and model.behaviour
    assert model.before == {"name": "smart", "model": "openai/gpt-4o", "api_base": None, "api_key_env": None}
    assert [c.field for c in report.routing] == ["routes.support/*.model"]
    assert [x.id for x in report.prompts] == ["support/refund"]  # greet's route did not change
    assert p.route is not None and p.route[1]["model"]["name"] == "fast"  # type: ignore[index]
    valid(report)


def test_params_timeout_retries_fallbacks_and_judge() -> None:
    head = edit("routing.yaml", "params: {temperature: 0}", "params: {temperature: 0.5}\n  timeout: 10\n  retries: 5")
    head = edit("routing.yaml", "fallbacks: [fast]", "fallbacks: []", head)
    head = edit("routing.yaml", "judge: smart", "judge: fast", head)
    report = run(BASE, head)
    fields = {c.field for c in only(report, "support/refund").changes}
    assert fields == {"params.temperature", "timeout", "retries", "fallbacks"}
    judge = next(c for c in report.routing if c.field == "judge")
    assert (judge.before["name"], judge.after["name"]) == ("smart", "fast")  # type: ignore[index]
    assert not judge.behaviour


def test_a_prompts_own_params_can_mask_a_default_param_change() -> None:
    head = edit("prompts/greet.prompt", "owner: '@team'", "owner: '@team'\nparams: {temperature: 0}")
    assert {c.field for c in only(run(BASE, head), "greet").changes} == {"params.temperature"}
    after = edit("routing.yaml", "params: {temperature: 0}", "params: {temperature: 1}", head)
    report = run(head, after)
    assert "greet" not in [p.id for p in report.prompts]  # the prompt's own temperature wins
    assert "support/refund" in [p.id for p in report.prompts]


# -- inputs and output contracts -----------------------------------------------------------------------------

REFUND_INPUTS = "  order_total: {type: number, minimum: 0}\n  region: {type: string, enum: [us, eu]}\n"


@pytest.mark.parametrize(
    ("new", "breaking", "why"),
    [
        (REFUND_INPUTS + "  locale: {type: string}\n", True, "new required input 'locale'"),
        (REFUND_INPUTS + "  locale: {type: string, default: en}\n", False, ""),
        (REFUND_INPUTS.replace("minimum: 0", "minimum: 10"), True, "inputs.order_total.minimum: 0 → 10"),
        (REFUND_INPUTS.replace("minimum: 0", "minimum: -5"), False, ""),
        (REFUND_INPUTS.replace(", minimum: 0", ""), False, ""),
        (REFUND_INPUTS.replace("type: number", "type: integer"), True, "type number → integer"),
        (REFUND_INPUTS.replace("type: number", "type: [number, string]"), False, ""),
        (REFUND_INPUTS.replace("[us, eu]", "[us]"), True, 'no longer allows ["eu"]'),
        (REFUND_INPUTS.replace("[us, eu]", "[us, eu, uk]"), False, ""),
        (REFUND_INPUTS.replace("minimum: 0}", "minimum: 0, description: EUR}"), False, ""),
        ("  region: {type: string, enum: [us, eu]}\n", False, ""),  # an input dropped: callers may still send it
    ],
)
def test_input_changes_break_callers_only_when_a_value_they_sent_is_refused(new: str, breaking: bool, why: str) -> None:
    head = edit("prompts/support/refund.prompt", REFUND_INPUTS, new)
    head = edit(
        "prompts/support/refund.prompt", "Total: {{ order_total }}", "Total: {{ order_total | default(0) }}", head
    )
    report = run(BASE, head)
    assert d.is_breaking(report) is breaking, [c for _, c in report.changes()]
    assert d.version_bump(report) == ("major" if breaking else "patch")
    if why:
        assert any(why in c.note for _, c in report.changes() if c.breaking)


def test_an_optional_input_made_required_is_breaking() -> None:
    head = edit("prompts/support/refund.prompt", "inputs:\n", "required: [region]\ninputs:\n")
    base = edit("prompts/support/refund.prompt", "inputs:\n", "required: []\ninputs:\n")
    (change,) = [c for _, c in run(base, head).changes() if c.field == "required"]
    assert change.breaking and change.note == "input 'region' is now required"
    assert not d.is_breaking(run(head, base))  # the other way round relaxes it


OUTPUT = "    decision: {type: string, enum: [approve, deny]}\n    reason: {type: string}\n  required: [decision]\n"


@pytest.mark.parametrize(
    ("new", "breaking", "why"),
    [
        (
            "    decision: {type: string, enum: [approve, deny]}\n  required: [decision]\n",
            True,
            "output.reason: removed",
        ),
        (OUTPUT.replace("reason: {type: string}", "reason: {type: integer}"), True, "type string → integer"),
        (
            OUTPUT.replace("reason: {type: string}", "reason: {type: [string, 'null']}"),
            True,
            "type string → string|null",
        ),
        (OUTPUT.replace("required: [decision]", "required: []"), True, "'decision' is no longer required"),
        (OUTPUT.replace("[approve, deny]", "[approve, deny, escalate]"), True, 'now allows ["escalate"]'),
        (OUTPUT.replace("[approve, deny]", "[approve]"), False, ""),
        (OUTPUT.replace("required: [decision]", "required: [decision, reason]"), False, ""),
        (OUTPUT.replace("  required:", "    amount: {type: number}\n  required:"), False, ""),
        (OUTPUT.replace("reason: {type: string}", "reason: {type: string, description: why}"), False, ""),
        (OUTPUT.replace("reason: {type: string}", "reason: {type: string, maxLength: 200}"), False, ""),
        (OUTPUT.replace("reason: {type: string}", "reason: {type: string, pattern: '^R'}"), False, ""),
    ],
)
def test_output_changes_break_consumers_only_when_new_answers_can_surprise_them(
    new: str, breaking: bool, why: str
) -> None:
    base = edit(
        "prompts/support/refund.prompt", OUTPUT, OUTPUT.replace("reason: {type: string}", "reason: {type: string}")
    )
    report = run(base, edit("prompts/support/refund.prompt", OUTPUT, new))
    (change,) = [c for c in only(report, "support/refund").changes if c.field == "output"]
    assert change.breaking is breaking, change
    assert why in change.note


def test_output_added_or_removed_is_breaking_and_a_pattern_dropped_is_too() -> None:
    with_pattern = edit(
        "prompts/support/refund.prompt", "reason: {type: string}", "reason: {type: string, pattern: '^R'}"
    )
    assert d.is_breaking(run(with_pattern, BASE))
    no_output = dict(BASE)
    no_output["prompts/support/refund.prompt"] = REFUND.replace(
        REFUND[REFUND.index("output:") : REFUND.index("sources:")], ""
    )
    assert d.is_breaking(run(BASE, no_output)) and d.is_breaking(run(no_output, BASE))
    notes = [c.note for _, c in run(no_output, BASE).changes() if c.breaking]
    assert notes == ["the answer becomes JSON checked against a schema (it was free text)"]


# -- pinned sources -----------------------------------------------------------------------------------------


def test_a_pinned_source_document_change_is_behaviour_affecting() -> None:
    report = run(BASE, changed(docs__policy_DOT_md="Refunds within 14 days.\n", docs__new_DOT_md="New.\n"))
    p = only(report, "support/refund")
    assert [(c.kind, c.field, c.before is None) for c in p.changes] == [
        ("source", "docs/new.md", True),
        ("source", "docs/policy.md", False),
    ]
    assert p.behaviour


def test_the_changed_paths_hint_skips_documents_that_did_not_change() -> None:
    head = changed(docs__policy_DOT_md="Refunds within 14 days.\n")
    assert not run(BASE, head, changed={"prompts/other.prompt"}).prompts
    assert run(BASE, head, changed={"docs/policy.md"}).prompts


# -- eval suites ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "weakened"),
    [
        ("threshold: 0.9", "threshold: 0.8", True),
        ("threshold: 0.9", "threshold: 1", False),
        ("repeat: 3", "repeat: 1", True),
        ("max_flaky: 1", "max_flaky: 2", True),
        ("max_flaky: 1\n", "", True),
        ("max_flaky: 1", "max_flaky: 0", False),
        ("min_consistency: 0.8", "min_consistency: 0.5", True),
        ("min_consistency: 0.8\n", "", True),
        ("      - {type: contains, value: Ada}\n", "", True),
        ("  - id: bob\n    vars: {name: Bob}\n    assert:\n      - {type: contains, value: Bob}\n", "", True),
        (
            "{type: similar, value: Hello Ada, threshold: 0.8}",
            "{type: similar, value: Hello Ada, threshold: 0.5}",
            True,
        ),
        (
            "{type: similar, value: Hello Ada, threshold: 0.8}",
            "{type: similar, value: Hello Ada, threshold: 0.9}",
            False,
        ),
        ("{type: contains, value: Bob}", "{type: contains, value: Bob}\n      - {type: length, max: 100}", False),
        ("vars: {name: Bob}", "vars: {name: Rob}", False),
        ("{type: contains, value: Bob}", "{type: icontains, value: Bob}", True),  # one removed, one added
    ],
)
def test_suite_changes_and_weakened_gates(old: str, new: str, weakened: bool) -> None:
    report = run(BASE, edit("evals/greet.yaml", old, new))
    (suite,) = report.suites
    assert (
        [c.weakened for c in suite.all_changes].count(True) >= 1
        if weakened
        else not any(c.weakened for c in suite.all_changes)
    ), suite
    assert bool(d.policy_failures(report, {"weakened-gate"})) is weakened
    assert d.version_bump(report) == "patch"
    valid(report)


def test_suites_added_removed_and_retargeted() -> None:
    removed = run(BASE, changed(evals__greet_DOT_yaml=None))
    assert [(s.id, s.status) for s in removed.suites] == [("greet", "removed")]
    assert removed.suites[0].changes[0].weakened
    added = run(BASE, changed(evals__more_DOT_yaml=GREET_SUITE))
    assert [(s.id, s.status, s.changes[0].weakened) for s in added.suites] == [("more", "added", False)]
    moved = run(
        BASE,
        changed(evals__greet_DOT_yaml=None, evals__hello_DOT_yaml=GREET_SUITE),
        renames={"evals/greet.yaml": "evals/hello.yaml"},
    )
    assert [(s.id, s.status, s.old_id) for s in moved.suites] == [("hello", "renamed", "greet")]
    assert not any(c.weakened for _, c in moved.changes())


def test_affected_suites_are_the_changed_ones_and_those_of_behaviour_changes() -> None:
    head = edit("prompts/shared/_tone.j2", "Be brief.", "Be terse.")
    snapshot = loader.load(DictSource(head))
    assert d.affected_suites(run(BASE, head), snapshot) == ["greet", "support/refund"]
    meta = edit("prompts/greet.prompt", "owner: '@team'", "owner: '@other'")
    assert d.affected_suites(run(BASE, meta), loader.load(DictSource(meta))) == []


# -- formats -------------------------------------------------------------------------------------------------


def test_markdown_of_a_large_change_stays_under_the_comment_limit_and_says_what_it_cut() -> None:
    base = {"promptops.yaml": "project: big\n", "prompts/shared/_p.j2": "Rule one.\n"}
    for i in range(300):
        base[f"prompts/p{i:03d}.prompt"] = (
            f"system:\n{{% include 'shared/_p.j2' %}}\n{'Long line of text. ' * 20}\nuser:\nHi {i}\n"
        )
        base[f"evals/p{i:03d}.yaml"] = f"prompt: p{i:03d}\ncases:\n" + "".join(
            f"  - id: c{j}\n    vars: {{}}\n" for j in range(3)
        )
    head = {k: v.replace("Long line", "Longer line") if k.endswith(".prompt") else v for k, v in base.items()}
    head["prompts/shared/_p.j2"] = "Rule two.\n"
    report = run(base, head)
    assert len(report.prompts) == 300
    text = writers.to_markdown(valid(report))
    assert len(text) < 65_536
    assert text.startswith(writers.MARKER)
    assert "**Left out** to stay under 65,000 characters" in text and "of 300 prompts" in text
    assert text.count("<details>") == text.count("</details>")
    small = writers.to_markdown(d.as_dict(report), limit=5_000)
    assert len(small) <= 5_000 and "Left out" in small


def test_markdown_escapes_what_a_change_brings_in() -> None:
    head = edit("prompts/greet.prompt", "Hello {{ name }}!", "Hello {{ name }}! ``` <script>x</script> \x1b[31m")
    text = writers.to_markdown(d.as_dict(run(BASE, head)))
    assert "\x1b" not in text and "\\x1b" in text
    assert "````diff" in text  # a fence longer than the backticks inside


def test_changed_prompts_for_release_notes() -> None:
    head = edit("prompts/shared/_tone.j2", "Be brief.", "Be terse.")
    head = edit("prompts/greet.prompt", "owner: '@team'", "owner: '@team'\ndescription: hi", head)
    assert d.changed_prompts(run(BASE, head)) == [
        {"prompt": "greet", "change": "modified: description, partial"},
        {"prompt": "support/refund", "change": "modified: partial"},
    ]
