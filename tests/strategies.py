"""Every Hypothesis strategy of the test suite, composed from small pieces (after attrs' tests/strategies.py).

Pieces, from small to large:
  texts, raw_bytes                  anything at all
  json_values, yaml_documents       data, dumped safe, or garbled
  identifiers, roles                names a template may use
  literals, variable_values         plain text for a body; hostile values for a variable
  sections, bodies                  prompt bodies: role markers, `{{ var }}` uses, literal text
  projects                          small valid projects as {path: text} for DictSource
  repositories                      projects with partials, pinned documents and routes, for git and bundles
  messy_projects                    the same with some files replaced by anything
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass

import yaml
from hypothesis import strategies as st

from promptops.model import ROLES

# -- anything at all -----------------------------------------------------------------------------------------

texts = st.text(max_size=300)
raw_bytes = st.binary(max_size=300)

# Characters YAML, JSON, CSV and Jinja give meaning to: dense in them, garbling finds the edges quickly.
SPECIAL = [*":-?,[]{}#&*!|>'\"%@`\\\t\n\r ", "---", "...", "\ufeff", "\x00", "\x85", "\u2028", "{{", "{%"]
YAML_SNIPPETS = [
    "!!python/object:os.system ",
    "!!python/name:os.system ",
    "!!binary aGk=",
    "!!set {a, b}",
    "!!omap [a: 1]",
    "!!str ",
    "!<tag:yaml.org,2002:map> ",
    "&a [*a]",
    "&a ",
    "*a",
    "<<: *a",
    "<<: [1]",
    "<<: 1",
    "? [a]\n: 1",
    "? {a: 1}\n: 1",
    "%YAML 1.1\n---\n",
    "%TAG ! tag:x,2000:\n---\n",
    "--- a\n--- b",
    "1e1000",
    ".nan",
    "0x_",
    "0b",
    "0o8",
    "1_000",
    "2001-12-14t21:59:43.10-05:00",
    "~",
    "y",
    "null: 1",
    "true: 1",
    "1: 1",
    "1.5: 1",
    "[]: 1",
    "a: 1\na: 2",
    "- - - - - - - - -",
]

# -- data ----------------------------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),  # JSON numbers are finite
    st.text(max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=10), children, max_size=4),
    ),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(max_size=10), json_values, max_size=5)


def dump(value: object) -> str:
    return yaml.safe_dump(value, allow_unicode=True, sort_keys=False)


@st.composite
def garbled(draw: st.DrawFn, base: st.SearchStrategy[str]) -> str:
    """A text with a few characters deleted, replaced, or inserted (YAML's special characters favoured)."""
    text = draw(base)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        at = draw(st.integers(min_value=0, max_value=len(text)))
        piece = draw(st.one_of(st.sampled_from(SPECIAL), st.sampled_from(YAML_SNIPPETS), st.text(max_size=3)))
        op = draw(st.sampled_from(["insert", "replace", "delete"]))
        if op == "insert":
            text = text[:at] + piece + text[at:]
        elif op == "replace":
            text = text[:at] + piece + text[at + len(piece) :]
        else:
            text = text[:at] + text[at + draw(st.integers(min_value=1, max_value=5)) :]
    return text


# Explicit core-schema tags on scalars their constructors cannot read (`!!int` on nothing, `!!bool x`): kept
# apart because promptops does not yet refuse all of them cleanly (see test_properties).
CORE_TAGS = ["!!int", "!!float", "!!bool", "!!timestamp", "!!null", "!!str", "!!binary"]
core_tagged_yaml = st.builds(
    "{0}{1} {2}{3}".format,
    st.sampled_from(["", "key: ", "- ", "[", "{k: "]),
    st.sampled_from(CORE_TAGS),
    st.sampled_from(["", "''", "x", "_", "-", "+", "0x", "1", "-1_0", "2001-13-45", "yes"]),
    st.sampled_from(["", "]", "}", "\n"]),
)

dumped_yaml = json_values.map(dump)
snippet_yaml = st.lists(st.sampled_from(YAML_SNIPPETS), min_size=1, max_size=4).map("\n".join)
yaml_documents = st.one_of(dumped_yaml, garbled(dumped_yaml), snippet_yaml, garbled(snippet_yaml))
"""Valid YAML, garbled YAML and YAML that reaches for tags, anchors and merge keys."""

# -- YAML as people write it: block and flow, plain and quoted, scalars of every YAML 1.1 look-alike -------------

# Plain scalars that may or may not be strings (YAML 1.1 booleans, numbers in every notation, nulls), quoted and
# block scalars, and what the reader treats specially (anchors, aliases, tags, merge and value keys).
TRICKY_SCALARS = [
    *[
        "yes",
        "no",
        "on",
        "off",
        "y",
        "n",
        "Yes",
        "NO",
        "On",
        "OFF",
        "null",
        "Null",
        "NULL",
        "~",
        "true",
        "True",
        "TRUE",
        "false",
        "False",
        "tRue",
    ],
    *[
        "1e3",
        "1.0e+3",
        "1.5",
        "-.5",
        ".5",
        "1_000",
        "0x1F",
        "0o17",
        "017",
        "08",
        "0b101",
        "0b_",
        "0x_",
        "+1",
        "-1",
        "-0.0",
        "+.inf",
        ".inf",
        "-.Inf",
        ".NaN",
        ".nan",
    ],
    *[
        "1:30",
        "1:30.5",
        "-1:20",
        "190:20:30",
        "2001-12-14",
        "=",
        "<<",
        "!",
        "-",
        "+",
        ".",
        "0",
        "00",
        "1e1000",
        "1.0e+1000",
        "type",
        "text",
        "nx",
        "tx",
        "~x",
        "=x",
        "<x>",
    ],
    "9" * 30,
    "2001-12-14 21:59:43.10 -5",
    "a b",
    "x # a comment",
    "'q'",
    "'it''s'",
    '"d\\tq"',
    '"1"',
    "''",
    "&a x",
    "&b 1",
    "*a",
    "*b",
    "!!str 1",
    "!!int 1",
    "!!float x",
    "!custom x",
    "! x",
    "!!binary aGk=",
    "|\n  block\n  text",
    ">-\n  folded\n\n  text",
    "|+\n  kept\n",
]
TRICKY_KEYS = [
    *[
        "a",
        "b",
        "type",
        "value",
        "id",
        "vars",
        "null",
        "~",
        "true",
        "yes",
        "on",
        "1",
        "1.5",
        "0x1",
        "-1",
        "<<",
        "=",
        "y",
    ],
    "'<<'",
    "'true'",
    '"1"',
    "a b",
    "&k a",
    "*k",
    "!!str k",
    "? [a]",
    "? {a: 1}",
    "tab\tkey",
    "",
]
_plain_words = st.text(string.ascii_letters + string.digits + " _.-+~:", min_size=1, max_size=8)
_leaves = st.one_of(st.sampled_from(TRICKY_SCALARS), _plain_words)
_keys = st.one_of(st.sampled_from(TRICKY_KEYS), st.text(string.ascii_letters + "_", min_size=1, max_size=6))
# ("map", [(key, tree)]) | ("seq", [tree]) | scalar text
yaml_trees = st.recursive(
    _leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4).map(lambda items: ("seq", items)),
        st.lists(st.tuples(_keys, children), max_size=4).map(lambda pairs: ("map", pairs)),
    ),
    max_leaves=16,
)


