"""The use cases below the CLI, called as a Python caller calls them (no typer): the shared eval options, the
engine's outcome, `diff --eval` as `review()`, the one case-verdict rule, and the typed ledger state."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import MINIMAL, git
from eval_fixtures import ANSWER_PROMPT, project
from hypothesis import given
from hypothesis import strategies as st

from promptops.diff import eval_changes
from promptops.evaluate.runner import MAX_RETRY_WAIT, Options
from promptops.evaluate.summary import pair, summarize_cases
from promptops.git import GitRepo
from promptops.model import EvalReport, TaskResult, verdict_of
from promptops.release.ledger import STATE, Event, Ledger, LedgerState, _json
from promptops.release.transitions import apply, empty_state

# -- Options.from_config ---------------------------------------------------------------------------------------


def test_options_take_the_command_line_first_then_the_eval_defaults_of_promptops_yaml() -> None:
    defaults = {"concurrency": 3, "rpm": 60, "max_cost": 2.5, "max_retry_wait": 7}
    from_file = Options.from_config(defaults)
    assert (from_file.concurrency, from_file.rpm, from_file.max_cost, from_file.max_retry_wait) == (3, 60, 2.5, 7.0)
    given_ = Options.from_config(defaults, concurrency=9, rpm=5, max_cost=0.0, use_cache=False)
    assert (given_.concurrency, given_.rpm, given_.max_cost, given_.use_cache) == (9, 5, 0.0, False)
    bare = Options.from_config({})
    assert (bare.concurrency, bare.rpm, bare.max_cost, bare.max_retry_wait, bare.use_cache) == (
        8,
        None,
        None,
        MAX_RETRY_WAIT,
        True,
    )


# -- the engine's outcome and review() -------------------------------------------------------------------------


def _regressing_change(root: Path) -> None:
    (root / "prompts" / "answer.prompt").write_text(
        ANSWER_PROMPT.replace("REPLY: {{ answer }}", "REPLY: {{ answer | replace('yes b', 'no b') }}")
    )


@pytest.mark.usefixtures("api_key")
def test_review_returns_the_paired_eval_of_a_change_without_the_command_line(make_repo, server) -> None:
    from promptops.review import EvalRequest, review

    root = make_repo(project(server.base_url, {"a": "yes a", "b": "yes b"}))
    _regressing_change(root)
    notes: list[str] = []
    result = review(root, "HEAD", None, dict(os.environ), EvalRequest(), on_note=notes.append)
    assert result.eval_code == 1  # the working tree fails its gate; --fail-on decides what the command exits with
    assert result.report.eval is not None
    (case,) = result.report.eval.cases
    assert (case.case, case.change, case.base_verdict, case.head_verdict) == ("b", "regressed", "pass", "fail")
    assert notes == ["evaluating 1 affected suite at BASE and HEAD …"]
    plain = review(root, "HEAD", None, {})
    assert plain.eval_code == 0 and plain.report.eval is None and plain.report.changed


@pytest.mark.usefixtures("api_key")
def test_the_engine_returns_the_baseline_runs_it_kept_in_the_results_store(make_repo, server) -> None:
    from promptops import loader
    from promptops.evaluate.engine import Evaluation, Settings
    from promptops.evaluate.store import STATE_FILE, Store
    from promptops.workspace import open_source

    root = make_repo(project(server.base_url, {"a": "yes a", "b": "yes b"}))
    _regressing_change(root)
    source = open_source(root)
    planned = Evaluation(root, source, loader.load(source), Settings(baseline="HEAD"), dict(os.environ)).plan()
    assert (len(planned.head), len(planned.base), planned.total) == (2, 2, 4)
    outcome = planned.run()
    assert {(r.case, r.status) for r in outcome.base_results} == {("a", "pass"), ("b", "pass")}
    assert {(r.case, r.status) for r in outcome.report.results} == {("a", "pass"), ("b", "fail")}
    store = Store(root / STATE_FILE)
    try:
        stored = store.results(outcome.report.run_id)
    finally:
        store.close()
    assert sorted(outcome.base_results, key=lambda r: r.case) == sorted(
        (stored[t.uid] for t in planned.base), key=lambda r: r.case
    )


# -- one case-verdict rule -------------------------------------------------------------------------------------


def _result(case: str, status: str, repeat: int) -> TaskResult:
    return TaskResult("s", case, repeat, "m", "primary", "k", status, output=f"{case} {status}")  # type: ignore[arg-type]


@given(st.lists(st.sampled_from(["pass", "fail", "error"]), min_size=1, max_size=6))
def test_an_eval_and_diff_eval_give_a_case_the_same_verdict(statuses: list[str]) -> None:
    base = [_result("c", s, i) for i, s in enumerate(statuses)]
    head = [_result("c", "pass", 0)]
    (summary,) = summarize_cases(base)
    paired, _ = pair(summarize_cases(base), summarize_cases(head))
    report = EvalReport("r", "p", "working tree", "t0", "t1", (), tuple(paired), tuple(head), baseline="HEAD")
    shown = [c.base_verdict for c in eval_changes(report, base).cases]
    expected = "error" if "error" in statuses else "pass" if set(statuses) == {"pass"} else "fail"
    assert verdict_of(statuses) == summary.verdict == expected
    assert shown in ([], [expected])  # an unchanged case that still passes is not listed
    assert shown or expected == "pass"


# -- LedgerState -----------------------------------------------------------------------------------------------

# A state.json as promptops has always written it: a promote, a second promote, a rollback, a kill.
EXISTING_STATE = b"""{
  "environments": {
    "production": {
      "by": "Ada Tester <ada@example.com>",
      "commit": "1111111111111111111111111111111111111111",
      "digest": "sha256:aaaa",
      "stack": [
        {
          "commit": "1111111111111111111111111111111111111111",
          "digest": "sha256:aaaa",
          "version": "v1.0.0"
        }
      ],
      "time": "2026-01-03T00:00:00Z",
      "version": "v1.0.0"
    }
  },
  "format_version": 1,
  "killed": {
    "production": {
      "support/refund": {
        "by": "Ada Tester <ada@example.com>",
        "reason": "quotes the old policy",
        "time": "2026-01-04T00:00:00Z"
      }
    }
  }
}
"""


def test_an_existing_state_json_reads_and_is_written_back_byte_for_byte(make_repo) -> None:
    root = make_repo(dict(MINIMAL))
    repo = GitRepo(root)
    tree = repo.write_tree({STATE: repo.write_blob(EXISTING_STATE)})
    head = repo.commit_tree(tree, [], "an existing ledger commit\n")
    git(root, "update-ref", "refs/heads/promptops/ledger", head)
    state = Ledger(repo, "promptops/ledger").state()
    assert state.version("production") == "v1.0.0" and state.version("staging") == ""
    assert list(state.killed_in("production")) == ["support/refund"] and state.killed_in("staging") == {}
    assert state.format_version == 1
    assert _json(state.as_dict()) == EXISTING_STATE
    revived = apply(state, Event("revive", "production", "B <b@x>", "t", "fixed", "v1.0.0", prompt="support/refund"))
    assert revived.killed_in("production") == {} and _json(state.as_dict()) == EXISTING_STATE  # state unchanged


def test_a_state_keeps_keys_it_does_not_know_and_an_absent_format_version() -> None:
    data = json.loads(EXISTING_STATE)
    del data["format_version"]
    data["note"] = {"written by": "a later version"}
    state = LedgerState.read(data, "state.json")
    assert state.format_version is None and state.as_dict() == data
    assert empty_state().as_dict() == {"format_version": 1, "environments": {}, "killed": {}}


names = st.text("abcz-/", min_size=1, max_size=6)
strings = st.text("abc:<>@ 0", max_size=8)
entries = st.fixed_dictionaries({"version": strings, "digest": strings, "commit": strings})
currents = st.builds(
    lambda e, stack, by, time: {**e, "stack": stack, "by": by, "time": time},
    entries,
    st.lists(entries, max_size=3),
    strings,
    strings,
)
kills = st.fixed_dictionaries({"reason": strings, "by": strings, "time": strings})
states = st.fixed_dictionaries(
    {
        "environments": st.dictionaries(names, currents, max_size=3),
        "killed": st.dictionaries(names, st.dictionaries(names, kills, max_size=2), max_size=3),
    },
    optional={"format_version": st.just(1)},
)


@given(states)
def test_every_well_formed_state_reads_and_writes_back_unchanged(data: dict) -> None:
    state = LedgerState.read(data, "state.json")
    assert state.as_dict() == data
    assert LedgerState.read(json.loads(_json(state.as_dict())), "state.json") == state


# -- codeowners, override, report merge and the ledger context, without the command line ------------------------


def test_codeowners_writes_then_checks_the_block_and_says_what_it_expected(make_repo) -> None:
    from promptops import loader
    from promptops.release.codeowners import BEGIN, OutOfDate, codeowners
    from promptops.workspace import open_source

    files = {**MINIMAL, "prompts/greet.prompt": "---\nowner: '@team'\n---\nHi\n"}
    root = make_repo(files)
    snapshot = loader.load(open_source(root))
    target = Path(".github/CODEOWNERS")
    with pytest.raises(OutOfDate, match="does not exist") as raised:
        codeowners(root, snapshot, target, check=True)
    assert raised.value.exit_code == 1 and "/prompts/greet.prompt @team" in raised.value.expected
    done = codeowners(root, snapshot, target)
    assert (done.shown, done.written, done.lines) == (".github/CODEOWNERS", True, 1)
    assert (root / target).read_text().startswith(BEGIN)
    again = codeowners(root, snapshot, target, check=True)
    assert not again.written and codeowners(root, snapshot, target).written is False


def test_an_override_needs_a_known_case_and_an_output_to_judge(make_repo) -> None:
    from promptops import loader
    from promptops.errors import InputError
    from promptops.evaluate.overrides import judge
    from promptops.workspace import open_source

    root = make_repo(project("http://127.0.0.1:9", {"a": "yes a"}))
    snapshot = loader.load(open_source(root))
    with pytest.raises(InputError, match="must be pass or fail"):
        judge(root, snapshot, "answer", "a", "maybe", "because")
    with pytest.raises(InputError, match="unknown eval suite 'nope'"):
        judge(root, snapshot, "nope", "a", "pass", "because")
    with pytest.raises(InputError, match="no output of answer:a to judge yet"):
        judge(root, snapshot, "answer", "a", "pass", "because")


def test_report_merge_reads_each_shard_and_names_a_bad_one(tmp_path: Path) -> None:
    from promptops.errors import InputError
    from promptops.evaluate.merge import read_reports

    bad = tmp_path / "bad.json"
    bad.write_text("[1]")
    with pytest.raises(InputError, match="must be a JSON object") as raised:
        read_reports([bad])
    assert raised.value.file == str(bad)
    with pytest.raises(InputError, match="cannot read report"):
        read_reports([tmp_path / "missing.json"])


def test_a_ledger_command_needs_a_git_identity(make_repo, monkeypatch: pytest.MonkeyPatch) -> None:
    from promptops.errors import InputError
    from promptops.loader import load_config
    from promptops.release.environments import open_context
    from promptops.workspace import open_source

    root = make_repo(dict(MINIMAL))
    config = load_config(open_source(root))
    assert open_context(root, config).who == "Ada Tester <ada@example.test>"
    for name in ("GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL"):
        monkeypatch.delenv(name)
    git(root, "config", "user.useConfigOnly", "true")
    with pytest.raises(InputError, match="git has no identity"):
        open_context(root, config)
    assert open_context(root, config, writes=False).who == ""  # status and history record no one


def test_status_and_history_need_no_git_identity(make_repo, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """A CI job reading where production stands has no git identity to give; only a write asks for one."""
    root = make_repo(dict(MINIMAL))
    for name in ("GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL"):
        monkeypatch.delenv(name)
    git(root, "config", "user.useConfigOnly", "true")
    code, out, err = cli("status", "--format", "json", "--repo", str(root))
    assert code == 0, err
    assert json.loads(out)["environments"] == []
    code, out, err = cli("history", "--repo", str(root))
    assert code == 0, err
    code, _, err = cli("kill", "greet", "--env", "production", "--reason", "r", "--repo", str(root))
    assert code == 2 and "git has no identity" in err


def test_the_signing_key_defaults_to_the_ssh_key_git_signs_with(make_repo, tmp_path: Path) -> None:
    from promptops.errors import InputError
    from promptops.release.keys import git_signing_key

    outside = tmp_path / "plain"
    outside.mkdir()
    with pytest.raises(InputError, match="--sign needs a key"):
        git_signing_key(outside)
    root = make_repo(dict(MINIMAL))
    with pytest.raises(InputError, match="git is not set up to sign with an SSH key file"):
        git_signing_key(root)
    git(root, "config", "gpg.format", "ssh")
    git(root, "config", "user.signingKey", "~/.ssh/id_ed25519")
    assert git_signing_key(root) == Path("~/.ssh/id_ed25519").expanduser()


@pytest.mark.usefixtures("api_key")
def test_the_evals_that_gate_a_release_honour_the_eval_defaults_of_promptops_yaml(make_repo, cli, server) -> None:
    files = project(server.base_url, {"a": "yes a"})
    files["routing.yaml"] = str(files["routing.yaml"]).replace(
        "PROMPTOPS_TEST_KEY}", "PROMPTOPS_TEST_KEY, price: {input_per_mtok: 1, output_per_mtok: 1}}", 1
    )  # a budget needs a price to count against
    root = make_repo({**files, "promptops.yaml": "project: evaltest\neval: {max_cost: 0}\n"})
    code, _, err = cli("release", "--repo", root)
    assert code == 3 and "provider errors during the evals" in err, err  # the budget allows no call
    assert git(root, "tag", "--list") == "" and server.requests_received == 0
    root = make_repo(files)
    assert cli("release", "--repo", root)[0] == 0


def test_a_verify_target_is_a_file_or_else_a_release_tag(tmp_path: Path) -> None:
    from promptops.errors import InputError
    from promptops.release.verifying import read_target

    bundle = tmp_path / "bundle.json"
    bundle.write_bytes(b"{}")
    assert read_target(str(bundle)) == b"{}"
    assert read_target("v1.2.0") is None and read_target("refs/tags/v1.2.0") is None
    assert read_target("support-bot/v1.2.0") is None  # a tag prefix may hold a `/`
    with pytest.raises(InputError, match="no such bundle file"):
        read_target(str(tmp_path / "gone.json"))


def test_the_audit_directory_is_taken_from_the_project_root_unless_absolute(tmp_path: Path) -> None:
    from promptops.model import AuditSettings

    assert AuditSettings().directory(tmp_path) == tmp_path / ".promptops" / "audit"
    assert AuditSettings(dir="logs/audit").directory(tmp_path) == tmp_path / "logs" / "audit"
    assert AuditSettings(dir="/var/log/promptops").directory(tmp_path) == Path("/var/log/promptops")
