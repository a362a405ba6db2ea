"""Start-up stays light: heavy libraries are imported only by the commands that use them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import EXAMPLE, MINIMAL

PROBE = """
import json, sys
from promptops.cli import main
code = main(sys.argv[1:])
heavy = [m for m in ("litellm", "git", "jsonschema", "jinja2") if m in sys.modules]
print("\\n" + json.dumps({"code": code, "heavy": heavy}))
"""


def imported_by(*args: str) -> tuple[int, list[str]]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=False)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["code"], result["heavy"]


def test_help_imports_nothing_heavy() -> None:
    code, heavy = imported_by("--help")
    assert code == 0
    assert heavy == []


def test_version_imports_nothing_heavy() -> None:
    assert imported_by("--version") == (0, [])


def test_render_imports_neither_litellm_nor_gitpython(make_repo) -> None:
    root: Path = make_repo(MINIMAL)
    code, heavy = imported_by("render", "greet", "--var", "name=Ada", "--repo", str(root))
    assert code == 0
    assert "litellm" not in heavy and "git" not in heavy


def test_lint_of_the_example_does_not_import_litellm() -> None:
    code, heavy = imported_by("lint", str(EXAMPLE))
    assert code == 0
    assert "litellm" not in heavy


def test_importing_the_package_does_no_work() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, promptops, promptops.cli; print(sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('typer', 'rich', 'click', 'yaml', 'jinja2', 'git', 'litellm', 'jsonschema')))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "[]"


LEDGER_PROBE = """
import json, shlex, sys
from promptops.cli import main
seen = []
for line in sys.argv[1:]:
    code = main(shlex.split(line))
    heavy = [m for m in ("jsonschema", "promptops.loader", "jinja2", "litellm", "promptops.model") if m in sys.modules]
    seen.append({"command": line.split()[0], "code": code, "heavy": heavy})
print("\\n" + json.dumps(seen))
"""


def test_ledger_commands_read_only_the_settings(reuse, make_repo, cli) -> None:
    """rollback, status, history, kill and revive read promptops.yaml and the ledger: they neither load the
    project nor import jsonschema (an on-call engineer's rollback starts as fast as the interpreter allows).
    rollback and status do not even make the repository's model (`promptops.model`, twenty-odd dataclasses);
    history (which lists the prompt files), kill and revive (which read the prompt) may."""
    from test_ledger import build_releases

    root = reuse("ledger-releases", lambda: build_releases(make_repo, cli))
    for tag in ("v0.1.0", "v0.1.1"):
        code, _, err = cli("promote", tag, "--env", "production", "--reason", "r", "--repo", root)
        assert code == 0, err
    repo = f"--repo {root}"
    commands = [
        f"rollback --env production --reason incident {repo}",
        f"status {repo}",
        f"history --env production {repo}",
        f"kill greet --env production --reason r {repo}",  # refused (no fallback), after reading the prompt
        f"kill greet --env production --reason r --allow-error {repo}",
        f"revive greet --env production --reason r {repo}",
    ]
    done = subprocess.run(
        [sys.executable, "-c", LEDGER_PROBE, *commands], capture_output=True, text=True, check=False, cwd=root
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert [(s["command"], s["code"]) for s in seen] == [
        ("rollback", 0), ("status", 0), ("history", 0), ("kill", 2), ("kill", 0), ("revive", 0)
    ]  # fmt: skip
    assert [s["heavy"] for s in seen[:2]] == [[]] * 2, done.stderr  # the first two, in one process
    assert all(set(s["heavy"]) <= {"promptops.model"} for s in seen[2:]), done.stderr


def test_lint_checks_case_vars_without_jsonschema(make_repo) -> None:
    """Every case's vars are checked against its prompt's inputs schema by the schema's compiled check; the
    full validator (and jsonschema) is needed only to word what is wrong."""
    root: Path = make_repo(MINIMAL)
    code, heavy = imported_by("lint", str(root))
    assert code == 0
    assert "jsonschema" not in heavy


def test_lint_still_words_a_case_var_that_does_not_fit(make_repo) -> None:
    files = dict(MINIMAL)
    files["evals/greet.yaml"] = files["evals/greet.yaml"].replace("{name: Ada}", "{name: 42}")
    root: Path = make_repo(files)
    done = subprocess.run(
        [sys.executable, "-m", "promptops", "lint", str(root)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    assert "case 'ada': var name: 42 is not of type 'string' [case-vars]" in done.stdout


def test_the_ledger_commands_print_their_line_without_rich(reuse, make_repo, cli) -> None:
    """A rollback, kill or revive says what it did in one plain line; only `status`'s table needs rich."""
    from test_ledger import build_releases

    root = reuse("ledger-releases", lambda: build_releases(make_repo, cli))
    for tag in ("v0.1.0", "v0.1.1"):
        code, _, err = cli("promote", tag, "--env", "production", "--reason", "r", "--repo", root)
        assert code == 0, err
    probe = (
        "import shlex, sys; from promptops.cli import main; code = main(shlex.split(sys.argv[1])); "
        "print(code, 'rich' in sys.modules)"
    )
    expected = {
        "rollback --env production --reason incident": "roll back production to v0.1.0 (ledger ",
        "kill greet --env production --reason r --allow-error": "kill greet in production (ledger ",
        "status --format json": "",
    }
    for line, said in expected.items():
        done = subprocess.run(
            [sys.executable, "-c", probe, f"{line} --repo {root}"], capture_output=True, text=True, check=False
        )
        assert done.stdout.split()[-2:] == ["0", "False"], (line, done.stdout, done.stderr)
        assert done.stderr.startswith(said) and done.stderr.count("\n") == (1 if said else 0), done.stderr


def test_lint_of_the_example_does_not_import_jsonschema() -> None:
    """The example's case vars and its json-schema assertion are valid: jsonschema would only word a problem."""
    code, heavy = imported_by("lint", str(EXAMPLE))
    assert (code, heavy) == (0, ["jinja2"])
