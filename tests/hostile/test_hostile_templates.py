"""Templates that try to hang, exhaust memory or crash promptops: each is refused with exit 2 naming the
file and line, within the render budget, in render, lint and eval."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import MINIMAL
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptops import loader
from promptops.errors import InputError
from promptops.render import Renderer
from promptops.workspace import DictSource

Cli = Callable[..., tuple[int, str, str]]


def prompt(body: str) -> str:
    """MINIMAL's greet prompt with `body` on line 9."""
    return "---\ndescription: greets\nowner: '@team'\ninputs:\n  name:\n    type: string\n---\nuser:\n" + body + "\n"


def repo(make_repo: Callable[..., Path], body: str) -> Path:
    return make_repo({**MINIMAL, "prompts/greet.prompt": prompt(body)}, use_git=False)


def refused(result: tuple[int, str, str], *words: str) -> str:
    code, out, err = result
    assert code == 2, out + err
    assert "prompts/greet.prompt:" in err, err
    assert "Traceback" not in out + err and "internal error" not in err
    for word in words:
        assert word in err, err
    return err


# Each would hang for minutes, or allocate gigabytes, before the budget.
RUNAWAYS = {
    "nested loops": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "nested loops with output": "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
    "printf width": "{{ '%3000000000s' % 1 }}",
    "printf star width": "{{ '%*s' % (3000000000, 1) }}",
    "format width": "{{ '{:>3000000000}'.format(1) }}",
    "nested format width": "{{ '{:{}}'.format(1, 3000000000) }}",
    "string repeat": "{{ 'x' * 3000000000 }}",
    "list repeat": "{{ ([1] * 3000000000)|length }}",
    "center filter": "{{ 'x'|center(3000000000) }}",
    "ljust method": "{{ 'ab'.ljust(3000000000) }}",
    "batch fill": "{{ [1]|batch(3000000000, 0)|list }}",
    "replace blow-up": "{{ ('x' * 1000)|replace('', 'y' * 10000) }}",
    "format filter": "{{ '%3000000000d'|format(1) }}",
    "huge power": "{{ (2 ** 100000) ** 100000 }}",
    "join filter": "{% set s = 'x' * 1000000 %}{{ range(100000)|map('string')|join(s) }}",
    "join method": "{% set s = 'x' * 1000000 %}{{ s.join(range(1000)|map('string')) }}",
    "sum of lists": "{{ ([range(100000)|list] * 4000000)|sum(start=[])|length }}",
    "tojson indent": "{{ {'a': [1, 2]}|tojson(indent=3000000000) }}",
    "wordwrap": "{{ ('abcdefghij' * 300000)|wordwrap(1, wrapstring='x' * 1000) }}",
}


@pytest.mark.parametrize("body", list(RUNAWAYS.values()), ids=list(RUNAWAYS))
def test_a_runaway_template_is_stopped_by_the_budget(cli: Cli, make_repo: Callable[..., Path], body: str) -> None:
    ordinary = "{% for x in [1, 2, 3] %}{{ loop.index }}/{{ loop.length }}{{ ',' if not loop.last }}{% endfor %}"
    code, out, err = cli(
        "render", "greet", "--var", "name=ada", "--repo", repo(make_repo, ordinary + " {{ name|upper }}")
    )
    assert code == 0 and "1/3,2/3,3/3 ADA" in out, err  # the budget leaves ordinary loops alone
    root = repo(make_repo, body)
    started = time.monotonic()
    refused(cli("render", "greet", "--var", "name=x", "--repo", root))
    assert time.monotonic() - started < 30


BROKEN = {
    "{{ name|nosuch }}": "unknown filter 'nosuch'",
    "{{ name|uper }}": "did you mean 'upper'?",
    "{{ name is nosuchtest }}": "unknown test 'nosuchtest'",
    "{{ name|truncate(-5) }}": "expected length >= 3",
}


@pytest.mark.parametrize("body", list(BROKEN), ids=list(BROKEN.values()))
def test_a_broken_filter_is_an_input_error_in_render_and_eval(
    cli: Cli, make_repo: Callable[..., Path], body: str
) -> None:
    root = repo(make_repo, body)
    refused(cli("render", "greet", "--var", "name=abcdef", "--repo", root), BROKEN[body])
    code, out, err = cli("eval", "--replay", "--repo", root)
    assert code == 2, out + err
    assert "internal error" not in err and "Traceback" not in out + err


@pytest.mark.parametrize("body", ["{{ name|nosuch }}", "{{ name is nosuchtest }}"])
def test_lint_reports_an_unknown_filter_with_its_line(cli: Cli, make_repo: Callable[..., Path], body: str) -> None:
    code, out, err = cli("lint", "--repo", repo(make_repo, body))
    assert code == 1, out + err
    assert "prompts/greet.prompt:9" in out + err
    assert "internal error" not in err


SIZES = st.sampled_from([0, 1, 3, 1000, 100000, 3000000000])
PIECES = st.one_of(
    SIZES.map("{{{{ 'ab' * {} }}}}".format),
    SIZES.map("{{{{ '%{}s' % 1 }}}}".format),
    SIZES.map("{{{{ '{{:>{}}}'.format(1) }}}}".format),
    SIZES.map("{{{{ 'x'|center({}) }}}}".format),
    SIZES.map("{{{{ [0]|batch({}, 1)|list|length }}}}".format),
    SIZES.map("{{{{ 'x'.rjust({}) }}}}".format),
    SIZES.map("{{{{ range(100000)|map('string')|join('y' * {}) }}}}".format),
    st.just("{{ name }}"),
)


@st.composite
def templates(draw: st.DrawFn) -> str:
    """Loops nested up to three deep over ranges of any size, around size-making expressions."""
    body = "".join(draw(st.lists(PIECES, min_size=1, max_size=3)))
    for size in draw(st.lists(st.sampled_from([1, 2, 10, 1000, 100000]), max_size=3)):
        body = f"{{% for i in range({size}) %}}{body}{{% endfor %}}"
    return body


@settings(max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(templates())
def test_any_template_renders_or_is_refused_within_its_budget(body: str) -> None:
    snapshot = loader.load(DictSource({**MINIMAL, "prompts/greet.prompt": prompt(body)}))
    renderer = Renderer(snapshot)
    renderer.clock.seconds = 0.5  # this test's budget: the property is that it holds, whatever it is
    started = time.monotonic()
    try:
        messages = renderer.render("greet", {"name": "Ada"})
    except InputError as exc:
        assert exc.file == "prompts/greet.prompt" and exc.line
    else:
        assert sum(len(m.content) for m in messages) <= renderer.clock.chars
    assert time.monotonic() - started < 5
