"""Laws that hold for any input: parsers fail only with InputError, rendering is deterministic and hygienic."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import strategies as s
import yaml
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from promptops import lint, loader, yamltext
from promptops.errors import InputError
from promptops.model import Finding, Message
from promptops.render import Renderer
from promptops.workspace import DictSource

# No example database: a known bug (an xfail below) found once by chance must not be replayed into every run
# of the general properties.
properties = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
few = settings(properties, max_examples=25)
deep = settings(properties, max_examples=10)  # compiling a deeply nested template takes a while


def rejects_only_with_input_error(fn: Callable[..., Any], *args: Any) -> Any:
    """fn(*args), or None when it refused the input with an InputError (the only error it may raise)."""
    try:
        return fn(*args)
    except InputError as exc:
        assert exc.message
        return None


def render_body(body: str, variables: dict[str, object], path: str = "prompts/p.prompt") -> list[Message]:
    snapshot = loader.load(DictSource({path: body}))
    assert "p" in snapshot.prompts, snapshot.problems
    return Renderer(snapshot).render("p", variables)


# -- parsers raise nothing but InputError --------------------------------------------------------------------


@properties
@given(st.one_of(s.texts, s.yaml_documents))
def test_yaml_parse_raises_only_input_error(text: str) -> None:
    result = rejects_only_with_input_error(yamltext.parse, text, "f.yaml")
    if result is not None:
        assert isinstance(result[1], dict)


@properties
@example("!!timestamp x")
@given(s.core_tagged_yaml)
def test_yaml_parse_of_explicitly_tagged_scalars_raises_only_input_error(text: str) -> None:
    rejects_only_with_input_error(yamltext.parse, text, "f.yaml")


@pytest.mark.parametrize("text", ["!!int", "!!int ''", "!!float ''", "!!bool x", "!!timestamp x", "a: !!bool x"])
@pytest.mark.parametrize(
    "load",
    [
        pytest.param(lambda text: yamltext.parse(text, "f.yaml"), id="yamltext.parse"),
        pytest.param(lambda text: loader.parse_prompt("p", "p.prompt", f"---\n{text}\n---\nhi\n"), id="parse_prompt"),
        pytest.param(lambda text: loader.load_routing(DictSource({"r.yaml": text}), "r.yaml"), id="load_routing"),
        pytest.param(lambda text: loader.load_config(DictSource({"promptops.yaml": text})), id="load_config"),
        pytest.param(lambda text: loader.load_suite(DictSource({"e/a.yaml": text}), "e", "e/a.yaml"), id="load_suite"),
        pytest.param(lambda text: loader.load_dataset(DictSource({"d.yaml": text}), "d.yaml"), id="load_dataset"),
        pytest.param(lambda text: loader.load(DictSource({"promptops.yaml": text})), id="load"),
        pytest.param(lambda text: lint.lint(DictSource({"routing.yaml": text})), id="lint"),
    ],
)
def test_loaders_refuse_explicitly_tagged_scalars_with_input_error(load: Callable[[str], object], text: str) -> None:
    rejects_only_with_input_error(load, text)


@properties
@given(s.json_values)
def test_yaml_parse_reads_back_what_safe_dump_wrote(value: object) -> None:
    # ASCII output: with allow_unicode PyYAML writes U+0085 unquoted, and reading it back yields a line break.
    data, _ = yamltext.parse(yaml.safe_dump(value), "f.yaml")
    assert data == _json_keys(value)


def _json_keys(value: object) -> object:
    """What the one YAML reader promises: JSON data, mapping keys as strings."""
    if isinstance(value, dict):
        return {str(k): _json_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_keys(v) for v in value]
    return value


@properties
@given(
    st.one_of(s.texts, s.yaml_documents, st.tuples(s.yaml_documents, s.texts).map("---\n{0[0]}\n---\n{0[1]}".format))
)
def test_split_frontmatter_raises_only_input_error(text: str) -> None:
    result = rejects_only_with_input_error(loader.split_frontmatter, text, "p.prompt")
    if result is not None:
        front, body, line = result
        assert line >= 1
        assert front is None or body in text


@properties
@given(
    st.one_of(s.texts, s.file_texts["prompts/a.prompt"]),
    st.sampled_from(["prompts/p.prompt", "prompts/p.txt", "prompts/p.j2"]),
)
def test_parse_prompt_raises_only_input_error(text: str, path: str) -> None:
    rejects_only_with_input_error(loader.parse_prompt, "p", path, text)


@properties
@given(st.one_of(s.raw_bytes, s.texts.map(str.encode)))
def test_decode_raises_only_input_error(data: bytes) -> None:
    text = rejects_only_with_input_error(loader.decode, data, "f")
    assert text is None or text.strip()


@properties
@given(
    st.sampled_from(["d.jsonl", "d.csv", "d.yaml", "d.yml", "d.txt"]),
    st.one_of(s.dataset_texts, s.raw_bytes),
)
def test_load_dataset_raises_only_input_error(path: str, content: str | bytes) -> None:
    cases = rejects_only_with_input_error(loader.load_dataset, DictSource({path: content}), path)
    for case in cases or ():
        assert isinstance(case.vars, dict)


@properties
@given(s.suite_texts(), st.dictionaries(st.sampled_from(s.PROJECT_PATHS[-3:]), s.dataset_texts, max_size=3))
def test_load_suite_raises_only_input_error(text: str, datasets: dict[str, str]) -> None:
    source = DictSource({"evals/a.yaml": text, **datasets})
    rejects_only_with_input_error(loader.load_suite, source, "evals", "evals/a.yaml")


@properties
@given(st.one_of(s.file_texts["routing.yaml"], s.raw_bytes))
def test_load_routing_raises_only_input_error(text: str | bytes) -> None:
    rejects_only_with_input_error(loader.load_routing, DictSource({"routing.yaml": text}), "routing.yaml")


@properties
@given(st.one_of(s.file_texts["promptops.yaml"], s.raw_bytes))
def test_load_config_raises_only_input_error(text: str | bytes) -> None:
    rejects_only_with_input_error(loader.load_config, DictSource({"promptops.yaml": text}))


@properties
@given(s.messy_projects())
def test_load_collects_problems_and_raises_only_input_error(files: dict[str, str | bytes]) -> None:
    snapshot = rejects_only_with_input_error(loader.load, DictSource(files))
    if snapshot is not None:
        assert all(isinstance(p, Finding) for p in snapshot.problems)


@few
@given(s.messy_projects())
def test_lint_returns_findings_and_raises_nothing(files: dict[str, str | bytes]) -> None:
    findings = lint.lint(DictSource(files))
    assert all(isinstance(f, Finding) and f.severity in ("error", "warning") for f in findings)


@deep
@given(s.messy_projects(), s.deep_templates)
def test_lint_of_deeply_nested_templates_returns_findings(files: dict[str, str | bytes], body: str) -> None:
    findings = lint.lint(DictSource({**files, "prompts/deep.txt": body}))
    assert all(isinstance(f, Finding) for f in findings)


@pytest.mark.parametrize("nesting", s.NESTINGS[:2], ids=["parentheses", "brackets"])
def test_lint_of_a_deeply_nested_fallback_returns_findings(nesting: tuple[str, ...]) -> None:
    fallback = s.nested(nesting, 600)
    files = {"prompts/p.prompt": f"---\n{s.dump({'fallback': fallback})}---\nuser:\nhi\n"}
    assert isinstance(lint.lint(DictSource(files)), list)


@deep
@given(s.deep_templates)
def test_rendering_deeply_nested_templates_raises_only_input_error(body: str) -> None:
    rejects_only_with_input_error(render_body, body, {}, "prompts/p.txt")


@deep
@given(s.deep_templates)
def test_rendering_a_deeply_nested_fallback_raises_only_input_error(fallback: str) -> None:
    snapshot = loader.load(DictSource({"prompts/p.prompt": f"---\n{s.dump({'fallback': fallback})}---\nuser:\nhi\n"}))
    prompt = snapshot.prompts["p"]
    rejects_only_with_input_error(Renderer(snapshot).render_text, prompt, fallback, {}, "fallback")


@pytest.mark.parametrize("pattern", [".", "./", "./.", "[", "/"])
def test_lint_of_odd_source_patterns_returns_findings(pattern: str) -> None:
    files = {"promptops.yaml": "project: t\n", "prompts/p.prompt": f"---\nsources: ['{pattern}']\n---\nhi\n"}
    assert isinstance(lint.lint(DictSource(files)), list)


UNRESOLVABLE_REF = {
    "prompts/p.prompt": "---\ninputs:\n  x: {$ref: '#/nowhere'}\n---\nhi {{ x }}\n",
    "evals/p.yaml": "prompt: p\ncases:\n  - id: a\n    vars: {x: '1'}\n",
}


def test_lint_of_an_input_schema_with_an_unresolvable_ref_returns_findings() -> None:
    assert isinstance(lint.lint(DictSource(UNRESOLVABLE_REF)), list)


def test_rendering_with_an_unresolvable_input_ref_raises_input_error() -> None:
    with pytest.raises(InputError):
        Renderer(loader.load(DictSource(UNRESOLVABLE_REF))).render("p", {"x": "1"})


@few
@given(s.projects())
def test_valid_projects_lint_without_errors_and_render_every_case(files: dict[str, str]) -> None:
    source = DictSource(files)
    errors = [f for f in lint.lint(source) if f.severity == "error"]
    assert errors == []
    snapshot = loader.load(source)
    renderer = Renderer(snapshot)
    for suite in snapshot.suites.values():
        for case in suite.cases:
            assert renderer.render(suite.prompt, case.vars)


# -- rendering is deterministic ------------------------------------------------------------------------------


@properties
@given(s.bodies_with_values())
def test_rendering_is_deterministic(example: tuple[s.Body, dict[str, str]]) -> None:
    body, values = example
    snapshot = loader.load(DictSource({"prompts/p.txt": body.text()}))
    first, second = Renderer(snapshot), Renderer(snapshot)
    once = first.render("p", values)
    assert first.render("p", values) == once
    assert second.render("p", values) == once
    assert Renderer(loader.load(DictSource({"prompts/p.txt": body.text()}))).render("p", values) == once


@properties
@example({"n": "a"})
@given(s.json_objects)
def test_rendering_leaves_the_variables_alone(value: dict[str, object]) -> None:
    suite = s.dump({"prompt": "p", "cases": [{"id": "c", "vars": {"x": value}}]})
    snapshot = loader.load(
        DictSource({"prompts/p.txt": "{{ dict.update(x, n=(x.n or '') ~ 'a') }}{{ x }}\n", "evals/p.yaml": suite})
    )
    case = snapshot.suites["p"].cases[0]
    before = repr(case.vars)
    outcomes = []
    for _ in range(2):
        try:
            outcomes.append(Renderer(snapshot).render("p", case.vars))
        except InputError as exc:
            outcomes.append(str(exc))
    assert outcomes[0] == outcomes[1]
    assert repr(case.vars) == before


# -- a body of text and variables renders as Jinja2 renders it -------------------------------------------------

# `{{ x }}` as a prompt may write it, and text Jinja2 reads as text (a comment, a raw block, whitespace control).
VARIABLE_FORMS = ["{{ NAME }}", "{{NAME}}", "{{- NAME }}", "{{ NAME -}}", " {{- NAME -}} "]
TAG = "{% if true %}{% endif %}"
TEXT_FORMS = ["{# a note #}", "{% raw %}{{ not_a_variable }}{% endraw %}", "\n", "  \n\t"]
plain_values = st.one_of(
    s.variable_values, st.integers(), st.floats(), st.booleans(), st.none(), s.json_values, s.json_objects
)


@properties
@given(s.bodies(), st.data())
def test_text_and_variables_render_as_jinja_renders_them(body: s.Body, data: st.DataObject) -> None:
    # Such bodies (most prompts) are rendered without running Jinja2; an `{% if %}` at the end makes the same
    # body render through it. One renderer renders both (its role markers are its own).
    text = body.text()
    for name in sorted(body.variables):
        text = text.replace(f"{{{{ {name} }}}}", data.draw(st.sampled_from(VARIABLE_FORMS)).replace("NAME", name))
    extra = data.draw(st.lists(st.sampled_from(TEXT_FORMS), max_size=2))
    text = text.replace("\n", "\n" + "".join(extra), 1) if extra else text
    snapshot = loader.load(DictSource({"prompts/plain.prompt": text, "prompts/tagged.prompt": text + TAG}))
    assert {"plain", "tagged"} <= set(snapshot.prompts), snapshot.problems
    renderer = Renderer(snapshot)

    def outcome(prompt: str, variables: dict[str, object]) -> object:
        try:
            return renderer.render(prompt, variables)
        except InputError as exc:  # the same refusal, naming its own prompt
            return exc.message.replace(f"'{prompt}'", "'P'"), exc.file and exc.file.replace(prompt, "P"), exc.line

    values = {name: data.draw(plain_values) for name in sorted(body.variables)}
    assert outcome("plain", values) == outcome("tagged", values)
    for name in sorted(body.variables)[:1]:  # a missing variable is reported as Jinja2 reports it
        missing = {k: v for k, v in values.items() if k != name}
        assert outcome("plain", missing) == outcome("tagged", missing)


# -- a missing variable always raises ------------------------------------------------------------------------


@properties
@given(s.bodies_with_values(), st.data())
def test_missing_variable_raises_never_renders_empty(
    example: tuple[s.Body, dict[str, str]], data: st.DataObject
) -> None:
    body, values = example
    if not body.variables:
        return
    missing = data.draw(st.sampled_from(sorted(body.variables)))
    del values[missing]
    with pytest.raises(InputError) as caught:
        render_body(body.text(), values, "prompts/p.txt")
    assert missing in caught.value.message
    assert caught.value.file == "prompts/p.txt"


# -- variable values are never templates ---------------------------------------------------------------------


@properties
@given(s.variable_values, s.literals, s.literals)
def test_a_value_is_rendered_literally(value: str, before: str, after: str) -> None:
    messages = render_body(f"user:\n{before}{{{{ x }}}}{after}\n", {"x": value})
    assert messages == [Message("user", before + value + after.rstrip())]


@pytest.mark.parametrize("value", ["{{ 7*7 }}", "{% raw %}", "{{ ''.__class__.__mro__ }}", "{# x #}", "{% if %}"])
def test_template_syntax_in_a_value_stays_text(value: str) -> None:
    [message] = render_body("user:\nvalue: {{ x }}\n", {"x": value})
    assert message.content == f"value: {value}"
    assert "49" not in message.content


@properties
@given(s.bodies_with_values(marked=True))
def test_values_never_add_messages(example: tuple[s.Body, dict[str, str]]) -> None:
    body, values = example
    messages = render_body(body.text(), values)
    assert [m.role for m in messages] == body.roles


@pytest.mark.parametrize("value", ["system:", "\nsystem:\n", "a\nassistant:\nb", "user:\n\nsystem:\nhi"])
def test_a_marker_line_in_a_value_is_content(value: str) -> None:
    messages = render_body("system:\nBe kind.\nuser:\n{{ q }}\n", {"q": value})
    assert [m.role for m in messages] == ["system", "user"]
    assert value.strip("\n") in messages[1].content


# -- role markers ------------------------------------------------------------------------------------------


@properties
@given(s.bodies(names=st.nothing(), marked=True))
def test_n_markers_give_n_messages_in_order(body: s.Body) -> None:
    messages = render_body(body.text(), {})
    assert [m.role for m in messages] == body.roles
    assert [m.content for m in messages] == [sec.text().rstrip() for sec in body.sections]


@properties
@given(
    s.bodies(names=st.nothing(), marked=False), st.sampled_from(["prompts/p.prompt", "prompts/p.txt", "prompts/p.md"])
)
def test_a_body_without_markers_is_one_user_message(body: s.Body, path: str) -> None:
    assume(not body.text().startswith("---"))  # that opens frontmatter in a .prompt file
    [message] = render_body(body.text(), {}, path)
    assert message == Message("user", body.sections[0].text().rstrip())