def _block_scalar(text: str, pad: str) -> str:
    head, newline, rest = text.partition("\n")
    if not newline:
        return text
    return head + "".join(f"\n{pad}{line[2:]}" if line else "\n" for line in rest.split("\n"))


def block_yaml(tree: object, indent: int = 0) -> str:
    """A tree as block YAML (its scalars written as they are, so a block scalar keeps its style)."""
    pad = " " * indent
    if isinstance(tree, str):
        return _block_scalar(tree, pad + "  ")
    kind, items = tree  # type: ignore[misc]
    if not items:
        return "{}" if kind == "map" else "[]"
    lines = []
    for item in items:
        head, child = (f"{item[0]}:", item[1]) if kind == "map" else ("-", item)
        if isinstance(child, str) or not child[1]:
            lines.append(f"{pad}{head} {block_yaml(child, indent)}")
        else:
            lines.append(f"{pad}{head}\n{block_yaml(child, indent + 2)}")
    return "\n".join(lines)


def flow_yaml(tree: object) -> str:
    """A tree as flow YAML (block scalars, which flow style cannot hold, quoted)."""
    if isinstance(tree, str):
        return repr(tree) if "\n" in tree else tree
    kind, items = tree  # type: ignore[misc]
    if kind == "map":
        return "{" + ", ".join(f"{key}: {flow_yaml(value)}" for key, value in items) + "}"
    return "[" + ", ".join(flow_yaml(item) for item in items) + "]"


