"""`promptops audit show` and `audit verify`: the audit log from the command line, and its promptops.yaml section."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import MINIMAL
from golden_files import check_golden

from promptops.cli import main
from promptops.loader import load_config
from promptops.model import AuditSettings
from promptops.runtime.audit import AuditLog
from promptops.workspace import DictSource


def call(n: int, env: str = "production", prompt: str = "greet", **extra: object) -> dict[str, object]:
    return {
        "time": f"2026-11-30T06:00:{n:02d}.000Z",
        "environment": env,
        "release": "v1.0.0",
        "prompt": prompt,
        "model": "fast",
        "answered_by": "primary",
        "latency_ms": 120.4 + n,
        "inputs": {"name": "Ada"},
        "output": f"Hello Ada {n}",
        **extra,
    }


def fill(directory: Path, count: int = 4, **kwargs: object) -> list[str]:
    with AuditLog(directory, instance="web-1", **kwargs) as log:  # type: ignore[arg-type]
        return [log.append(call(n, env="staging" if n % 2 else "production")) for n in range(count)]


def test_verify_passes_a_sound_log_and_prints_each_chains_head(tmp_path: Path, cli) -> None:
    fill(tmp_path, 5, rotate_bytes=600)
    with AuditLog(tmp_path, instance="web-2") as log:
        log.append(call(9))
    code, out, err = cli("audit", "verify", tmp_path)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("ok      web-1: 5 records in ") and " segments; head seq 5 " in lines[0]
    assert lines[1].startswith("ok      web-2: 1 records in 1 segment; head seq 1 ")
    assert "audit log holds: 2 chains, 6 records" in err


def test_verify_exits_1_naming_the_first_broken_record_its_line_and_why(tmp_path: Path, cli) -> None:
    fill(tmp_path, 4)
    segment = tmp_path / "web-1-000001.jsonl"
    segment.write_bytes(segment.read_bytes().replace(b"Hello Ada 2", b"Hello Bob 2"))
    code, out, err = cli("audit", "verify", tmp_path)
    assert code == 1
    assert "BROKEN  web-1: 2 records" in out
    assert f"error: audit chain web-1 is broken at {segment}:3: edited: its content does not match its hash" in err
    assert "Traceback" not in err


def test_verify_names_a_deleted_record(tmp_path: Path, cli) -> None:
    fill(tmp_path, 4)
    segment = tmp_path / "web-1-000001.jsonl"
    lines = segment.read_bytes().splitlines(keepends=True)
    segment.write_bytes(b"".join(lines[:1] + lines[2:]))
    code, out, _err = cli("audit", "verify", tmp_path)
    assert code == 1
    assert f"{segment}:2 (seq 3): deleted: records are missing before this one: seq 2" in out


def test_a_crash_cut_tail_passes_with_a_warning_and_fails_with_strict(tmp_path: Path, cli) -> None:
    fill(tmp_path, 3)
    segment = tmp_path / "web-1-000001.jsonl"
    segment.write_bytes(segment.read_bytes()[:-25])
    code, out, err = cli("audit", "verify", tmp_path)
    assert code == 0
    assert f"  {segment}:3: crash: truncated last record" in out and "not tampering" in out
    assert "1 crash trace (writers stopped mid-append; not tampering)" in err
    code, _, err = cli("audit", "verify", tmp_path, "--strict")
    assert code == 1 and "crash traces in the audit log (--strict)" in err


def test_verify_json_report(tmp_path: Path, cli) -> None:
    fill(tmp_path, 2)
    code, out, _ = cli("audit", "verify", tmp_path / "web-1-000001.jsonl", "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert report["ok"] is True
    (chain,) = report["chains"]
    assert (chain["instance"], chain["records"], chain["head_seq"], chain["broken"], chain["crashes"]) == (
        "web-1",
        2,
        2,
        None,
        [],
    )


def test_the_default_path_is_audit_dir_from_promptops_yaml(make_repo, cli) -> None:
    root: Path = make_repo({**MINIMAL, "promptops.yaml": "project: t\naudit:\n  dir: var/audit\n"}, use_git=False)
    fill(root / "var" / "audit", 2)
    code, out, _ = cli("audit", "verify", "--repo", root)
    assert code == 0 and out.startswith("ok      web-1: 2 records")
    code, out, _ = cli("audit", "show", "--repo", root)
    assert code == 0 and len(out.splitlines()) == 2


def test_the_default_directory_is_dot_promptops_audit(make_repo, cli) -> None:
    root: Path = make_repo(MINIMAL, use_git=False)
    code, _, err = cli("audit", "verify", "--repo", root)
    assert code == 2
    assert f"error: no audit log at {root / '.promptops' / 'audit'}" in err and "hint:" in err
    fill(root / ".promptops" / "audit", 1)
    assert cli("audit", "verify", "--repo", root)[0] == 0


def test_show_filters_and_prints_one_line_per_record(tmp_path: Path, cli) -> None:
    fill(tmp_path, 4)
    with AuditLog(tmp_path, instance="web-2") as log:
        log.append(call(5, prompt="triage/classify", answered_by="kill-switch", model=None, error="killed"))
    code, out, err = cli("audit", "show", tmp_path)
    assert code == 0 and "5 records from" in err
    lines = out.splitlines()
    assert lines[0].startswith("2026-11-30T06:00:00.000Z  production  greet  release v1.0.0  primary fast  120 ms  id ")
    assert lines[-1].startswith("2026-11-30T06:00:05.000Z  production  triage/classify  release v1.0.0  kill-switch -")
    assert "error: killed" in lines[-1]
    assert len(cli("audit", "show", tmp_path, "--env", "staging")[1].splitlines()) == 2
    assert len(cli("audit", "show", tmp_path, "--prompt", "triage/classify")[1].splitlines()) == 1
    assert len(cli("audit", "show", tmp_path, "--since", "2026-11-30T06:00:03Z")[1].splitlines()) == 2
    assert len(cli("audit", "show", tmp_path, "--since", "2026-11-30T08:00:03+02:00")[1].splitlines()) == 2


def test_show_json_prints_whole_records(tmp_path: Path, cli) -> None:
    ids = fill(tmp_path, 3)
    code, out, _ = cli("audit", "show", tmp_path, "--format", "json", "--env", "production")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in records] == [ids[0], ids[2]]
    assert records[0]["inputs"] == {"name": "Ada"} and records[0]["seq"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "last tuesday"], "'last tuesday' is not an ISO 8601 date or time"),
        (["--format", "yaml"], "unknown format 'yaml'"),
    ],
)
def test_show_refuses_bad_options_with_exit_2(tmp_path: Path, cli, args: list[str], message: str) -> None:
    fill(tmp_path, 1)
    code, _, err = cli("audit", "show", tmp_path, *args)
    assert code == 2 and message in err and "hint:" in err


def test_the_audit_section_of_promptops_yaml() -> None:
    text = "audit:\n  dir: /var/log/promptops\n  rotate_bytes: 1048576\n  fsync: always\n"
    config = load_config(DictSource({"promptops.yaml": text}))
    assert config.audit == AuditSettings(dir="/var/log/promptops", rotate_bytes=1048576, fsync="always")
    assert load_config(DictSource({"promptops.yaml": "project: x\n"})).audit == AuditSettings()


def test_a_bad_audit_section_is_an_input_error_with_its_line(make_repo, cli) -> None:
    root: Path = make_repo({**MINIMAL, "promptops.yaml": "project: t\naudit:\n  fsync: sometimes\n"}, use_git=False)
    code, _, err = cli("audit", "verify", "--repo", root)
    assert code == 2
    assert "promptops.yaml:3" in err and "sometimes" in err


@pytest.mark.parametrize("command", ["show", "verify"])
def test_help_golden(command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("TERM", "dumb")
    assert main(["audit", command, "--help"]) == 0
    out = capsys.readouterr().out
    check_golden(f"help-audit-{command}.txt", "\n".join(line.rstrip() for line in out.splitlines()) + "\n")
