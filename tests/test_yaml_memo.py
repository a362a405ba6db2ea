"""A long YAML text parsed once and read back on the next run: the same data, lines and refusals as parsing it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import strategies as s
from eval_fixtures import project
from hypothesis import HealthCheck, given, settings
from provider_server import ProviderServer

from promptops import yamltext
from promptops.errors import InputError

PAD = "\n# " + "padding " * (yamltext.MEMO_MIN_CHARS // 8) + "\n"


def outcome(text: str, file: str = "evals/big.yaml", first_line: int = 1) -> tuple[Any, ...]:
    """What a caller sees: the data and lines, or the refusal's message, line and hint."""
    try:
        data, lines = yamltext.parse(text, file, first_line=first_line)
    except InputError as exc:
        return ("refused", exc.message, exc.file, exc.line, exc.hint)
    return ("parsed", data, lines)


def memo_files(directory: Path) -> list[Path]:
    return sorted(directory.iterdir()) if directory.exists() else []


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(s.yaml_documents)
def test_a_kept_parse_is_the_parse_whatever_the_text(tmp_path: Path, document: str) -> None:
    text = document + PAD
    directory = tmp_path / "memo"
    expected = outcome(text)
    with yamltext.memo(directory):
        first = outcome(text)
        second = outcome(text)
    assert first == expected and second == expected
    # Only parses that succeed are kept: a refusal is made again, with its message and line.
    assert bool(memo_files(directory)) == (expected[0] == "parsed")
    for path in memo_files(directory):
        path.unlink()


def test_a_long_text_is_kept_and_read_back_equal(tmp_path: Path) -> None:
    text = "".join(f"- id: c{i}\n  vars: {{answer: 'yes {i}', n: {i}, ok: true, x: null}}\n" for i in range(2000))
    assert len(text) >= yamltext.MEMO_MIN_CHARS
    expected = outcome(text, first_line=3)
    with yamltext.memo(tmp_path):
        assert outcome(text, first_line=3) == expected
        (kept,) = memo_files(tmp_path)
        written = kept.stat().st_mtime_ns
        assert outcome(text, first_line=3) == expected
    assert kept.stat().st_mtime_ns == written  # read, not written again
    assert expected[1][1999] == {"id": "c1999", "vars": {"answer": "yes 1999", "n": 1999, "ok": True, "x": None}}
    assert expected[2][(1999, "vars", "n")] == 3 + 2 * 1999 + 1


def test_a_short_text_is_not_kept(tmp_path: Path) -> None:
    with yamltext.memo(tmp_path):
        assert outcome("a: 1\n") == ("parsed", {"a": 1}, {(): 1, ("a",): 1})
    assert memo_files(tmp_path) == []


def test_an_edited_file_is_parsed_again_and_its_refusals_hold(tmp_path: Path) -> None:
    with yamltext.memo(tmp_path):
        assert outcome("a: 1\nb: 2\n" + PAD)[1] == {"a": 1, "b": 2}
        assert outcome("a: 1\nb: 3\n" + PAD)[1] == {"a": 1, "b": 3}
        refused = outcome("a: 1\na: 3\n" + PAD)
        assert refused[:4] == ("refused", "duplicate key 'a'", "evals/big.yaml", 2)
        assert outcome("a: .nan\n" + PAD)[1] == "'.nan' is not a finite number"
        assert outcome("a: 1\nb: 3\n" + PAD)[1] == {"a": 1, "b": 3}


def test_what_a_run_did_not_use_is_removed_when_it_ends(tmp_path: Path) -> None:
    head, base = "a: 1\n" + PAD, "a: 2\n" + PAD
    with yamltext.memo(tmp_path):
        outcome(head)
        outcome(base)  # the same file at a baseline revision: both are kept
    assert len(memo_files(tmp_path)) == 2
    other = tmp_path / "notes.txt"
    other.write_text("not a kept parse")
    with yamltext.memo(tmp_path):
        assert outcome(head)[1] == {"a": 1}
    assert other.exists() and len(memo_files(tmp_path)) == 2  # the head's parse, and the file none of ours
    with pytest.raises(InputError), yamltext.memo(tmp_path):
        outcome("a: [\n" + PAD)
        raise InputError("stopped")
    assert len(memo_files(tmp_path)) == 2  # a run that stops removes nothing


