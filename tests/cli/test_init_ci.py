"""`promptops init` writes the whole CI loop, the Action runs the commands a developer runs, and every workflow
is actionlint and zizmor clean; pre-commit installs the hooks of this repository into its own environment."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import git

from promptops import __version__

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
SKELETON_ACTION = ROOT / "promptops" / "skeleton" / "ci" / "dot-github" / "actions" / "promptops" / "action.yml"


def tool(name: str) -> str:
    """The path of a linter installed with the test dependencies; skip only when it cannot run here."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip(f"{name} is not installed (it comes with the test dependencies)")
    try:
        subprocess.run([found, "--version"], capture_output=True, check=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"{name} cannot run here: {exc}")
    return found


def clean(command: list[str], cwd: Path) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def init(cli: Any, target: Path, *args: str) -> str:
    code, out, err = cli("init", target, *args)
    assert code == 0, out + err
    return err


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    return root


def test_a_fresh_init_runs_the_whole_loop_offline(repo: Path, cli) -> None:
    init(cli, repo)
    for rel in (".github/workflows/promptops.yml", ".github/actions/promptops/action.yml", ".pre-commit-config.yaml",
                ".github/CODEOWNERS", ".vscode/settings.json", "evals/recordings/example/greeting.jsonl"):  # fmt: skip
        assert (repo / rel).is_file(), rel
    assert cli("lint", repo, "--strict")[0] == 0
    assert cli("render", "--check", "--repo", repo)[0] == 0
    assert cli("codeowners", "--check", "--repo", repo)[0] == 0
    code, out, err = cli("eval", "--repo", repo, "--replay")
    assert code == 0, out + err
    workflow = yaml.safe_load((repo / ".github/workflows/promptops.yml").read_text())
    job = workflow["jobs"]["promptops"]
    assert workflow["permissions"] == {} and set(job["permissions"]) == {"contents", "pull-requests", "security-events"}
    assert workflow["concurrency"]["cancel-in-progress"] is True
    checkout, action = job["steps"]
    assert re.fullmatch(r"actions/checkout@[0-9a-f]{40}", checkout["uses"])
    assert checkout["with"]["persist-credentials"] is False
    assert action["uses"] == "./.github/actions/promptops"
    assert action["with"] == {"version": __version__, "working-directory": ".", "replay": "true"}
    hooks = yaml.safe_load((repo / ".pre-commit-config.yaml").read_text())["repos"][0]
    assert hooks["rev"] == f"v{__version__}"
    assert {h["id"] for h in hooks["hooks"]} == {"promptops-lint", "promptops-render", "promptops-codeowners"}
    settings = json.loads((repo / ".vscode/settings.json").read_text())["yaml.schemas"]
    for schema_path in settings:
        assert (repo / schema_path).is_file()  # local files: an editor resolves them offline


def test_init_in_a_monorepo_wires_the_project_path_at_the_git_root(repo: Path, cli) -> None:
    (repo / ".gitignore").write_text("node_modules/\n")
    (repo / ".pre-commit-config.yaml").write_text("repos: []\n")
    project = repo / "services" / "bot"
    project.mkdir(parents=True)
    (project / ".gitignore").write_text("*.log\n")
    code, _, err = cli("init", project)
    assert code == 2 and "services/bot/.gitignore" in err and "--merge" in err
    assert not (project / "prompts").exists()
    err = init(cli, project, "--merge")
    assert (project / ".gitignore").read_text().splitlines()[0] == "*.log" and ".promptops/" in (
        project / ".gitignore"
    ).read_text()
    assert (repo / ".pre-commit-config.yaml").read_text() == "repos: []\n"  # left alone, with what to add
    assert ".pre-commit-config.yaml exists: add this to it by hand" in err and '--repo, "services/bot"' in err
    workflow = yaml.safe_load((repo / ".github/workflows/promptops-services-bot.yml").read_text())
    assert workflow[True]["pull_request"]["paths"][0] == "services/bot/**"  # YAML 1.1: `on` is True
    assert workflow["jobs"]["promptops"]["steps"][1]["with"]["working-directory"] == "services/bot"
    assert "/services/bot/prompts/example/greeting.prompt @my-team" in (repo / ".github/CODEOWNERS").read_text()
    assert json.loads((repo / ".vscode/settings.json").read_text())["yaml.schemas"][
        "./.vscode/promptops-schemas/routing.json"
    ] == ["services/bot/routing.yaml"]
    assert cli("codeowners", "--check", "--repo", project)[0] == 0
    assert cli("eval", "--repo", project, "--replay")[0] == 0


