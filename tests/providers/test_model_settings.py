"""Model settings of routing.yaml as requests carry them: the structured-output form a prompt's schema is asked
in, and a bundle's bytes, which settings left at their defaults do not change."""

from __future__ import annotations

from promptops import routing
from promptops.model import ModelSpec, Price, Prompt, ResolvedRoute

SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}}


def test_the_output_schema_is_asked_in_the_models_form() -> None:
    prompt = Prompt(id="p", path="prompts/p.prompt", body="hi", output=SCHEMA)
    form = {m: routing.response_format(prompt, ModelSpec("m", "openai/x", structured_output=m)) for m in
            ("json_schema", "json_object", "none")}  # fmt: skip
    assert form["json_schema"] == {"type": "json_schema", "json_schema": {"name": "output", "schema": SCHEMA}}
    assert form["json_object"] == {"type": "json_object"}
    assert form["none"] is None
    assert routing.response_format(Prompt(id="q", path="prompts/q.prompt", body="hi"), ModelSpec("m", "x")) is None


def test_defaults_leave_a_bundles_route_as_it_was_and_settings_travel_with_it() -> None:
    plain = ModelSpec("m", "openai/x", api_key_env="K")
    route = ResolvedRoute("p", None, plain, (), {}, 60.0, 2)
    assert route.as_dict()["model"] == {"name": "m", "model": "openai/x", "api_base": None, "api_key_env": "K"}
    tuned = ModelSpec("m", "openai/x", structured_output="json_object", price=Price(0.5, 1.5))
    assert ResolvedRoute("p", None, tuned, (), {}, 60.0, 2).as_dict()["model"] == {
        "name": "m", "model": "openai/x", "api_base": None, "api_key_env": None,
        "structured_output": "json_object", "price": {"input_per_mtok": 0.5, "output_per_mtok": 1.5},
    }  # fmt: skip
    assert Price(0.5, 1.5).cost(1_000_000, 2_000_000) == 3.5


def test_the_runtime_reads_the_settings_back_from_a_bundle() -> None:
    from promptops.runtime.state import _spec

    for spec in (ModelSpec("m", "openai/x"), ModelSpec("m", "openai/x", structured_output="none", price=Price(1, 2))):
        assert _spec(spec.as_dict()) == spec