@st.composite
def dumped_in_styles(draw: st.DrawFn) -> str:
    """JSON data as PyYAML writes it, in any of its styles."""
    return yaml.safe_dump(
        draw(json_values),
        default_flow_style=draw(st.sampled_from([False, True, None])),
        default_style=draw(st.sampled_from([None, None, "'", '"'])),
        allow_unicode=draw(st.booleans()),
        sort_keys=False,
        width=draw(st.sampled_from([12, 80])),
        indent=draw(st.sampled_from([2, 4])),
        explicit_start=draw(st.booleans()),
    )


hand_written_yaml = st.one_of(yaml_trees.map(block_yaml), yaml_trees.map(flow_yaml))
EMPTY_YAML = ["", "\n", "# only a comment\n", "---\n", "---\n...\n", "--- \n# c\n", "...\n", "--- ~\n", "\t\n"]
_one_document = st.one_of(dumped_in_styles(), hand_written_yaml, st.sampled_from(EMPTY_YAML), snippet_yaml)
readable_yaml = st.one_of(
    _one_document,
    garbled(_one_document),
    st.lists(_one_document, min_size=2, max_size=3).map("\n---\n".join),  # more than one document
    st.tuples(_one_document, st.sampled_from(["\t", "\x07", "\x85", "\u2028", "\ufeff", " # c", "\r\n"])).map("".join),
    texts,
)
"""Any text a YAML reader may be given, dense in what YAML readers treat specially."""

json_lines = st.lists(json_values.map(lambda v: json.dumps(v, ensure_ascii=False)), max_size=5).map("\n".join)
csv_texts = st.lists(
    st.lists(st.text(alphabet=string.ascii_letters + ',"\n\r\x00 ', max_size=8), min_size=1, max_size=4).map(",".join),
    max_size=5,
).map("\n".join)


