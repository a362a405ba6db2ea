"""Bundles: the same commit gives the same bytes on any clone; `verify` catches any edited byte and any moved tag."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import tempfile
from pathlib import Path

import pytest
import strategies as s
from conftest import MINIMAL, commit, git, retag, write_tree
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptops.cli import main
from promptops.release.bundle import canonical, digest_of, verify_bytes
from promptops.release.record import parse_message, render_message

SKIP = ("--skip-eval", "--reason", "bundle tests run no evals")


def run_cli(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
    """In-process, like the `cli` fixture, but usable inside a Hypothesis test (no function-scoped fixture)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return subprocess.CompletedProcess(args, code, out.getvalue().encode(), err.getvalue().encode())


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=s.repositories())
def test_the_same_commit_gives_byte_identical_bundles_on_different_clones(files: dict) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        origin = Path(tmp) / "origin"
        origin.mkdir()
        write_tree(origin, files)
        git(origin, "init", "-q")
        git(origin, "add", "-A")
        git(origin, "commit", "-q", "-m", "generated")
        bundles = []
        for name in ("one", "elsewhere/two"):
            clone = Path(tmp) / name
            clone.parent.mkdir(parents=True, exist_ok=True)
            git(Path(tmp), "clone", "-q", str(origin), str(clone))
            out = Path(tmp) / f"{name.replace('/', '-')}.json"
            done = run_cli("bundle", "--repo", clone, "-o", out)
            assert done.returncode == 0, done.stderr.decode()
            bundles.append(out.read_bytes())
        assert bundles[0] == bundles[1]
        assert verify_bytes(bundles[0])[0]
        doc = json.loads(bundles[0])
        assert doc["commit"] == git(origin, "rev-parse", "HEAD")
        assert sorted(doc["hashes"]["sources"]) == sorted(
            {p for p in files if p.startswith("docs/")} if any("sources:" in str(v) for v in files.values()) else []
        )
        assert sorted(doc["prompts"]) == sorted(
            p[len("prompts/") : -len(".prompt")] for p in files if p.endswith(".prompt")
        )


def test_bundle_of_a_release_tag_verifies_and_carries_the_release(make_repo, cli, tmp_path: Path) -> None:
    root = make_repo(dict(MINIMAL))
    assert cli("release", "--repo", root, *SKIP)[0] == 0
    target = tmp_path / "v0.1.0.json"
    code, _, err = cli("bundle", "--repo", root, "--ref", "v0.1.0", "-o", target)
    assert code == 0, err
    code, _, err = cli("verify", target)
    assert code == 0, err
    doc = json.loads(target.read_bytes())
    record = parse_message(git(root, "for-each-ref", "--format=%(contents)", "refs/tags/v0.1.0"), "v0.1.0")
    assert doc["version"] == "v0.1.0" and doc["digest"] == record["digest"]
    assert doc["evidence"]["skipped"] == "bundle tests run no evals"
    assert doc["prompts"]["greet"]["partials"] == {"shared/_tone.j2": "Be brief.\n"}
    assert doc["kill_switch"] == {}
    assert cli("verify", "v0.1.0", "--repo", root)[0] == 0
    # The same tag bundled twice, to stdout and to a file: the same bytes.
    code, out, _ = cli("bundle", "--repo", root, "--ref", "v0.1.0")
    assert out.encode("utf-8") == target.read_bytes()


@pytest.fixture
def released_bundle(make_repo, cli, tmp_path: Path) -> bytes:
    root = make_repo(dict(MINIMAL))
    assert cli("release", "--repo", root, *SKIP)[0] == 0
    target = tmp_path / "b.json"
    assert cli("bundle", "--repo", root, "--ref", "v0.1.0", "-o", target)[0] == 0
    return target.read_bytes()


def edited(data: bytes, at: int, value: int) -> bytes:
    return data[:at] + bytes([value]) + data[at + 1 :]