def test_the_scaffolded_action_is_the_repository_action() -> None:
    assert SKELETON_ACTION.read_bytes() == ACTION.read_bytes()


def test_workflows_and_the_action_are_actionlint_and_zizmor_clean(repo: Path, cli, tmp_path: Path) -> None:
    actionlint, zizmor, shellcheck = tool("actionlint"), tool("zizmor"), tool("shellcheck")
    init(cli, repo)
    mono = tmp_path / "mono"
    (mono / "apps" / "support").mkdir(parents=True)
    git(mono, "init", "-q")
    init(cli, mono / "apps" / "support")
    for where in (ROOT, repo, mono):
        clean([actionlint, "-shellcheck", shellcheck], where)
        clean([zizmor, "--offline", "--no-progress", "."], where)
    example = "examples/github-workflows/promptops-pr.yml"
    clean([actionlint, "-shellcheck", shellcheck, example], ROOT)
    clean([zizmor, "--offline", "--no-progress", example], ROOT)
    assert f'PROMPTOPS_VERSION: "{__version__}"' in (ROOT / example).read_text()
    # actionlint reads workflows only: the action's own scripts go through shellcheck here.
    for step in yaml.safe_load(ACTION.read_text())["runs"]["steps"]:
        if "run" in step:
            script = tmp_path / "step.sh"
            script.write_text("#!/usr/bin/env bash\n" + step["run"])
            clean([shellcheck, "-s", "bash", str(script)], tmp_path)


# -- the Action's steps, run as the runner runs them ------------------------------------------------------------

EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


def run_step(step: dict[str, Any], context: dict[str, str], env: dict[str, str], workdir: Path) -> dict[str, str]:
    """One composite step's `run`, with its `env` expressions resolved from `context`; its GITHUB_OUTPUT."""
    output = workdir.parent / f"output-{step['id']}"
    output.write_text("")
    values = {k: EXPRESSION.sub(lambda m: context[m.group(1)], str(v)) for k, v in step.get("env", {}).items()}
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=workdir, env={**env, **values, "GITHUB_OUTPUT": str(output)}, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)


def test_the_action_runs_the_commands_a_developer_runs(repo: Path, cli, tmp_path: Path) -> None:
    init(cli, repo)
    action = yaml.safe_load(ACTION.read_text())
    steps = {s["id"]: s for s in action["runs"]["steps"] if "id" in s}
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "promptops").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m promptops "$@"\n')
    (shim / "promptops").chmod(0o755)
    runner_temp = tmp_path / "runner"
    runner_temp.mkdir()
    env = {
        **os.environ,
        "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_ACTIONS": "true",
    }
    context = {f"inputs.{k}": str(v.get("default", "")) for k, v in action["inputs"].items()}
    outputs = run_step(steps["setup"], context, env, repo)
    assert outputs == {
        "reports": str(runner_temp / "promptops-reports"),
        "lint": "true",
        "eval": "true",
        "diff": "true",
    }
    context["steps.setup.outputs.reports"] = outputs["reports"]
    assert run_step(steps["lint"], context, env, repo) == {"code": "0", "sarif": "true"}
    assert run_step(steps["eval"], context, env, repo) == {"code": "0"}
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "init")
    prompt = repo / "prompts" / "example" / "greeting.prompt"  # a pull request that keeps the recorded answers
    prompt.write_text(prompt.read_text().replace("Greets a new user", "Welcomes a new user"))
    context["inputs.baseline || github.event.pull_request.base.sha"] = "HEAD"
    assert run_step(steps["diff"], context, env, repo) == {"code": "0", "report": "true"}
    reports = runner_temp / "promptops-reports"
    assert sorted(p.name for p in reports.iterdir()) == [
        "promptops-diff.md", "promptops-eval.html", "promptops-eval.json", "promptops-eval.xml", "promptops.sarif",
    ]  # fmt: skip
    summary = (tmp_path / "summary.md").read_text()
    assert "promptops eval passed" in summary and "<!-- promptops-diff -->" in summary
    assert "example/greeting" in (reports / "promptops-diff.md").read_text()