def anything_like(structured: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A file's text: shaped like the real thing, garbled, YAML of any shape, or arbitrary."""
    return st.one_of(structured, garbled(structured), yaml_documents, texts)


def shaped(valid: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    """Values of a schema-shaped strategy, with any of them sometimes swapped for arbitrary data."""
    return st.one_of(valid, valid, json_values)


# -- names ---------------------------------------------------------------------------------------------------

# Jinja keywords, its tests' literals, the sandbox's globals and the names promptops forbids: none of them is
# a plain variable.
RESERVED = frozenset(
    [
        *("and", "as", "block", "call", "do", "elif", "else", "extends", "filter", "for", "from", "if", "import"),
        *("in", "include", "is", "macro", "not", "or", "pluralize", "raw", "recursive", "set", "trans", "with"),
        *("endblock", "endcall", "endfilter", "endfor", "endif", "endmacro", "endraw", "endset", "endwith"),
        *("without", "ignore", "missing", "context", "true", "false", "none", "True", "False", "None"),
        *("self", "range", "dict", "loop", "cycler", "joiner", "namespace", "lipsum", "loop_controls"),
        *("caller", "varargs", "kwargs"),
    ]
)
identifiers = st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True).filter(lambda s: s not in RESERVED)
roles = st.sampled_from(ROLES)

# -- template text -------------------------------------------------------------------------------------------

# Literal text never opens a Jinja tag, never makes a marker line (no colon) and never holds a line break of
# its own: lines are the bodies' business.
LITERAL_ALPHABET = st.characters(
    blacklist_categories=("Cs", "Cc", "Zl", "Zp"),
    blacklist_characters="{}%#:\x1e\x85\u2028\u2029\ufeff",
)
literals = st.text(LITERAL_ALPHABET, min_size=1, max_size=30).filter(lambda s: s.strip() != "")
"""Plain text with at least one visible character."""

HOSTILE_PIECES = [
    "{{ 7*7 }}",
    "{{ x }}",
    "{% raw %}",
    "{% endraw %}",
    "{% include '_p.j2' %}",
    "{# comment #}",
    "{{ ''.__class__.__mro__ }}",
    "{{ self }}",
    "system:",
    "\nsystem:\n",
    "user:\n",
    "\nassistant:\n",
    "\x1e",
    "\x1esystem\x1e",
    "\ue000",
    "\ue000system\ue000",
    "ü",
    "日本語",
    "🙂",
    "\u202e",
    "\r\n",
    "\x00",
    " ",
]
variable_values = st.lists(st.one_of(st.sampled_from(HOSTILE_PIECES), st.text(max_size=10)), max_size=6).map("".join)
"""Strings that look like templates, markers and control characters: a value must stay a value."""


@dataclass(frozen=True)
class Section:
    """One message of a body: a marker line, then content made of literals and `{{ var }}` uses."""

    role: str
    pieces: tuple[tuple[str, str], ...]  # ("text", literal) or ("var", name)

    def text(self) -> str:
        return "".join(value if kind == "text" else f"{{{{ {value} }}}}" for kind, value in self.pieces)

    @property
    def variables(self) -> set[str]:
        return {value for kind, value in self.pieces if kind == "var"}


@st.composite
def sections(draw: st.DrawFn, names: st.SearchStrategy[str] = identifiers) -> Section:
    """A section whose content always holds visible literal text, so it is never dropped as empty."""
    pieces = draw(st.lists(st.one_of(literals.map(lambda t: ("text", t)), names.map(lambda n: ("var", n))), max_size=5))
    at = draw(st.integers(min_value=0, max_value=len(pieces)))
    pieces.insert(at, ("text", draw(literals)))
    return Section(role=draw(roles), pieces=tuple(pieces))


@dataclass(frozen=True)
class Body:
    """A prompt body and what it must render to: its sections' roles, in order."""

    sections: tuple[Section, ...]
    marked: bool  # False: one unmarked section, rendered as a single user message

    def text(self) -> str:
        if not self.marked:
            return self.sections[0].text() + "\n"
        return "".join(f"{s.role}:\n{s.text()}\n" for s in self.sections)

    @property
    def roles(self) -> list[str]:
        return [s.role for s in self.sections] if self.marked else ["user"]

    @property
    def variables(self) -> set[str]:
        return set().union(*(s.variables for s in self.sections))


@st.composite
def bodies(draw: st.DrawFn, names: st.SearchStrategy[str] = identifiers, marked: bool | None = None) -> Body:
    """Prompt bodies with role markers (or none), `{{ var }}` uses and literal text."""
    marked = draw(st.booleans()) if marked is None else marked
    found = draw(st.lists(sections(names), min_size=1, max_size=1 if not marked else 4))
    return Body(sections=tuple(found), marked=marked)


@st.composite
def bodies_with_values(draw: st.DrawFn, marked: bool | None = None) -> tuple[Body, dict[str, str]]:
    """A body and a hostile value for each of its variables."""
    body = draw(bodies(marked=marked))
    return body, {name: draw(variable_values) for name in sorted(body.variables)}


# -- projects ------------------------------------------------------------------------------------------------

CONFIG = "project: generated\n"
ROUTING = "defaults:\n  model: fast\nmodels:\n  fast:\n    model: openai/gpt-4o-mini\n    api_key_env: OPENAI_API_KEY\n"


def prompt_file(body: Body) -> str:
    """A .prompt file declaring every variable its body uses as a string input."""
    front: dict[str, object] = {"description": "generated", "owner": "@team"}
    if body.variables:
        front["inputs"] = {name: {"type": "string"} for name in sorted(body.variables)}
    return f"---\n{dump(front)}---\n{body.text()}"


@st.composite
def projects(draw: st.DrawFn) -> dict[str, str]:
    """A small project that loads, lints without errors, and renders every eval case."""
    ids = draw(st.lists(identifiers, min_size=1, max_size=3, unique=True))
    files = {"promptops.yaml": CONFIG, "routing.yaml": ROUTING}
    for pid in ids:
        body = draw(bodies())
        files[f"prompts/{pid}.prompt"] = prompt_file(body)
        cases = [
            {"id": f"case-{n}", "vars": {v: draw(variable_values) for v in sorted(body.variables)}}
            for n in range(draw(st.integers(min_value=1, max_value=2)))
        ]
        files[f"evals/{pid}.yaml"] = dump({"prompt": pid, "cases": cases})
    return files


repository_names = st.from_regex(r"[a-z][a-z0-9]{0,5}", fullmatch=True).filter(lambda n: n not in RESERVED)
REPOSITORY_MODELS = {"fast": "openai/gpt-4o-mini", "slow": "openai/gpt-4o", "local": "ollama/llama3.1"}


@st.composite
def repositories(draw: st.DrawFn) -> dict[str, str | bytes | None]:
    """A small project as {path: text}: prompts (some including partials or pinning documents), partials, routes."""
    partials = draw(st.dictionaries(repository_names, literals, max_size=2))
    ids = draw(st.lists(repository_names, min_size=1, max_size=3, unique=True))
    files: dict[str, str | bytes | None] = {"promptops.yaml": f"project: {draw(repository_names)}\n"}
    for name, text in partials.items():
        files[f"prompts/shared/_{name}.j2"] = text + "\n"
    docs = draw(st.dictionaries(repository_names, literals, max_size=2))
    for name, text in docs.items():
        files[f"docs/{name}.md"] = text + "\n"
    routes = {}
    for pid in ids:
        body = draw(bodies())
        includes = draw(st.lists(st.sampled_from(sorted(partials)), max_size=2)) if partials else []
        text = prompt_file(body)
        if docs and draw(st.booleans()):
            text = text.replace("---\n", "---\nsources: ['docs/*.md']\n", 1)
        if includes:
            head, sep, rest = text.rpartition("---\n")
            lines = "".join(f'{{% include "shared/_{p}.j2" %}}\n' for p in includes)
            text = head + sep + lines + rest
        files[f"prompts/{pid}.prompt"] = text
        if draw(st.booleans()):
            routes[pid] = {
                "model": draw(st.sampled_from(sorted(REPOSITORY_MODELS))),
                "fallbacks": draw(st.lists(st.sampled_from(sorted(REPOSITORY_MODELS)), max_size=2, unique=True)),
                "params": {"temperature": draw(st.sampled_from([0, 0.5, 1]))},
            }
    routing = {
        "defaults": {"model": "fast", "params": {"max_tokens": draw(st.integers(1, 4096))}},
        "models": {k: {"model": v} for k, v in REPOSITORY_MODELS.items()},
        "routes": routes,
    }
    files["routing.yaml"] = dump(routing)
    return files


PROJECT_PATHS = [
    "promptops.yaml",
    "routing.yaml",
    "prompts/a.prompt",
    "prompts/b.txt",
    "prompts/_part.j2",
    "prompts/shared/_tone.j2",
    "prompts/notes.rst",
    "evals/a.yaml",
    "evals/data/rows.jsonl",
    "evals/data/rows.csv",
    "evals/data/rows.yaml",
]

paths = st.one_of(
    st.sampled_from(PROJECT_PATHS),
    st.builds(
        "{0}{1}{2}".format,
        st.sampled_from(["", "prompts/", "prompts/_", "prompts/a/../", "prompts//", "evals/", "evals/data/", "/"]),
        st.text(max_size=8),
        st.sampled_from(["", ".prompt", ".j2", ".txt", ".yaml", ".jsonl", ".csv"]),
    ),
)
"""Where a project's files may be: the usual places, and odd names in and around them."""

# Templates nested deeper than Jinja's recursive-descent parser and compiler can follow.
NESTINGS = [
    ("{{ ", "(", "1", ")", " }}"),
    ("{{ ", "[", "", "]", " }}"),
    ("{{ ", "-", "1", "", " }}"),
    ("{{ 1", "", "", "+1", " }}"),
    ("", "{% if 1 %}", "x", "{% endif %}", ""),
    ("", "{% for i in [1] %}", "x", "{% endfor %}", ""),
]


def nested(nesting: tuple[str, ...], depth: int) -> str:
    prefix, opening, core, closing, suffix = nesting
    return prefix + opening * depth + core + closing * depth + suffix + "\n"


deep_templates = st.builds(nested, st.sampled_from(NESTINGS), st.integers(min_value=21, max_value=600))

# Template fragments that reach for partials, cycles, forbidden names and syntax errors.
TEMPLATE_PIECES = [
    "{% include '_part.j2' %}",
    "{% include 'a.prompt' %}",
    "{% include 'shared/_tone.j2' %}",
    "{% include '../routing.yaml' %}",
    "{% include x %}",
    "{% import '_part.j2' as p %}",
    "{% extends 'b.txt' %}",
    "{{ self }}",
    "{{ x }}",
    "{{ x|upper }}",
    "{% for i in x %}{{ i }}{% endfor %}",
    "{% if %}",
    "{{",
    "system:\n",
    "user:\n",
]
templates = st.lists(st.one_of(st.sampled_from(TEMPLATE_PIECES), texts), max_size=5).map("".join)

input_schemas = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["string", "integer", "array", "object", "nope", ["string", "null"]]),
        "default": json_values,
        "enum": st.lists(json_values, max_size=3),
        "pattern": st.sampled_from(["^a", "(", "[a-"]),
        "minLength": st.integers(-1, 3),
    },
)
frontmatters = st.fixed_dictionaries(
    {},
    optional={
        "description": shaped(st.text(max_size=10)),
        "owner": shaped(st.sampled_from(["@team", ""])),
        "risk": shaped(st.sampled_from(["low", "high"])),
        "inputs": shaped(st.dictionaries(st.sampled_from(["x", "y", "1x"]), shaped(input_schemas), max_size=2)),
        "required": shaped(st.lists(st.sampled_from(["x", "y", "z"]), max_size=2, unique=True)),
        "output": shaped(input_schemas),
        "sources": shaped(st.lists(st.sampled_from(["promptops.yaml", "docs/*.md", "**/*.prompt", "[", "/x"]))),
        "fallback": shaped(templates),
        "params": shaped(json_objects),
        "format_version": shaped(st.sampled_from([1, 2])),
    },
)
"""Prompt frontmatter shaped like the schema, any field sometimes arbitrary."""