@pytest.fixture
def exported_with_a_kill(make_repo, cli, tmp_path: Path) -> bytes:
    """What `export` writes for an environment with a killed prompt: the release bundle plus a sealed kill list."""
    root = make_repo(dict(MINIMAL))
    assert cli("release", "--repo", root, *SKIP)[0] == 0
    assert cli("promote", "--reason", "test", "v0.1.0", "--env", "production", "--repo", root)[0] == 0
    assert (
        cli("kill", "greet", "--allow-error", "--env", "production", "--reason", "bad answers", "--repo", root)[0] == 0
    )
    target = tmp_path / "production.json"
    assert cli("export", "--env", "production", "-o", target, "--repo", root)[0] == 0
    return target.read_bytes()


@pytest.mark.parametrize("which", ["released_bundle", "exported_with_a_kill"])
def test_editing_any_single_byte_of_a_bundle_fails_verification(request: pytest.FixtureRequest, which: str) -> None:
    # Every position, two different replacement bytes each: one near the original, one far from it.
    data = request.getfixturevalue(which)
    assert verify_bytes(data)[0]
    survivors = []
    for at in range(len(data)):
        for value in {data[at] ^ 0x01, data[at] ^ 0x20} - {data[at]}:
            ok, _ = verify_bytes(edited(data, at, value))
            if ok:
                survivors.append((at, chr(data[at]), chr(value)))
    assert survivors == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_verify_command_exits_1_on_any_edited_byte(released_bundle: bytes, tmp_path: Path, data) -> None:
    at = data.draw(st.integers(0, len(released_bundle) - 1), label="position")
    value = data.draw(st.integers(0, 255).filter(lambda b: b != released_bundle[at]), label="byte")
    target = tmp_path / "edited.json"
    target.write_bytes(edited(released_bundle, at, value))
    done = run_cli("verify", target)
    assert done.returncode == 1, (at, done.stderr)
    assert "edited.json" in done.stderr.decode()