# -- pre-commit ---------------------------------------------------------------------------------------------------


@pytest.mark.skipif(os.environ.get("CI") != "true", reason="CI only: pre-commit builds promptops into its own env")
def test_pre_commit_installs_the_hooks_from_a_clone_and_passes_on_a_fresh_init(repo: Path, cli, tmp_path) -> None:
    """`pre-commit try-repo` from a local clone, then `pre-commit run --all-files` with the scaffolded config
    pointed at that clone. pre-commit builds and installs promptops from the clone into its own environment, as for
    any user; its dependencies come from this test environment (PIP_NO_DEPS, and a sitecustomize that appends this
    environment's site-packages after the hook environment's own), so no package index is needed."""
    pre_commit = tool("pre-commit")
    clone = tmp_path / "promptops-clone"
    git(tmp_path, "clone", "-q", "--no-hardlinks", str(ROOT), str(clone))
    head = git(clone, "rev-parse", "HEAD")
    init(cli, repo)
    config = repo / ".pre-commit-config.yaml"
    text = config.read_text().replace("https://github.com/promptops/promptops", str(clone))
    config.write_text(text.replace(f"rev: v{__version__}", f"rev: {head}"))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "init")
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    import sysconfig

    # Appended to sys.path, not added as a site directory: no .pth file of this environment runs there (an
    # editable install's finder would otherwise answer `import promptops` instead of the hook's own copy).
    purelib = sysconfig.get_paths()["purelib"]
    (site_dir / "sitecustomize.py").write_text(f"import sys\nsys.path.append({purelib!r})\n")
    # PIP_NO_BUILD_ISOLATION=0 is pip's spelling of --no-build-isolation: the hook environment builds promptops
    # with the setuptools virtualenv seeds it with.
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_NO_DEPS": "1", "PIP_NO_BUILD_ISOLATION": "0",
           "PYTHONPATH": str(site_dir), "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}  # fmt: skip
    # A monorepo's project, with the same hook repository and revision: pre-commit reuses the environment.
    mono = tmp_path / "mono"
    (mono / "apps" / "bot").mkdir(parents=True)
    git(mono, "init", "-q")
    init(cli, mono / "apps" / "bot")
    (mono / ".pre-commit-config.yaml").write_text(
        (mono / ".pre-commit-config.yaml").read_text().replace("https://github.com/promptops/promptops", str(clone))
        .replace(f"rev: v{__version__}", f"rev: {head}")
    )  # fmt: skip
    git(mono, "add", "-A")
    git(mono, "commit", "-q", "-m", "init")
    for command, where in (([pre_commit, "try-repo", str(clone), "promptops-lint", "--all-files"], repo),
                           ([pre_commit, "run", "--all-files"], repo), ([pre_commit, "run", "--all-files"], mono)):  # fmt: skip
        done = subprocess.run(command, cwd=where, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Passed" in done.stdout and "Failed" not in done.stdout
    installed = list((tmp_path / "pre-commit-home").glob("repo*/py_env-*/lib/python*/site-packages/promptops/cli"))
    assert installed, "pre-commit did not install promptops into the hook environment"


def test_render_check_names_each_case_that_does_not_render(make_repo, cli, minimal_files) -> None:
    files = dict(minimal_files)
    files["prompts/greet.prompt"] = files["prompts/greet.prompt"].replace(
        "Hello {{ name }}!", "Hello {{ name.first }}!"
    )
    root = make_repo(files)
    code, out, err = cli("render", "--check", "--repo", root)
    assert code == 1 and out == ""
    assert "error: evals/greet.yaml:" in err and "greet:ada" in err and "0 eval cases rendered, 1 failure" in err
    assert cli("render", "--check", "--repo", root, "greet")[0] == 2  # an ID or --check, not both