file_texts: dict[str, st.SearchStrategy[str]] = {
    "promptops.yaml": anything_like(
        st.fixed_dictionaries(
            {},
            optional={
                "project": shaped(st.text(max_size=10)),
                "paths": shaped(
                    st.fixed_dictionaries(
                        {},
                        optional={
                            k: st.sampled_from(["prompts", "evals", ".", "..", "/x", "p", ""])
                            for k in ("prompts", "evals")
                        },
                    )
                ),
                "lint": shaped(
                    st.fixed_dictionaries(
                        {"rules": st.dictionaries(texts, st.sampled_from(["off", "warning", "error"]), max_size=3)}
                    )
                ),
            },
        ).map(dump)
    ),
    "routing.yaml": anything_like(st.just(ROUTING)),
    "prompts/a.prompt": st.one_of(
        bodies().map(prompt_file),
        st.tuples(frontmatters, templates).map(lambda t: f"---\n{dump(t[0])}---\n{t[1]}"),
        st.tuples(yaml_documents, templates).map(lambda t: f"---\n{t[0]}\n---\n{t[1]}"),
        templates,
        texts,
    ),
}


ASSERTION_TYPES = [
    *("equals", "contains", "icontains", "contains-any", "contains-all", "regex", "starts-with", "is-json"),
    *("json-schema", "json-path", "length", "similar", "llm-rubric", "python", "latency", "cost"),
    *("not-contains", "not-regex", "not-json-schema", "bogus"),
]


