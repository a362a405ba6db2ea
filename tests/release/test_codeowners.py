"""`promptops codeowners`: the managed block of CODEOWNERS lines derived from prompt owners."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import MINIMAL
from hypothesis import given, settings
from hypothesis import strategies as st

from promptops.errors import InputError
from promptops.model import Prompt
from promptops.release.codeowners import BEGIN, END, current_block, owner_lines, owners_of, updated

Cli = Callable[..., tuple[int, str, str]]


def prompt(owner: str, path: str = "prompts/a.prompt") -> Prompt:
    return Prompt(id="a", path=path, body="", owner=owner, lines={"owner": 2})


def files(**owners: str) -> dict[str, str | bytes | None]:
    """MINIMAL plus one prompt per keyword (support__refund -> prompts/support/refund.prompt)."""
    out = dict(MINIMAL)
    for name, owner in owners.items():
        front = f"owner: '{owner}'\n" if owner else "description: no owner\n"
        out[f"prompts/{name.replace('__', '/')}.prompt"] = f"---\n{front}---\nHi\n"
    return out


EXPECTED = [
    BEGIN,
    "/prompts/billing.prompt alice@example.test",
    "/prompts/greet.prompt @team",
    "/prompts/support/refund.prompt @acme/support",
    END,
]


def test_owners_and_escaped_paths() -> None:
    assert owners_of(prompt("@acme/support")) == ["@acme/support"]
    assert owners_of(prompt("alice@example.test")) == ["alice@example.test"]
    assert owners_of(prompt("acme/support")) == ["@acme/support"]
    assert owners_of(prompt("@acme/support, bob@example.test @bob")) == ["@acme/support", "bob@example.test", "@bob"]
    assert owners_of(prompt("")) == []
    with pytest.raises(InputError) as err:
        owners_of(prompt("Support Team"))  # not read as @Support @Team
    assert err.value.where == "prompts/a.prompt:2"
    assert owner_lines([prompt("@x", "prompts/with space#1.prompt")], "bot/") == [
        "/bot/prompts/with\\ space\\#1.prompt @x"
    ]


def test_write_check_and_idempotence(make_repo: Callable[..., Path], cli: Cli) -> None:
    root = make_repo(files(support__refund="@acme/support", billing="alice@example.test", notes=""))
    target = root / ".github" / "CODEOWNERS"
    code, out, err = cli("codeowners", "--check", "-C", root)
    assert code == 1 and out.splitlines() == EXPECTED and ".github/CODEOWNERS does not exist" in err
    code, _, err = cli("codeowners", "-C", root)
    assert code == 0 and "wrote .github/CODEOWNERS: 3 prompt lines (1 prompt without owner skipped)" in err
    assert target.read_text().splitlines() == EXPECTED
    before = target.stat().st_mtime_ns
    code, _, err = cli("codeowners", "-C", root)
    assert code == 0 and "is up to date" in err and target.stat().st_mtime_ns == before
    code, out, err = cli("codeowners", "--check", "-C", root)
    assert (code, out) == (0, "") and "✓" in err
    (root / "prompts/billing.prompt").write_text("---\nowner: '@acme/billing'\n---\nHi\n")
    code, out, err = cli("codeowners", "--check", "-C", root)
    assert code == 1 and "is out of date" in err and "/prompts/billing.prompt @acme/billing" in out.splitlines()


def test_the_rest_of_the_file_is_kept(make_repo: Callable[..., Path], cli: Cli) -> None:
    root = make_repo(files(support__refund="@acme/support", billing="alice@example.test"))
    target = root / ".github" / "CODEOWNERS"
    target.parent.mkdir()
    target.write_bytes(b"# owners\r\n*  @acme/platform\r\n/docs/ @acme/docs")
    assert cli("codeowners", "--check", "-C", root)[0] == 1
    assert cli("codeowners", "-C", root)[0] == 0
    data = target.read_bytes()
    assert data.startswith(b"# owners\r\n*  @acme/platform\r\n/docs/ @acme/docs\r\n\r\n" + BEGIN.encode() + b"\r\n")
    assert data.endswith(END.encode() + b"\r\n")
    text = data.decode().replace(BEGIN, BEGIN + "\n/prompts/stale.prompt @gone") + "/src/ @acme/core\n"
    target.write_bytes(text.encode())
    assert cli("codeowners", "--check", "-C", root)[0] == 1
    assert cli("codeowners", "-C", root)[0] == 0
    data = target.read_bytes()
    assert b"stale" not in data and data.endswith(END.encode() + b"\r\n/src/ @acme/core\n")
    assert data.startswith(b"# owners\r\n*  @acme/platform\r\n")
    assert cli("codeowners", "--check", "-C", root)[0] == 0


def test_a_project_in_a_subdirectory_gets_its_prefix(make_repo: Callable[..., Path], cli: Cli) -> None:
    root = make_repo({f"services/bot/{k}": v for k, v in files(support__refund="@acme/support").items()})
    code, _, err = cli("codeowners", "-C", root / "services" / "bot")
    assert code == 0, err
    lines = (root / ".github" / "CODEOWNERS").read_text().splitlines()
    assert lines[1:3] == [
        "/services/bot/prompts/greet.prompt @team",
        "/services/bot/prompts/support/refund.prompt @acme/support",
    ]
    custom = root / "CODEOWNERS"
    assert cli("codeowners", "--path", "CODEOWNERS", "-C", root / "services" / "bot")[0] == 0
    assert custom.read_text().splitlines()[1] == "/services/bot/prompts/greet.prompt @team"


def test_bad_input(make_repo: Callable[..., Path], cli: Cli) -> None:
    root = make_repo(files(billing="team!"))
    code, _, err = cli("codeowners", "-C", root)
    assert code == 2 and "prompts/billing.prompt:2" in err and "'team!'" in err
    damaged = f"{BEGIN}\n/prompts/greet.prompt @team\n"
    with pytest.raises(InputError, match="damaged"):
        updated(damaged, [], "CODEOWNERS")
    with pytest.raises(InputError, match="damaged"):
        current_block(f"{END}\n{BEGIN}\n", "CODEOWNERS")
    broken = make_repo(files(support__refund="@acme/support") | {"prompts/bad.prompt": "---\nowner: [\n---\nHi\n"})
    code, _, err = cli("codeowners", "-C", broken)
    assert code == 2 and "prompts/bad.prompt" in err


# -- paths a CODEOWNERS line can and cannot express ----------------------------------------------------------


def read_path(line: str) -> str:
    """The path of a CODEOWNERS line as GitHub reads it: the first field, split at unescaped whitespace."""
    assert line.splitlines() == [line], "one line per prompt"
    field = re.split(r"(?<!\\)\s", line, maxsplit=1)[0]
    return re.sub(r"\\(.)", r"\1", field)


@settings(max_examples=200, deadline=None)
@given(name=st.text(st.characters(codec="utf-8", exclude_characters="/"), min_size=1, max_size=12))
def test_every_path_is_written_so_it_reads_back_or_is_reported(name: str) -> None:
    path = f"prompts/{name}.prompt"
    try:
        lines = owner_lines([prompt("@x", path)], "bot/")
    except InputError as exc:
        assert any((c.isspace() and c != " ") or ord(c) < 32 or 127 <= ord(c) < 160 for c in name)
        assert exc.file == path and "cannot express" in exc.message
        return
    assert read_path(lines[0]) == "/bot/" + path
    assert lines[0].endswith(" @x")


@pytest.mark.parametrize(("name", "what"), [("a\tb", "tab"), ("a\nb", "newline"), ("a\rb", "carriage return")])
def test_a_tab_or_newline_in_a_file_name_is_reported_not_written(
    make_repo: Callable[..., Path], cli: Cli, name: str, what: str
) -> None:
    root = make_repo(files(billing="@team") | {f"prompts/{name}.prompt": "---\nowner: '@x'\n---\nHi\n"})
    code, _, err = cli("codeowners", "-C", root)
    assert code == 2 and what in err and "cannot express" in err
    assert not (root / ".github" / "CODEOWNERS").exists()
    spaced = make_repo(files(billing="@team") | {"prompts/a b.prompt": "---\nowner: '@x'\n---\nHi\n"})
    assert cli("codeowners", "-C", spaced)[0] == 0
    assert "/prompts/a\\ b.prompt @x" in (spaced / ".github" / "CODEOWNERS").read_text().splitlines()
