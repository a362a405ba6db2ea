"""`promptops diff` end to end: real git repositories, the three formats, exit codes, shallow clones, --eval."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from conftest import commit, git
from golden_files import check_golden

from promptops.loader import schema
from promptops.report.diff import MARKER

PROJECT = {
    "promptops.yaml": "project: shop\n",
    "routing.yaml": (
        "defaults:\n  model: fast\nmodels:\n  fast: {model: openai/gpt-4o-mini}\n  smart: {model: openai/gpt-4o}\n"
        "routes:\n  support/*: {model: smart, fallbacks: [fast]}\njudge: smart\n"
    ),
    "prompts/shared/_tone.j2": "Be brief.\n",
    "prompts/greet.prompt": (
        "---\nowner: '@team'\ninputs:\n  name: {type: string}\n---\n"
        'system:\n{% include "shared/_tone.j2" %}\nuser:\nHello {{ name }}!\n'
    ),
    "prompts/support/refund.prompt": (
        "---\nowner: '@support'\nrisk: high\nfallback: A human will answer.\ninputs:\n  total: {type: number}\n---\n"
        'system:\n{% include "shared/_tone.j2" %}\nDecide on refunds.\nuser:\nTotal: {{ total }}\n'
    ),
    "prompts/faq.prompt": "---\ninputs:\n  q: {type: string}\n---\nAnswer the question: {{ q }}\nBe accurate and cite the FAQ page.\n",
    "evals/greet.yaml": (
        "prompt: greet\nthreshold: 0.9\ncases:\n  - id: ada\n    vars: {name: Ada}\n    assert:\n"
        "      - {type: contains, value: Ada}\n"
    ),
    "evals/support/refund.yaml": (
        "prompt: support/refund\ncases:\n  - id: small\n    vars: {total: 10}\n    assert:\n      - {type: icontains, value: refund}\n"
    ),
    "evals/faq.yaml": "prompt: faq\ncases:\n  - id: hours\n    vars: {q: 'When are you open'}\n",
}


def feature_branch(root: Path) -> None:
    """A branch that changes a partial, swaps a model, lowers a threshold and renames a prompt."""
    git(root, "checkout", "-q", "-b", "feature")
    git(root, "mv", "prompts/faq.prompt", "prompts/help.prompt")
    commit(
        root,
        {
            "prompts/shared/_tone.j2": "Be brief and kind.\n",
            "routing.yaml": PROJECT["routing.yaml"].replace("support/*: {model: smart", "support/*: {model: fast"),
            "evals/greet.yaml": PROJECT["evals/greet.yaml"].replace("threshold: 0.9", "threshold: 0.7"),
            "evals/faq.yaml": PROJECT["evals/faq.yaml"].replace("prompt: faq", "prompt: help"),
        },
        "feature",
    )


@pytest.fixture
def repo(make_repo) -> Path:
    root: Path = make_repo(PROJECT)
    feature_branch(root)
    return root


def test_a_branch_shows_every_change_classified_in_all_three_formats(repo: Path, cli, tmp_path: Path) -> None:
    out_file = tmp_path / "diff.json"
    code, _, err = cli("diff", "main", "feature", "--repo", repo, "--format", "json", "-o", out_file)
    assert code == 0, err
    doc = json.loads(out_file.read_text())
    jsonschema.validate(doc, schema("diff"))
    prompts = {p["id"]: p for p in doc["prompts"]}
    assert set(prompts) == {"greet", "support/refund", "help"}
    # the partial, in every prompt it reaches, with the rendered messages
    assert doc["partials"][0]["name"] == "shared/_tone.j2"
    assert doc["partials"][0]["reaches"] == ["greet", "support/refund"]
    greet = prompts["greet"]
    assert greet["behaviour"] and [c["kind"] for c in greet["changes"]] == ["partial"]
    assert "+Be brief and kind." in greet["rendered"][0]["messages"][0]["diff"]
    # the model swap, resolved for the prompt it reaches
    refund = prompts["support/refund"]
    swap = next(c for c in refund["changes"] if c["field"] == "model")
    assert (swap["before"]["name"], swap["after"]["name"], swap["note"]) == ("smart", "fast", "model swap")
    assert refund["high_risk"] and doc["summary"]["high_risk"] == ["support/refund"]
    assert [c["field"] for c in doc["routing"]] == ["routes.support/*.model"]
    # the rename, from git's rename detection: breaking, so a major bump
    assert (prompts["help"]["status"], prompts["help"]["old_id"], prompts["help"]["breaking"]) == (
        "renamed",
        "faq",
        True,
    )
    assert doc["summary"]["bump"] == "major"
    # the lowered threshold: a weakened gate
    suites = {s["id"]: s for s in doc["suites"]}
    assert suites["greet"]["weakened"] and suites["greet"]["changes"][0]["field"] == "threshold"
    assert not suites["faq"]["weakened"]
    assert doc["summary"]["weakened_gates"] == [
        {"subject": "suite greet", "reason": "threshold lowered from 0.9 to 0.7"}
    ]

    code, text, _ = cli("diff", "main", "feature", "--repo", repo)
    assert code == 0
    for expected in (
        "M shared/_tone.j2",
        "R faq → help",
        "model: smart (openai/gpt-4o) → fast (openai/gpt-4o-mini)",
        "threshold: 0.9 → 0.7",
        "Weakened gates:",
        "Breaking:",
        "High-risk prompts changed: support/refund",
        "+Be brief and kind.",
        "version bump: major",
    ):
        assert expected in text, expected
    check_golden("diff-branch.txt", text)

    code, markdown, _ = cli("diff", "main", "feature", "--repo", repo, "--format", "markdown")
    assert code == 0 and markdown.startswith(MARKER)
    for expected in (
        "<code>shared/_tone.j2</code>",
        "<code>faq → help</code>",
        "model swap",
        "threshold lowered from 0.9 to 0.7",
        "**Breaking**",
        "**Weakened gates**",
        "High-risk prompts changed",
        "version bump **major**",
    ):
        assert expected in markdown, expected
    check_golden("diff-branch.md", markdown)


def test_the_default_base_is_the_merge_base_and_head_the_working_tree(repo: Path, cli) -> None:
    commit(repo, {"prompts/greet.prompt": PROJECT["prompts/greet.prompt"].replace("Hello", "Hi")}, "later on main?")
    git(repo, "checkout", "-q", "main")
    commit(repo, {"prompts/other.prompt": "Main moved on.\n"}, "main moves")
    git(repo, "checkout", "-q", "feature")
    (repo / "prompts" / "draft.prompt").write_text("Not committed yet.\n")  # untracked: still part of HEAD
    code, out, err = cli("diff", "--repo", repo, "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["base"].startswith("merge-base with main") and doc["head"] == "working tree"
    ids = {p["id"]: p["status"] for p in doc["prompts"]}
    assert ids["draft"] == "added" and "other" not in ids  # main's later commits are not this change
    assert ids["help"] == "renamed"


def test_a_diff_of_a_revision_with_itself_is_empty_and_exits_0_with_exit_code(repo: Path, cli) -> None:
    code, out, _ = cli("diff", "feature", "feature", "--repo", repo, "--exit-code")
    assert code == 0 and out.startswith("No changes")
    code, out, _ = cli("diff", "main", "main", "--repo", repo, "--format", "json", "--exit-code")
    doc = json.loads(out)
    assert code == 0 and not doc["summary"]["changed"] and doc["summary"]["bump"] is None
    assert cli("diff", "main", "feature", "--repo", repo, "--exit-code")[0] == 1


def test_swapping_base_and_head_swaps_added_and_removed(repo: Path, cli) -> None:
    commit(repo, {"prompts/new.prompt": "Brand new.\n", "prompts/greet.prompt": None, "evals/greet.yaml": None}, "swap")

    def statuses(*revs: str) -> dict[str, str]:
        code, out, _ = cli("diff", *revs, "--repo", repo, "--format", "json")
        assert code == 0
        return {p["id"]: p["status"] for p in json.loads(out)["prompts"]}

    forward, backward = statuses("main", "feature"), statuses("feature", "main")
    assert forward["new"] == "added" and forward["greet"] == "removed" and forward["help"] == "renamed"
    assert backward["new"] == "removed" and backward["greet"] == "added" and backward["faq"] == "renamed"


@pytest.mark.parametrize(
    ("policy", "code"),
    [("breaking", 1), ("weakened-gate", 1), ("high-risk", 1), ("weakened-gate,breaking", 1)],
)
def test_fail_on_turns_findings_into_exit_1(repo: Path, cli, policy: str, code: int) -> None:
    result, out, err = cli("diff", "main", "feature", "--repo", repo, "--fail-on", policy)
    assert result == code, err
    assert "✗" in err and out  # the report is still written


def test_fail_on_passes_when_the_finding_is_absent(make_repo, cli) -> None:
    root = make_repo(PROJECT)
    commit(root, {"prompts/greet.prompt": PROJECT["prompts/greet.prompt"].replace("Hello", "Hi")})
    args = ("diff", "HEAD~1", "HEAD", "--repo", root)
    assert cli(*args, "--fail-on", "breaking", "--fail-on", "weakened-gate,high-risk")[0] == 0
    assert cli(*args, "--exit-code")[0] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fail-on", "nonsense"], "unknown --fail-on 'nonsense'"),
        (["--fail-on", "regression"], "--fail-on regression needs --eval"),
        (["--format", "pdf"], "unknown format 'pdf'"),
        (["main", "feature", "--eval"], "--eval evaluates the working tree"),
        (["no-such-rev"], "unknown git revision 'no-such-rev'"),
    ],
)
def test_usage_errors_exit_2(repo: Path, cli, args: list[str], message: str) -> None:
    code, _, err = cli("diff", *args, "--repo", repo)
    assert code == 2 and message in err


def test_outside_git_is_an_input_error(make_repo, cli) -> None:
    root = make_repo(PROJECT, use_git=False)
    code, _, err = cli("diff", "--repo", root)
    assert code == 2 and "not inside a git repository" in err


# -- shallow clones ------------------------------------------------------------------------------------------


def shallow(source: Path, target: Path, *args: str) -> Path:
    git(source.parent, "clone", "-q", "--depth", "1", *args, f"file://{source}", str(target))
    return target


def test_a_shallow_clone_missing_base_says_which_fetch_to_run(repo: Path, cli, tmp_path: Path) -> None:
    git(repo, "checkout", "-q", "main")
    commit(repo, {"prompts/other.prompt": "More.\n"}, "second on main")
    clone = shallow(repo, tmp_path / "clone", "--branch", "main")
    code, _, err = cli("diff", "HEAD~1", "--repo", clone)
    assert code == 2
    assert "git fetch --unshallow" in err


def test_a_shallow_clone_without_the_merge_base_says_which_fetch_to_run(repo: Path, cli, tmp_path: Path) -> None:
    git(repo, "checkout", "-q", "main")
    commit(repo, {"prompts/other.prompt": "More.\n"}, "main moves on")
    clone = shallow(repo, tmp_path / "clone", "--no-single-branch", "--branch", "feature")
    code, _, err = cli("diff", "--repo", clone)
    assert code == 2
    assert "cannot find the merge-base" in err and "git fetch --unshallow" in err and "fetch-depth: 0" in err


def test_a_shallow_single_branch_clone_without_a_default_branch(repo: Path, cli, tmp_path: Path) -> None:
    git(repo, "checkout", "-q", "main")  # the remote's default branch, which the clone leaves out
    clone = shallow(repo, tmp_path / "clone", "--branch", "feature")
    code, _, err = cli("diff", "--repo", clone)
    assert code == 2
    assert "no default branch" in err and "git fetch origin main" in err


# -- layout --------------------------------------------------------------------------------------------------


def test_a_project_in_a_subdirectory_gets_rename_detection(make_repo, cli) -> None:
    root = make_repo({f"service/{k}": v for k, v in PROJECT.items()} | {"README.md": "mono\n"})
    git(root, "mv", "service/prompts/faq.prompt", "service/prompts/help.prompt")
    (root / "service" / "evals" / "faq.yaml").write_text(
        PROJECT["evals/faq.yaml"].replace("prompt: faq", "prompt: help")
    )
    code, out, err = cli("diff", "HEAD", "--repo", root / "service", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert [(p["id"], p["status"], p["old_path"]) for p in doc["prompts"]] == [
        ("help", "renamed", "prompts/faq.prompt")
    ]


def test_schema_command_prints_the_diff_schema(cli) -> None:
    code, out, _ = cli("schema", "diff")
    assert code == 0 and json.loads(out)["title"] == "promptops diff"


# -- --eval --------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("api_key")
def test_eval_shows_a_regressed_case_with_its_output_diff(make_repo, cli, server, tmp_path: Path) -> None:
    from eval_fixtures import ANSWER_PROMPT, project

    root = make_repo(project(server.base_url, {"a": "yes a", "b": "yes b"}))
    (root / "prompts" / "answer.prompt").write_text(
        ANSWER_PROMPT.replace("REPLY: {{ answer }}", "REPLY: {{ answer | replace('yes b', 'no b') }}")
    )
    out_file = tmp_path / "diff.json"
    code, _, err = cli("diff", "HEAD", "--eval", "--repo", root, "--format", "json", "-o", out_file)
    assert code == 0, err  # a regression does not fail on its own
    doc = json.loads(out_file.read_text())
    jsonschema.validate(doc, schema("diff"))
    ev = doc["eval"]
    assert [(s["suite"], s["base_pass_rate"], s["head_pass_rate"]) for s in ev["suites"]] == [("answer", 1.0, 0.5)]
    (case,) = ev["cases"]
    assert (case["case"], case["change"], case["base_verdict"], case["head_verdict"]) == (
        "b",
        "regressed",
        "pass",
        "fail",
    )
    assert "-yes b" in case["output_diff"] and "+no b" in case["output_diff"]
    assert ev["regressions"] == 1

    code, markdown, _ = cli("diff", "HEAD", "--eval", "--repo", root, "--format", "markdown")
    assert code == 0 and "regressed" in markdown and "+no b" in markdown and "100% | 50%" in markdown
    code, _, err = cli("diff", "HEAD", "--eval", "--repo", root, "--fail-on", "regression")
    assert code == 1 and "regressed: answer / b" in err


@pytest.mark.usefixtures("api_key")
def test_eval_keeps_provider_errors_as_exit_3_and_skips_when_nothing_is_affected(make_repo, cli, server) -> None:
    from eval_fixtures import project

    root = make_repo(project(server.base_url, {"a": "yes a"}, retries=0))
    code, out, _ = cli("diff", "HEAD", "--eval", "--repo", root)
    assert code == 0 and "No eval suite is affected" in out
    server.configure(faults="500")
    (root / "evals" / "answer.yaml").write_text(
        (root / "evals" / "answer.yaml").read_text().replace("threshold: 1.0", "threshold: 0.5")
    )
    code, out, err = cli("diff", "HEAD", "--eval", "--repo", root)
    assert code == 3, out + err


# -- loading only what a change reaches ------------------------------------------------------------------------

REACH = {
    "promptops.yaml": "project: reach\n",
    "routing.yaml": (
        "defaults:\n  model: fast\n  params: {temperature: 0}\nmodels:\n  fast: {model: openai/mini}\n"
        "  smart: {model: openai/big}\nroutes:\n  'deep/*': {model: smart}\n"
    ),
    "prompts/shared/_outer.j2": "{% include 'shared/_inner.j2' %} Outer.\n",
    "prompts/shared/_inner.j2": "Inner.\n",
    "prompts/shared/_other.j2": "Other.\n",
    "prompts/base.prompt": "---\ninputs:\n  x: {type: string}\n---\nBase {{ x }}.\n",
    "prompts/wraps.prompt": "---\ninputs:\n  x: {type: string}\n---\n{% include 'base.prompt' %} Wrapped.\n",
    "prompts/deep/nested.prompt": "{% include 'shared/_outer.j2' %}\n",
    "prompts/dynamic.prompt": "---\ninputs:\n  which: {type: string}\n---\n{% include which %}\n",
    "prompts/own_params.prompt": "---\nparams: {temperature: 0.7}\n---\nHi.\n",
    "prompts/pinned.prompt": "---\nsources: [docs/*.md]\n---\nRead the docs.\n",
    "prompts/plain.prompt": "Plain.\n",
    "docs/a.md": "Doc A.\n",
    "evals/wraps.yaml": "prompt: wraps\ncases:\n  - id: one\n    vars: {x: '1'}\n",
    "evals/dynamic.yaml": "prompt: dynamic\ncases:\n  - id: other\n    vars: {which: shared/_other.j2}\n",
    "evals/rows.yaml": "prompt: base\ndatasets: [data/rows.jsonl]\n",
    "evals/data/rows.jsonl": '{"id": "r1", "x": "a"}\n',
    "evals/deep.yaml": 'prompt: "deep/nested"   # quoted\ncases:\n  - id: d\n    vars: {}\n',
}


@pytest.mark.parametrize(
    "change",
    [
        {"prompts/shared/_inner.j2": "Inner, changed.\n"},
        {"prompts/shared/_other.j2": "Other, changed.\n"},
        {"prompts/base.prompt": REACH["prompts/base.prompt"].replace("Base", "Basis")},
        {"evals/data/rows.jsonl": '{"id": "r1", "x": "b"}\n'},
        {"docs/a.md": "Doc A, revised.\n", "docs/b.md": "Doc B.\n"},
        {"routing.yaml": REACH["routing.yaml"].replace("temperature: 0}", "temperature: 0.2}")},
        {"routing.yaml": REACH["routing.yaml"].replace("openai/big", "openai/bigger")},
        {"routing.yaml": REACH["routing.yaml"] + "judge: smart\n"},
        {
            "prompts/new.prompt": "New {{ x }}.\n",
            "evals/new.yaml": "prompt: new\ncases:\n  - id: n\n    vars: {x: y}\n",
        },
        {"prompts/plain.prompt": None, "prompts/base.prompt": None},
        {"evals/deep.yaml": REACH["evals/deep.yaml"].replace("vars: {}", "vars: {a: 1}")},
    ],
)
def test_loading_only_what_a_change_reaches_gives_the_full_report(make_repo, change: dict[str, str | None]) -> None:
    from conftest import write_tree

    from promptops import diff as d
    from promptops import loader
    from promptops.workspace import GitSource, TreeSource

    root = make_repo(REACH)
    write_tree(root, change)
    sides = d.open_sides(root, "HEAD", None)
    scoped = d.diff(sides.base, sides.head, base_source=sides.base_source, head_source=sides.head_source)
    base, head = GitSource(root, "HEAD"), TreeSource(root)
    full = d.diff(loader.load(base), loader.load(head), base_source=base, head_source=head)
    assert full.changed
    strip = lambda doc: {k: v for k, v in doc.items() if k not in ("base", "head")}  # noqa: E731
    assert strip(d.as_dict(scoped)) == strip(d.as_dict(full))


def test_a_one_prompt_change_loads_a_few_files_not_the_project(make_repo) -> None:
    from promptops import diff as d

    files = {**{k: v for k, v in REACH.items() if "dynamic" not in k}, "prompts/plain.prompt": "Plainer.\n"}
    root = make_repo({k: v for k, v in REACH.items() if "dynamic" not in k})
    (root / "prompts" / "plain.prompt").write_text(files["prompts/plain.prompt"])
    sides = d.open_sides(root, "HEAD", None)
    assert set(sides.head.prompts) == set(sides.base.prompts) == {"plain"}
    assert not sides.head.suites


def test_diff_shows_no_key_in_rendered_messages_in_any_format(make_repo, cli, monkeypatch) -> None:
    token = "Hx8Kd2Lq7Zp4Wm9Rt3Yv"
    monkeypatch.setenv("MY_SERVICE_TOKEN", token)
    prompt = "---\ndescription: d\ninputs:\n  tok: {type: string}\n---\nuser:\ntoken {{ tok }}\n"
    root = make_repo(
        {
            "promptops.yaml": "project: t\n",
            "routing.yaml": "defaults:\n  model: m\nmodels:\n  m:\n    model: openai/gpt-4o-mini\n",
            "prompts/q.prompt": prompt,
            "evals/q.yaml": f"prompt: q\ncases:\n  - id: c1\n    vars: {{tok: {token}}}\n"
            "    assert:\n      - {type: contains, value: x}\n",
        }
    )
    commit(root, {"prompts/q.prompt": prompt.replace("token {{", "the token: {{")})
    for fmt in ("text", "json", "html"):
        code, out, err = cli("diff", "HEAD~1", "HEAD", "--format", fmt, "-C", root)
        assert code == 0, err
        assert "REDACTED" in out and token not in out + err