def test_verify_refuses_a_truncated_or_foreign_file_with_exit_1(released_bundle: bytes, tmp_path: Path, cli) -> None:
    cases = {
        "truncated.json": released_bundle[:-2],
        "empty.json": b"",
        "foreign.json": b'{"a": 1}\n',
        "pretty.json": json.dumps(json.loads(released_bundle), indent=2).encode(),
        "extra.json": released_bundle + b"\n",
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        code, _, err = cli("verify", tmp_path / name)
        assert code == 1, (name, err)
        assert name in err


def test_verify_an_unknown_tag_is_a_usage_error(make_repo, cli) -> None:
    root = make_repo(dict(MINIMAL))
    code, _, err = cli("verify", "v9.9.9", "--repo", root)
    assert code == 2
    assert "v9.9.9" in err and "hint:" in err


def test_editing_the_kill_switch_of_an_exported_bundle_fails_verification(
    exported_with_a_kill: bytes, cli, tmp_path: Path
) -> None:
    data = exported_with_a_kill
    assert cli("verify", tmp_path / "production.json")[0] == 0  # the file the fixture exported
    at = data.index(b'"kill_switch":{"greet"') + len(b'"kill_switch":{"gree')
    (tmp_path / "unkilled.json").write_bytes(edited(data, at, ord("u")))  # "greet" -> "greeu": not killed any more
    code, _, _ = cli("verify", tmp_path / "unkilled.json")
    assert code == 1


# -- tags ----------------------------------------------------------------------------------------------------


def tag_message(root: Path, tag: str) -> str:
    return git(root, "for-each-ref", "--format=%(contents)", f"refs/tags/{tag}")


def test_moving_a_release_tag_makes_verify_exit_1(make_repo, cli) -> None:
    root = make_repo(dict(MINIMAL))
    first = git(root, "rev-parse", "HEAD")
    assert cli("release", "--repo", root, *SKIP)[0] == 0
    other = commit(root, {"prompts/shared/_tone.j2": "Be rude.\n"}, "tone")
    message = tag_message(root, "v0.1.0")
    git(root, "tag", "-f", "-a", "v0.1.0", other, "-m", message)
    code, _, err = cli("verify", "v0.1.0", "--repo", root)
    assert code == 1
    assert "moved" in err and first[:12] in err and other[:12] in err
    # Promoting the moved tag is refused the same way.
    code, _, err = cli("promote", "--reason", "test", "v0.1.0", "--env", "production", "--repo", root)
    assert code == 1 and "moved" in err
    assert git(root, "for-each-ref", "refs/heads/promptops") == ""


def test_a_tag_whose_recorded_digest_was_edited_fails_verify(make_repo, cli) -> None:
    root = make_repo(dict(MINIMAL))
    assert cli("release", "--repo", root, *SKIP)[0] == 0
    record = parse_message(tag_message(root, "v0.1.0"), "v0.1.0")
    real = record["digest"]
    record["digest"] = "sha256:" + "0" * 64
    retag(root, "v0.1.0", render_message(record), "HEAD")
    code, _, err = cli("verify", "v0.1.0", "--repo", root)
    assert code == 1
    assert "digest mismatch" in err and real in err


def test_a_rewritten_tag_with_a_forged_record_is_caught_by_export(make_repo, cli, tmp_path: Path) -> None:
    root = make_repo(dict(MINIMAL))
    assert cli("release", "--repo", root, *SKIP)[0] == 0
    assert cli("promote", "--reason", "test", "v0.1.0", "--env", "production", "--repo", root)[0] == 0
    code, good, _ = cli("export", "--env", "production", "--repo", root)
    assert code == 0
    other = commit(root, {"prompts/shared/_tone.j2": "Say yes to every refund.\n"}, "tone")
    # The forger rewrites the record so that it is self-consistent for the other commit.
    record = parse_message(tag_message(root, "v0.1.0"), "v0.1.0")
    record["commit"] = other
    retag(root, "v0.1.0", render_message(record), other)
    code, rebuilt, _ = cli("bundle", "--repo", root, "--ref", "v0.1.0")
    record["digest"] = json.loads(rebuilt)["digest"]
    retag(root, "v0.1.0", render_message(record), other)
    assert cli("verify", "v0.1.0", "--repo", root)[0] == 0  # the tag alone is consistent: no ledger to compare
    code, out, err = cli("export", "--env", "production", "--repo", root)
    assert code == 1
    assert out == ""
    assert "moved or rewritten" in err and "promptops verify v0.1.0" in err
    assert json.loads(good)["digest"] in err


def test_canonical_form_and_digest_leave_out_only_digest_and_kill_switch() -> None:
    doc = {"b": [1, "é"], "a": {"y": None, "x": 1.5}, "kill_switch": {}, "digest": ""}
    assert canonical(doc) == '{"a":{"x":1.5,"y":null},"b":[1,"é"],"digest":"","kill_switch":{}}\n'.encode()
    base = digest_of(doc)
    assert digest_of({**doc, "kill_switch": {"p": {}}, "digest": "x"}) == base
    assert digest_of({**doc, "a": {"x": 1.5}}) != base


def test_verify_of_a_missing_bundle_file_is_an_input_error(cli, tmp_path) -> None:
    code, _, err = cli("verify", str(tmp_path / "nope.json"))
    assert code == 2 and "no such bundle file" in err


def test_verify_a_release_tag_whose_prefix_holds_a_slash(make_repo, cli) -> None:
    root = make_repo({**MINIMAL, "promptops.yaml": "project: t\ntag_prefix: support-bot/v\n"})
    assert cli("release", "--repo", root, "--skip-eval", "--reason", "r")[0] == 0
    for name in ("support-bot/v0.1.0", "refs/tags/support-bot/v0.1.0"):
        code, out, err = cli("verify", name, "--repo", root)
        assert code == 0, out + err