@st.composite
def suite_texts(draw: st.DrawFn) -> str:
    """Eval suites shaped like the schema, with datasets and assertions, sometimes garbled or arbitrary."""
    assertion = st.fixed_dictionaries(
        {"type": st.sampled_from(ASSERTION_TYPES)},
        optional={
            "value": st.one_of(json_values, st.sampled_from(["(", "$.a[", "^a", "{{ x }}", "x > 1"])),
            "weight": shaped(st.floats(min_value=0, max_value=5)),
            "threshold": shaped(st.floats(min_value=-1, max_value=2)),
            "path": shaped(st.sampled_from(["$.a", "$[", "a.b"])),
            "min": shaped(st.integers(-2, 5)),
            "max": shaped(st.integers(-2, 5)),
            "fallback": shaped(st.booleans()),
        },
    )
    case = st.fixed_dictionaries(
        {"id": shaped(st.sampled_from(["a", "b", "a-1", "rows-1", ""]))},
        optional={"vars": shaped(json_objects), "assert": shaped(st.lists(assertion, max_size=2))},
    )
    suite = st.fixed_dictionaries(
        {"prompt": shaped(st.sampled_from(["a", "b", "nope"]))},
        optional={
            "cases": shaped(st.lists(case, max_size=3)),
            "datasets": shaped(
                st.lists(
                    st.sampled_from(["data/rows.jsonl", "data/rows.csv", "data/rows.yaml", "../x.csv", "/x", "."]),
                    max_size=2,
                )
            ),
            "defaults": shaped(
                st.fixed_dictionaries({}, optional={"vars": json_objects, "assert": st.lists(assertion, max_size=1)})
            ),
            "repeat": shaped(st.integers(min_value=1, max_value=3)),
            "threshold": shaped(st.floats(min_value=0, max_value=1)),
        },
    )
    return draw(anything_like(suite.map(dump)))


