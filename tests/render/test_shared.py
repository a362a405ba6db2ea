"""Two renderers of two versions of a project can share their work (`render.Shared`): a template with the same
text on both sides is analysed and compiled once, and each side still renders exactly what it renders alone."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from test_diff_properties import projects

from promptops import loader
from promptops.errors import InputError
from promptops.render import Renderer, Shared
from promptops.workspace import DictSource


def outcome(r: Renderer, pid: str, variables: dict[str, Any]) -> Any:
    try:
        return [(m.role, m.content) for m in r.render(pid, variables)]
    except InputError as exc:
        return ("error", str(exc), exc.file, exc.line)


def analysis(r: Renderer, name: str) -> Any:
    infos, errors = r.closure(name)
    return [(i.name, i.file, i.variables, i.includes, i.error and str(i.error)) for i in infos], [
        str(e) for e in errors
    ]


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=projects(), b=projects())
def test_sharing_renderers_change_nothing_they_render_or_report(a: dict[str, str], b: dict[str, str]) -> None:
    shared = Shared()
    snapshots = [loader.load(DictSource(files)) for files in (a, b)]
    pairs = [(Renderer(s, shared), Renderer(s)) for s in snapshots]
    for snapshot, (together, alone) in zip(snapshots, pairs, strict=True):
        for pid, prompt in snapshot.prompts.items():
            name = alone.name_of(prompt)
            assert analysis(together, name) == analysis(alone, name)
            for variables in ({"name": "Ada"}, {"name": "B"}, {}):
                assert outcome(together, pid, variables) == outcome(alone, pid, variables)


def test_a_template_with_the_same_text_on_both_sides_is_compiled_once() -> None:
    files = {
        "promptops.yaml": "project: x\n",
        "prompts/shared/_rules.j2": "Be brief.\n",
        "prompts/a.prompt": "---\ninputs:\n  name: {type: string}\n---\n{% include 'shared/_rules.j2' %}{{ name }}\n",
    }
    base = loader.load(DictSource(files))
    head = loader.load(DictSource({**files, "prompts/shared/_rules.j2": "Be kind.\n"}))
    shared = Shared()
    old, new = Renderer(base, shared), Renderer(head, shared)
    assert old.render("a", {"name": "Ada"})[0].content == "Be brief.\nAda"
    assert new.render("a", {"name": "Ada"})[0].content == "Be kind.\nAda"
    assert old.info("a.prompt") is new.info("a.prompt")  # analysed once
    assert old.env.get_template("a.prompt").root_render_func.__code__ is (
        new.env.get_template("a.prompt").root_render_func.__code__
    )  # compiled once: both sides run the same code
    assert old.env.get_template("shared/_rules.j2") is not new.env.get_template("shared/_rules.j2")