def test_a_memo_directory_that_is_a_link_is_neither_written_nor_pruned(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    mine = elsewhere / ("0" * 40)
    mine.write_text("a file of the link's target")
    (tmp_path / "memo").symlink_to(elsewhere)
    with yamltext.memo(tmp_path / "memo"):
        assert outcome("a: 1\n" + PAD)[1] == {"a": 1}
    assert memo_files(elsewhere) == [mine] and mine.read_text() == "a file of the link's target"


def test_the_same_text_in_two_files_keeps_each_files_lines(tmp_path: Path) -> None:
    text = "a: 1\n" + PAD
    with yamltext.memo(tmp_path):
        assert outcome(text, "one.yaml") == outcome(text, "two.yaml") == ("parsed", {"a": 1}, {(): 1, ("a",): 1})
        assert outcome(text, "one.yaml", first_line=5)[2] == {(): 5, ("a",): 5}
    assert len(memo_files(tmp_path)) == 2


@pytest.mark.parametrize("damage", [b"", b"garbage", b"\xe3\x03\x00\x00", None])
def test_a_damaged_kept_parse_is_ignored_and_replaced(tmp_path: Path, damage: bytes | None) -> None:
    text = "a: [1, 2]\n" + PAD
    with yamltext.memo(tmp_path):
        outcome(text)
        (kept,) = memo_files(tmp_path)
        good = kept.read_bytes()
        kept.write_bytes(good[: len(good) // 2] if damage is None else damage)
        assert outcome(text) == ("parsed", {"a": [1, 2]}, {(): 1, ("a",): 1, ("a", 0): 1, ("a", 1): 1})
    assert kept.read_bytes() == good


def test_a_memo_directory_that_cannot_be_written_only_costs_the_saving(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    with yamltext.memo(blocked / "memo"):
        assert outcome("a: 1\n" + PAD)[1] == {"a": 1}
    assert blocked.read_text() == "not a directory"


@pytest.mark.usefixtures("api_key")
def test_eval_keeps_a_long_suite_parsed_and_sees_its_edits(make_repo, cli, server: ProviderServer, tmp_path) -> None:
    files = project(server.base_url, {"a": "yes a", "b": "yes b"})
    files["evals/answer.yaml"] = str(files["evals/answer.yaml"]) + PAD
    root = make_repo(files)
    out_file = tmp_path / "report.json"
    code, out, err = cli("eval", "--repo", root, "-o", out_file)
    assert code == 0, out + err
    assert len(memo_files(root / ".promptops" / "yaml")) == 1
    first = json.loads(out_file.read_text())

    code, out, err = cli("eval", "--repo", root, "-o", out_file)
    assert code == 0, out + err
    again = json.loads(out_file.read_text())
    assert [c["case"] for c in again["cases"]] == [c["case"] for c in first["cases"]] == ["a", "b"]

    suite = root / "evals" / "answer.yaml"
    suite.write_text(suite.read_text().replace("'yes b'", "'no b'"))
    code, out, err = cli("eval", "--repo", root)
    assert code == 1 and "no b" in out, out + err

    suite.write_text(suite.read_text().replace("  - id: b\n", "  - id: b\n    id: c\n"))
    code, out, err = cli("eval", "--repo", root)
    assert code == 2 and "evals/answer.yaml:10" in err and "duplicate key 'id'" in err, out + err


def test_a_check_the_data_passed_is_kept_with_its_parse(tmp_path: Path) -> None:
    text = "a: [1, 2]\n" + PAD
    with yamltext.memo(tmp_path):
        data, _ = yamltext.parse(text, "big.yaml")
        assert not yamltext.vouched(data, "schema x")
        yamltext.vouch(data, "schema x")
        assert yamltext.vouched(data, "schema x")
        assert not yamltext.vouched({"a": [1, 2]}, "schema x")  # equal data not handed out by the parse
    with yamltext.memo(tmp_path):
        again, lines = yamltext.parse(text, "big.yaml")
        assert (again, lines) == outcome(text)[1:]
        assert yamltext.vouched(again, "schema x")
        assert not yamltext.vouched(again, "schema y")  # another check (another schema, another version)
        edited, _ = yamltext.parse("a: [1, 3]\n" + PAD, "big.yaml")
        assert not yamltext.vouched(edited, "schema x")  # an edited text is checked again
        short, _ = yamltext.parse("a: 1\n", "small.yaml")
        yamltext.vouch(short, "schema x")  # no kept parse: nothing to note
        assert not yamltext.vouched(short, "schema x")
    again, _ = yamltext.parse(text, "big.yaml")
    assert not yamltext.vouched(again, "schema x")  # outside a memo nothing is vouched for


def _load_suite_file(text: str) -> tuple[Any, ...]:
    from promptops.formats import load_yaml
    from promptops.workspace import DictSource

    try:
        data, lines = load_yaml(DictSource({"evals/big.yaml": text}), "evals/big.yaml", "eval")
    except InputError as exc:
        return ("refused", exc.message, exc.file, exc.line, exc.hint)
    return ("loaded", data, lines, yamltext.vouched(data, _passed_eval()))


def _passed_eval() -> str:
    from promptops.formats import _passed

    return _passed("eval")


@pytest.mark.parametrize("broken", [False, True])
def test_a_long_suite_is_checked_against_its_schema_until_it_passed_once(tmp_path: Path, broken: bool) -> None:
    """A kept parse that passed the eval schema is not checked again while its text is unchanged; one that
    did not pass is refused on every run with the same message and line."""
    suite = "prompt: answer\ncases:\n" + "".join(f"  - id: c{i}\n    vars: {{q: '{i}'}}\n" for i in range(3000))
    if broken:
        suite = suite.replace("  - id: c1500\n", "  - id: c1500\n    colour: blue\n")
    expected = _load_suite_file(suite)  # no memo: parsed and checked
    seen = []
    for _ in range(3):
        with yamltext.memo(tmp_path / "memo"):
            seen.append(_load_suite_file(suite))
    if broken:
        assert expected[0] == "refused" and expected[3] == 3 + 2 * 1500 + 1 and "colour" in expected[1]
        assert seen == [expected] * 3
    else:
        assert expected[:3] == seen[0][:3] == seen[1][:3] == seen[2][:3] and expected[3] is False
        assert [s[3] for s in seen] == [True, True, True]  # checked on the first run, vouched for after