dataset_texts = st.one_of(
    json_lines,
    garbled(json_lines),
    csv_texts,
    st.lists(json_objects, max_size=3).map(dump),
    yaml_documents,
    texts,
)


@st.composite
def messy_projects(draw: st.DrawFn) -> dict[str, str | bytes]:
    """A project dict where any file may be valid, shaped-but-wrong, garbled, arbitrary text or bytes."""
    files: dict[str, str | bytes] = dict(draw(projects())) if draw(st.booleans()) else {}
    for path in draw(st.lists(paths, unique=True, max_size=6)):
        if path in file_texts:
            content: str | bytes = draw(file_texts[path])
        elif path.startswith("evals/data/"):
            content = draw(dataset_texts)
        elif path.startswith("evals/"):
            content = draw(suite_texts())
        elif path.startswith("prompts/"):
            content = draw(st.one_of(templates, file_texts["prompts/a.prompt"]))
        else:
            content = draw(st.one_of(yaml_documents, texts))
        files[path] = draw(st.one_of(st.just(content), raw_bytes)) if draw(st.integers(0, 9)) == 0 else content
    return files


# -- audit log records ---------------------------------------------------------------------------------------

AUDIT_CHAIN_FIELDS = ("seq", "id", "instance", "prev", "hash")
strict_json_values = st.recursive(  # what strict JSON holds: no NaN, no infinities
    st.one_of(scalars.filter(lambda v: v not in (float("inf"), float("-inf")))),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
audit_records = st.dictionaries(
    st.text(max_size=10).filter(lambda k: k not in AUDIT_CHAIN_FIELDS), strict_json_values, max_size=6
)


# -- diff: a project and a change to it, for the scoped diff (what a change reaches) --------------------------
DIFF_PROMPT_IDS = ("a", "b", "sub/c", "sub/d")
DIFF_PARTIALS = {
    "prompts/shared/_a.j2": ("A one.\n", "A two {{ name }}.\n", "A {% include 'shared/_b.j2' %}\n"),  # nested
    "prompts/shared/_b.j2": ("B one.\n", "B two.\n", "B {{ name }}!\n"),
}
DIFF_BODIES = (
    "Hello {{ name }}.\n",
    "system:\n{% include 'shared/_a.j2' %}\nuser:\n{{ name }}\n",
    '{% include "shared/_b.j2" %} {{ name }}\n',
    "{# {% include 'shared/_b.j2' %} #}Hi {{ name }}\n",  # an include in a comment includes nothing
    "{% include 'a.prompt' %} and {{ name }}\n",  # a prompt including another prompt
    "{%- include name ~ '.j2' ignore missing -%}{{ name }}\n",  # a dynamic include
)


def diff_prompt(body: str, strict: bool) -> str:
    inputs = "  name: {type: string, minLength: 2}\n" if strict else "  name: {type: string}\n"
    return f"---\ninputs:\n{inputs}---\n{body}"


def diff_suite(pid: str, style: int, name: str) -> str:
    if style == 0:
        return f"prompt: {pid}\ncases:\n  - id: x\n    vars: {{name: {name}}}\n"
    if style == 1:
        return f'prompt: "{pid}"  # quoted\nthreshold: 0.5\ncases:\n  - id: x\n    vars: {{name: {name}}}\n'
    return f"{{prompt: {pid}, cases: [{{id: x, vars: {{name: {name}}}}}, {{id: y, vars: {{name: Bo}}}}]}}\n"


@st.composite
def diff_projects(draw: st.DrawFn) -> dict[str, str]:
    """Prompts including partials (one including another), prompts, nothing (in a comment) or a computed
    name; suites naming their prompt plainly, quoted or in flow style; a routing file with a glob route."""
    files = {
        "promptops.yaml": "project: gen\n",
        "routing.yaml": (
            f"defaults:\n  model: {draw(st.sampled_from(('fast', 'smart')))}\n"
            "models:\n  fast: {model: openai/mini}\n  smart: {model: openai/big}\n"
            + (
                f"routes:\n  'sub/*': {{model: {draw(st.sampled_from(('fast', 'smart')))}}}\n"
                if draw(st.booleans())
                else ""
            )
        ),
    }
    for path, texts in DIFF_PARTIALS.items():
        if draw(st.booleans()):
            files[path] = draw(st.sampled_from(texts))
    for pid in draw(st.lists(st.sampled_from(DIFF_PROMPT_IDS), unique=True, min_size=1, max_size=4)):
        files[f"prompts/{pid}.prompt"] = diff_prompt(draw(st.sampled_from(DIFF_BODIES)), draw(st.booleans()))
        for n in range(draw(st.integers(min_value=0, max_value=2))):
            suite = f"evals/{pid}.yaml" if n == 0 else f"evals/more/{pid.replace('/', '-')}.yaml"
            files[suite] = diff_suite(pid, draw(st.integers(0, 2)), draw(st.sampled_from(("Ada", "Bob"))))
    return files


@st.composite
def diff_changes(draw: st.DrawFn, files: dict[str, str]) -> dict[str, str]:
    """The project after one to three edits: a partial, prompt or suite rewritten, a file deleted or renamed,
    a prompt added, the routing changed."""
    head = dict(files)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        kind = draw(st.sampled_from(("partial", "prompt", "suite", "delete", "rename", "add", "routing")))
        paths = sorted(head)
        if kind == "partial":
            path = draw(st.sampled_from(sorted(DIFF_PARTIALS)))
            head[path] = draw(st.sampled_from(DIFF_PARTIALS[path]))
        elif kind in ("prompt", "add"):
            pid = draw(st.sampled_from(DIFF_PROMPT_IDS))
            head[f"prompts/{pid}.prompt"] = diff_prompt(draw(st.sampled_from(DIFF_BODIES)), draw(st.booleans()))
        elif kind == "suite":
            pid = draw(st.sampled_from(DIFF_PROMPT_IDS))
            head[f"evals/{pid}.yaml"] = diff_suite(pid, draw(st.integers(0, 2)), draw(st.sampled_from(("Ada", "Bob"))))
        elif kind == "delete":
            path = draw(st.sampled_from([p for p in paths if p != "promptops.yaml"]))
            del head[path]
        elif kind == "rename":
            path = draw(st.sampled_from([p for p in paths if p.startswith(("prompts/", "evals/"))] or ["routing.yaml"]))
            folder, ext = path.split("/")[0], "." + path.rsplit(".", 1)[1]
            new = f"{folder}/moved/{draw(st.sampled_from(('x', 'y')))}{ext}"
            if new not in head:
                head[new] = head.pop(path)
        else:
            head["routing.yaml"] = head.get("routing.yaml", "").replace("model: fast", "model: smart", 1)
    return head


# -- endpoint URLs with credentials in them ------------------------------------------------------------------

CREDENTIAL_QUERY_NAMES = ("key", "api-key", "api_key", "apiKey", "code", "token", "access_token", "sig", "Signature")
PLAIN_QUERY_NAMES = ("api-version", "format", "deployment", "region")
credential_values = st.text(string.ascii_letters + string.digits + "-._~", min_size=12, max_size=30)


@st.composite
def endpoint_urls(draw: st.DrawFn) -> tuple[str, tuple[str, ...]]:
    """(an api_base URL, the credential values written in it): maybe user:password@, maybe credential query
    parameters mixed with plain ones, maybe a #fragment."""
    secrets: list[str] = []
    netloc = draw(st.sampled_from(("api.example.com", "127.0.0.1:8080", "[::1]:9", "h.example")))
    if draw(st.booleans()):
        user, password = draw(credential_values), draw(credential_values)
        netloc, secrets = f"{user}:{password}@{netloc}", [user, password]
    query = []
    for _ in range(draw(st.integers(0, 4))):
        if draw(st.booleans()):
            value = draw(credential_values)
            query.append(f"{draw(st.sampled_from(CREDENTIAL_QUERY_NAMES))}={value}")
            secrets.append(value)
        else:
            query.append(f"{draw(st.sampled_from(PLAIN_QUERY_NAMES))}=2024-06-01")
    url = f"https://{netloc}/v1" + ("?" + "&".join(query) if query else "")
    if draw(st.booleans()):
        fragment = draw(credential_values)
        url, secrets = f"{url}#{fragment}", [*secrets, fragment]
    return url, tuple(secrets)
