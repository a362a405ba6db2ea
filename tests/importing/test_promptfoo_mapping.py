"""The pieces of the promptfoo mapping as laws over generated inputs: Nunjucks rewrites, CSV `__expected` cells,
javascript property-access transforms (checked by running the transform they become) and provider ids."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from promptops.checks.settings import Observation
from promptops.checks.transforms import apply
from promptops.importing.promptfoo_checks import expected_assertion, js_transform
from promptops.importing.promptfoo_text import PROVIDERS, nunjucks_to_jinja, provider_model
from promptops.model import Prompt

PROMPT = Prompt(id="p", path="prompts/p.prompt", body="x")
names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
plain = st.text(st.characters(blacklist_characters="{}%#|", blacklist_categories=("Cs",)), max_size=30)


@settings(max_examples=60, deadline=None)
@given(before=plain, name=names, after=plain)
def test_nunjucks_rewrites_are_idempotent_and_touch_only_the_tags(before: str, name: str, after: str) -> None:
    text = f"{before}{{{{ {name}.length }}}} and {{{{ {name} | dump }}}}{after}"
    once, notes = nunjucks_to_jinja(text)
    assert once == f"{before}{{{{ {name} | length }}}} and {{{{ {name} | tojson }}}}{after}"
    assert [review for _, _, review in notes] == [False, False]
    assert nunjucks_to_jinja(once) == (once, [])


KINDS = ["contains", "icontains", "regex", "starts-with", "equals", "llm-rubric", "not-contains", "python"]


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(KINDS), value=st.text(min_size=1, max_size=20).filter(lambda v: v.strip()))
def test_an_expected_cell_with_a_known_prefix_is_that_assertion(kind: str, value: str) -> None:
    assert expected_assertion(f"{kind}: {value}") == {"type": kind, "value": value.strip()}


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=30).filter(lambda t: not any(t.startswith(k + ":") for k in ("fn", "grade", "eval"))))
def test_an_expected_cell_without_a_known_prefix_is_equals(text: str) -> None:
    raw = expected_assertion(text)
    if raw["type"] == "equals" and text.strip() not in ("is-json", "contains-json", "is-xml", "is-sql"):
        assert raw == {"type": "equals", "value": text}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=80, deadline=None)
@given(path=st.lists(names, min_size=1, max_size=3), leaf=json_values, parse=st.booleans())
def test_a_property_access_transform_selects_what_javascript_would(path: list[str], leaf: Any, parse: bool) -> None:
    doc: Any = leaf
    for key in reversed(path):
        doc = {key: doc}
    code = ("JSON.parse(output)" if parse else "output") + "".join(f".{k}" for k in path)
    steps = js_transform(code)
    assert steps == [{"json-path": "$." + ".".join(path)}]
    out = apply(steps, Observation(json.dumps(doc), PROMPT))
    assert out == (leaf if isinstance(leaf, str) else json.dumps(leaf, ensure_ascii=False))


@settings(max_examples=60, deadline=None)
@given(prefix=st.sampled_from(sorted(PROVIDERS)), model=st.from_regex(r"[a-z0-9][a-z0-9.-]{0,20}", fullmatch=True))
def test_every_known_provider_id_maps_to_a_litellm_model_string(prefix: str, model: str) -> None:
    mapped = provider_model(f"{prefix}:{model}")
    assert mapped is not None
    litellm_model, key_env = mapped
    assert litellm_model.endswith("/" + model) and key_env == PROVIDERS[prefix][1]
    assert provider_model(f"{prefix}:chat:{model}")[0].endswith("/" + model)  # type: ignore[index]
    assert provider_model(f"https://{model}.example.com") is None


KEYS = st.sampled_from(
    ["prompts", "providers", "tests", "defaultTest", "vars", "assert", "type", "value", "options", "transform",
     "id", "config", "label", "raw", "description", "threshold", "metric", "provider", "apiKey", "env", "other"]
)  # fmt: skip
TEXTS = st.sampled_from(["contains", "javascript", "file://missing.txt", "openai:gpt-4o", "{{ x }}", "x", ""])
shapes = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | TEXTS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(config=st.dictionaries(KEYS, shapes, max_size=5))
def test_any_config_shape_is_mapped_or_listed_never_a_crash(config: dict[str, Any], tmp_path_factory: Any) -> None:
    from promptops.errors import InputError
    from promptops.importing.promptfoo import plan_import

    path = tmp_path_factory.mktemp("pf") / "promptfooconfig.json"
    path.write_text(json.dumps(config))
    try:
        plan = plan_import(path)
    except InputError:
        return
    listed = {i.what.split(".")[0].split("[")[0] for i in plan.items}
    assert {k for k, v in config.items() if v is not None} <= listed  # every key read is reported
