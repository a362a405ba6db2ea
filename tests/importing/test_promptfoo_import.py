"""`promptops import promptfoo` on configs written for each part of the mapping (tests/data/promptfoo/*) and on a
real public example (json-output): the report, exit codes, lint of the result, and `eval --replay` over recorded
answers giving the pass/fail per case that promptfoo's semantics give."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from promptops.evaluate.plan import plan, select_suites
from promptops.loader import load, schema
from promptops.workspace import TreeSource

DATA = Path(__file__).parent.parent / "data" / "promptfoo"
# Built at run time so that secret scanners do not flag the test data.
LITERAL_KEY = "sk-proj-" + "Zq9Xw8Vu7Ts6Rr5Qp4On3Ml2" * 2


def imported(cli, tmp_path: Path, name: str, *extra: str) -> tuple[int, dict[str, Any], str, Path]:
    """Copy a test config, import it into a fresh directory; (exit code, JSON report, stderr, the new root)."""
    source = tmp_path / "promptfoo" / name
    shutil.copytree(DATA / name, source)
    config = source / "promptfooconfig.yaml"
    config.write_text(config.read_text().replace("__LITERAL_KEY__", LITERAL_KEY))
    root = tmp_path / "repo"
    code, out, err = cli("import", "promptfoo", config, "--into", root, "--format", "json", *extra)
    report = json.loads(out) if out.strip() else {}
    if report:
        jsonschema.validate(report, schema("import"))
    return code, report, err, root


def reviews(report: dict[str, Any]) -> list[str]:
    return [f"{i['where']} {i['what']}: {i['how']}" for i in report["items"] if i["status"] == "review"]


def lint(cli, root: Path) -> list[tuple[str, str, str, int]]:
    code, out, _ = cli("lint", "--repo", root, "--format", "json")
    findings = json.loads(out)["findings"]
    assert code == (1 if any(f["severity"] == "error" for f in findings) else 0)
    return [(f["rule"], f["severity"], f["file"], f["line"]) for f in findings]


def replay(cli, root: Path, answer: Any) -> dict[tuple[str, str], str]:
    """Record `answer(suite, case, vars)` for every task, run `eval --replay`: {(suite, case): verdict}."""
    snapshot = load(TreeSource(root))
    rows: dict[str, list[str]] = {}
    for task in plan(snapshot, select_suites(snapshot, [])):
        if task.request is None:
            continue
        text = answer(task.suite.id, task.case.id, dict(task.vars))
        row = {"key": task.key, "case": task.case.id, "variant": task.variant, "model": task.model.name, "text": text}
        rows.setdefault(task.suite.id, []).append(json.dumps(row))
    for suite, lines in rows.items():
        path = root / "evals" / "recordings" / f"{suite}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
    out = root / "report.json"
    cli("eval", "--repo", root, "--replay", "-o", out)
    return {(c["suite"], c["case"]): c["verdict"] for c in json.loads(out.read_text())["cases"]}


# -- a real public example -----------------------------------------------------------------------------------

FRUIT = {
    "Banana": '{"color": "yellow", "countries": ["Ecuador", "Colombia"]}',
    "Passion fruit": '{"color": "purple", "countries": ["Brazil", "India"]}',
}
TRANSLATED = '''"""The javascript checks of the json-output example, written in python."""
import json


def _data(output):
    try:
        return json.loads(output)
    except ValueError:
        return {}


def check_1(output, context):
    data = _data(output)
    return data.get("color") == "yellow" and "Ecuador" in data.get("countries", [])


def check_2(output, context):
    data = _data(output)
    return data.get("color") == "purple" and "Brazil" in data.get("countries", [])
'''


def test_the_public_json_output_example_imports_lints_and_replays_as_promptfoo_judges(cli, tmp_path) -> None:
    code, report, err, root = imported(cli, tmp_path, "json-output")
    assert code == 1, err
    assert [r.split(": ")[0] for r in reviews(report)] == [
        "promptfooconfig.yaml:14 tests[0].assert[1] (javascript)",
        "promptfooconfig.yaml:36 tests[1].assert[1] (javascript)",
    ]
    assert lint(cli, root) == [
        ("imported-stub", "warning", "evals/json-output.yaml", 10),
        ("imported-stub", "warning", "evals/json-output.yaml", 29),
    ]
    stubbed = replay(cli, root, lambda s, c, v: FRUIT[v["item"]])
    assert stubbed == {("json-output", "test-1"): "error", ("json-output", "test-2"): "error"}  # never a pass

    (root / "evals/checks/json-output.py").write_text(TRANSLATED)  # what the person the report asked does
    assert lint(cli, root) == []
    assert replay(cli, root, lambda s, c, v: FRUIT[v["item"]]) == {
        ("json-output", "test-1"): "pass",
        ("json-output", "test-2"): "pass",
    }
    wrong = {**FRUIT, "Passion fruit": '{"color": "purple", "countries": ["Brazil", "Peru"]}'}
    assert replay(cli, root, lambda s, c, v: wrong[v["item"]])[("json-output", "test-2")] == "fail"  # contains-any
    not_json = {**FRUIT, "Banana": "yellow, from Ecuador"}
    assert replay(cli, root, lambda s, c, v: not_json[v["item"]])[("json-output", "test-1")] == "fail"  # is-json


# -- one config per part of the mapping ----------------------------------------------------------------------


def test_prompts_inline_files_multi_chat_and_nunjucks(cli, tmp_path) -> None:
    code, report, err, root = imported(cli, tmp_path, "prompts")
    assert code == 1, err
    assert reviews(report) == [
        "nunjucks.njk:3 prompts[5]: filter `shout` does not exist in Jinja2: rewrite it (see README)"
    ]
    mapped = {(i["where"], i["how"]) for i in report["items"] if i["status"] == "mapped"}
    assert ("nunjucks.njk:1", "Nunjucks `.length` rewritten as Jinja2's `| length`") in mapped
    assert ("nunjucks.njk:2", "Nunjucks filter `dump` rewritten as Jinja2's `tojson`") in mapped
    prompts = sorted(p.relative_to(root / "prompts").as_posix() for p in (root / "prompts").rglob("*.*"))
    assert prompts == [
        "prompts/chat-2.yaml",
        "prompts/chat.yaml",
        "prompts/nunjucks.prompt",
        "prompts/prompt-1.prompt",
        "prompts/prompt.prompt",
        "prompts/several-1.prompt",
        "prompts/several-2.prompt",
    ]
    assert lint(cli, root) == [("template-syntax", "error", "prompts/prompts/nunjucks.prompt", 9)]  # the one listed
    code, out, _ = cli(
        "render", "prompts/chat", "--var", "question=Capital of Peru?", "--repo", root, "--format", "json"
    )
    assert json.loads(out)["messages"] == [
        {"role": "system", "content": "You answer geography questions."},
        {"role": "user", "content": "Capital of Peru?"},
    ]
    code, out, _ = cli("render", "prompts/several-2", "--var", "question=Why?", "--repo", root)
    assert out == "user:\nSecond variant, think first: Why?\n"
    suite = (root / "evals/prompts.yaml").read_text()
    assert suite.startswith("variants:\n  prompt-1: prompts/prompt-1\n  prompt: prompts/prompt\n") and "&" not in suite
    verdicts = replay(cli, root, lambda s, c, v: "Paris" if s != "prompts@prompt-1" else "London")
    assert verdicts[("prompts@prompt", "capital")] == verdicts[("prompts@prompt", "capital-2")] == "pass"
    assert verdicts[("prompts@prompt-1", "capital")] == "fail"  # one case per value of the list var `topics`
    assert verdicts[("prompts@nunjucks", "capital")] == "error"  # the flagged filter
    assert len(verdicts) == 14  # 7 variants x 2 cases


def test_providers_become_named_models_and_a_literal_key_is_written_nowhere(cli, tmp_path) -> None:
    code, report, err, root = imported(cli, tmp_path, "providers")
    assert code == 1, err
    assert [r.split(": ")[0] for r in reviews(report)] == [
        "promptfooconfig.yaml:7 providers[1] (openai:chat:gpt-4o).config.apiKey",
        "promptfooconfig.yaml:17 providers[3] (https://internal.example.com)",
    ]
    assert "Rotate this key" in reviews(report)[0]
    routing = (root / "routing.yaml").read_text()
    assert routing == (
        "defaults:\n  model: gpt-4o-mini\nmodels:\n"
        "  gpt-4o-mini:\n    model: openai/gpt-4o-mini\n    api_key_env: OPENAI_API_KEY\n"
        "  big:\n    model: openai/gpt-4o\n    api_base: https://gateway.example.com/v1\n"
        "    api_key_env: OPENAI_API_KEY\n    params:\n      temperature: 0.2\n      max_tokens: 100\n"
        "  claude-3-5-haiku-20241022:\n    model: anthropic/claude-3-5-haiku-20241022\n"
        "    api_key_env: TEAM_ANTHROPIC_KEY\n"
    )
    matrix = [i["how"] for i in report["items"] if i["what"] == "providers"]
    assert matrix == ["several providers: a model matrix, `promptops eval --model gpt-4o-mini --model big --model "
                      "claude-3-5-haiku-20241022`"]  # fmt: skip
    assert lint(cli, root) == []
    everything = json.dumps(report) + err + "".join(p.read_text() for p in root.rglob("*") if p.is_file())
    assert LITERAL_KEY not in everything and LITERAL_KEY[:20] not in everything


def test_tests_defaults_files_csv_columns_and_options(cli, tmp_path) -> None:
    code, report, _, root = imported(cli, tmp_path, "tests")
    assert code == 1 and reviews(report) == [
        "promptfooconfig.yaml:10 evaluateOptions.showProgressBar: `showProgressBar` has no promptops equivalent; left out"
    ]
    assert lint(cli, root) == []
    assert (root / "promptops.yaml").read_text() == "project: tests\neval:\n  concurrency: 2\n"
    assert "\nrepeat: 2\n" in (root / "evals/tests.yaml").read_text()
    assert "  gpt-4o:\n    model: openai/gpt-4o\n" in (root / "routing.yaml").read_text()
    assert (
        "options:\n    response_format:\n      type: json_object\n    model: gpt-4o\n"
        in (root / "evals/tests.yaml").read_text()
    )
    answers = {
        "I loved every minute of it.\n": " positive\n",
        "Great value": "positive",
        "Broke in a day": "It is negative.",
        "It is fine": "NEUTRAL",
        "Terrible support": "negative, clearly",
        "Best purchase ever": "positive",
        "meh": '{"label": "neutral"}',
    }
    verdicts = replay(cli, root, lambda s, c, v: answers[v["review"]])
    assert set(verdicts.values()) == {"pass"} and len(verdicts) == 7, verdicts
    rude = {**answers, "Best purchase ever": "As an AI, positive"}
    assert replay(cli, root, lambda s, c, v: rude[v["review"]])[("tests", "yaml-case")] == "fail"  # defaultTest
    code, out, _ = cli("render", "tests", "--case", "tests:broke", "--repo", root)
    assert out == "user:\nBe strict. Classify the sentiment of: Broke in a day\n"  # __prefix
    code, out, _ = cli("render", "tests", "--case", "tests:mixed", "--repo", root)
    assert out == "user:\nClassify the sentiment of: It is fine Answer in lower case.\n"  # __suffix


def test_assertions_mapped_metrics_python_and_stubs(cli, tmp_path) -> None:
    code, report, err, root = imported(cli, tmp_path, "assertions")
    assert code == 1, err
    assert [r.split(": ")[0] for r in reviews(report)] == [
        "promptfooconfig.yaml:33 tests[1].assert[1] (javascript)",
        "promptfooconfig.yaml:34 tests[1].assert[2].transform",
        "promptfooconfig.yaml:35 tests[1].assert[3] (levenshtein)",
    ]
    assert "value: length {{ label | length }}" in (root / "evals/assertions.yaml").read_text()
    routing = (root / "routing.yaml").read_text()
    assert "grader:\n    model: openai/gpt-4o\n" in routing and routing.endswith("judge: grader\n")
    assert {f[0] for f in lint(cli, root)} == {"imported-stub"}
    verdicts = replay(cli, root, lambda s, c, v: "Hello there!")
    assert verdicts == {("assertions", "mapped"): "pass", ("assertions", "needs-a-person"): "error"}
    metrics = json.loads((root / "report.json").read_text())["metrics"]
    assert [(m["metric"], m["passed"]) for m in metrics] == [("greeting", 1)]
    assert replay(cli, root, lambda s, c, v: "Hello there, goodbye!")[("assertions", "mapped")] == "fail"


# -- what is refused -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "promptfoo config not found"),
        ("prompts: [a\n", "YAML"),
        ("- just\n- a list\n", "a promptfoo config is a mapping"),
    ],
)
def test_an_unreadable_config_exits_2_and_writes_nothing(cli, tmp_path, text: str | None, message: str) -> None:
    config = tmp_path / "promptfooconfig.yaml"
    if text is not None:
        config.write_text(text)
    code, _, err = cli("import", "promptfoo", config, "--into", tmp_path / "repo")
    assert code == 2 and message.lower() in err.lower() and "promptfooconfig.yaml" in err
    assert not (tmp_path / "repo").exists()


def test_dry_run_writes_nothing_and_a_clash_refuses_the_whole_import(cli, tmp_path) -> None:
    code, report, _, root = imported(cli, tmp_path, "tests", "--dry-run")
    assert code == 1 and "evals/tests.yaml" in report["files"] and report["written"] == []
    assert not root.exists()
    (root / "prompts").mkdir(parents=True)
    (root / "prompts/tests.prompt").write_text("mine\n")
    config = tmp_path / "promptfoo" / "tests" / "promptfooconfig.yaml"
    code, _, err = cli("import", "promptfoo", config, "--into", root)
    assert code == 2 and "prompts/tests.prompt" in err
    assert sorted(p.name for p in root.rglob("*") if p.is_file()) == ["tests.prompt"]


def test_help_golden(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from golden_files import check_golden

    from promptops.cli import main

    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("TERM", "dumb")
    assert main(["import", "promptfoo", "--help"]) == 0
    out = capsys.readouterr().out
    assert "Exit codes" in out
    check_golden("help-import-promptfoo.txt", "\n".join(line.rstrip() for line in out.splitlines()) + "\n")


def test_an_existing_repository_keeps_its_settings_and_is_told_which_models_to_add(cli, tmp_path, make_repo) -> None:
    from conftest import MINIMAL

    root = make_repo(MINIMAL)
    before = {name: (root / name).read_text() for name in ("routing.yaml", "promptops.yaml")}
    config = tmp_path / "pf" / "promptfooconfig.yaml"
    shutil.copytree(DATA / "json-output", config.parent)
    code, out, err = cli("import", "promptfoo", config, "--into", root, "--format", "json")
    assert code == 1, err
    assert {name: (root / name).read_text() for name in before} == before
    (routing,) = [i["how"] for i in json.loads(out)["items"] if i["what"] == "routing.yaml"]
    assert "gpt-3.5-turbo" in routing and "model: openai/gpt-3.5-turbo" in routing
    assert (root / "prompts/pf.prompt").exists() and (root / "evals/pf.yaml").exists()


def test_a_json_config_imports_as_its_yaml_twin(cli, tmp_path) -> None:
    import yaml

    code, yaml_report, _, yaml_root = imported(cli, tmp_path, "tests")
    twin = tmp_path / "promptfoo" / "tests" / "promptfooconfig.json"
    twin.write_text(json.dumps(yaml.safe_load((twin.parent / "promptfooconfig.yaml").read_text())))
    code, out, _ = cli("import", "promptfoo", twin, "--into", tmp_path / "twin", "--format", "json")
    assert code == 1
    files = {p.relative_to(yaml_root).as_posix(): p.read_text() for p in yaml_root.rglob("*") if p.is_file()}
    twins = {p.relative_to(tmp_path / "twin").as_posix(): p.read_text() for p in (tmp_path / "twin").rglob("*")
             if p.is_file()}  # fmt: skip

    def unsourced(text: str) -> str:  # the description names the source file and line: the only difference
        return "\n".join(line for line in text.splitlines() if not line.startswith("description: Imported from"))

    assert {k: unsourced(v) for k, v in twins.items()} == {k: unsourced(v) for k, v in files.items()}
    assert [i["how"] for i in json.loads(out)["items"]] == [i["how"] for i in yaml_report["items"]]


def test_the_text_report_golden(cli, tmp_path) -> None:
    from golden_files import check_golden

    source = tmp_path / "json-output"
    shutil.copytree(DATA / "json-output", source)
    code, out, err = cli("import", "promptfoo", source / "promptfooconfig.yaml", "--into", tmp_path / "repo")
    assert code == 1 and err == f"10 mapped, 2 need review; wrote 5 files into {(tmp_path / 'repo').resolve()}\n"
    check_golden("import-promptfoo.txt", out)


def test_the_public_getting_started_example_compares_two_prompts_on_two_models(cli, tmp_path) -> None:
    code, report, _, root = imported(cli, tmp_path, "getting-started")
    assert code == 0, reviews(report)
    assert lint(cli, root) == []
    assert (
        (root / "evals/getting-started.yaml")
        .read_text()
        .startswith("variants:\n  prompt-1: getting-started/prompt-1\n  prompt-2: getting-started/prompt-2\n")
    )

    def answer(suite: str, case: str, variables: dict[str, Any]) -> str:
        if variables["language"] == "French":
            return "Bonjour le monde!" if suite.endswith("prompt-1") else "Salut le monde"
        return "¿Dónde está la biblioteca?"

    out = root / "matrix.json"
    snapshot = load(TreeSource(root))
    lines: dict[str, list[str]] = {}
    for model in ("gpt-4.1", "o4-mini"):
        for task in plan(snapshot, select_suites(snapshot, []), models=[model]):
            row = {"key": task.key, "text": answer(task.suite.id, task.case.id, dict(task.vars))}
            lines.setdefault(task.suite.id, []).append(json.dumps(row))
    for suite, rows in lines.items():
        path = root / "evals" / "recordings" / f"{suite}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(rows) + "\n")
    code, _, _ = cli("eval", "--repo", root, "--replay", "--model", "gpt-4.1", "--model", "o4-mini", "-o", out)
    assert code == 1  # prompt-2 fails its gate on both models, as promptfoo would fail its French test
    data = json.loads(out.read_text())
    verdicts = {(c["suite"], c["case"], c["model"]): c["verdict"] for c in data["cases"]}
    assert verdicts == {
        (f"getting-started@{v}", case, model): "fail" if (v, case) == ("prompt-2", "test-1") else "pass"
        for v in ("prompt-1", "prompt-2")
        for case in ("test-1", "test-2")
        for model in ("gpt-4.1", "o4-mini")
    }
    assert {(g["axes"]["model"], len(g["differences"])) for g in data["variants"]} == {("gpt-4.1", 1), ("o4-mini", 1)}
