"""The token formats of detect-secrets, read from a table instead of the library: the same detectors, the same
findings, and `render`, `lint` and error messages no longer import the library (nor `requests` through it).

Run as a script to print the table for the installed library (to paste into promptops/token_formats.py)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from conftest import EXAMPLE, MINIMAL
from hypothesis import given, settings
from hypothesis import strategies as st

from promptops import token_formats
from promptops.redaction import Detector, Scanner

FLAG_NAMES = {
    re.IGNORECASE: "re.IGNORECASE",
    re.VERBOSE: "re.VERBOSE",
    re.DOTALL: "re.DOTALL",
    re.MULTILINE: "re.MULTILINE",
}
# One token of each library format (made up), the shapes of the table's patterns.
TOKENS = [
    "AKIAIOSFODNN7EXAMPLE", "aws_secret_key = 'wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY0a+/'",
    "AccountKey=" + "a1B2+/c3" * 11, "https://ada:s3cr3t@example.com", "cloudant_password: " + "ab12" * 16,
    "https://ada:" + "abcdefghijklmnopqrstuvwx" + "@acct.cloudant.com", "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.abcdefghijklmnopqrstuvwxyz0",
    "ghp_" + "a1B2c3D4e5" * 4, "glpat-abcdefghij0123456789", "GR1348941abcdefghij0123456789", "glcbt-0a_abcdefghij0123456789",
    "glimt-abcdefghij0123456789abcde", "glptt-" + "a" * 40, "glagent-" + "b" * 50, "gloas-" + "c" * 64,
    "ibm_cloud_iam_key = " + "A1b2C3d4E5" * 4 + "abcd", "cos_hmac_secret_access_key = " + "ab12cd34" * 6,
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "0123456789abcdef0123456789abcdef-us12", "//registry.npmjs.org/:_authToken=npm_abcdef",
    "sk-" + "A" * 20 + "T3BlbkFJ" + "B" * 20, "-----BEGIN RSA PRIVATE KEY-----", "PuTTY-User-Key-File-2: ssh-rsa",
    "pypi-AgEIcHlwaS5vcmc" + "x" * 70, "SG." + "a" * 22 + "." + "b" * 43, "xoxb-1234-5678-abcdef",
    "https://hooks.slack.com/services/T000/B000/XXXX", "softlayer_api_key = " + "a1" * 32,
    "https://api.softlayer.com/soap/v3/" + "ab" * 32, "sq0csp-" + "A" * 43, "rk_live_" + "a1B2" * 6,
    "123456789:" + "A" * 35, "AC" + "a1" * 16, "SK" + "b2" * 16, "192.168.0.1 and 8.8.8.8", "AP6abcdefghij",
]  # fmt: skip


def library() -> list[tuple[str, str, str, int]]:
    return [(name, label, pattern, flags) for name, label, pattern, flags in token_formats.from_library()]


def table() -> list[tuple[str, str, str, int]]:
    return [
        (name, label, pattern, re.compile(pattern, flags).flags)
        for name, label, pattern, flags in token_formats.DETECTORS
    ]


def test_the_table_is_what_the_installed_library_gives() -> None:
    assert token_formats.installed_version() == token_formats.VERSION, (
        "detect-secrets is not the version the table was taken from: regenerate it (python tests/test_token_formats.py)"
    )
    assert table() == library(), "regenerate the table: python tests/test_token_formats.py"


def test_the_installed_version_is_read_without_importing_the_library() -> None:
    probe = "import sys; from promptops import token_formats as t; print(t.installed_version(), 'detect_secrets' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == [token_formats.VERSION, "False"]


@given(st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=20)), max_size=6).map(" ".join))
@settings(max_examples=200, deadline=None)
def test_the_table_finds_what_the_library_finds(text: str) -> None:
    def scanner(formats: tuple[token_formats.Format, ...]) -> Scanner:
        return Scanner(Detector(name, label, pattern, flags) for name, label, pattern, flags in formats)

    mark = lambda kind, value: f"<{kind}:{len(value)}>"  # noqa: E731
    from_table = scanner(token_formats.library_formats()).replace(text, mark)
    assert from_table == scanner(token_formats.from_library()).replace(text, mark)


def test_every_library_format_is_found_by_the_table() -> None:
    found = {
        d.name
        for d in (Detector(n, label, p, flags) for n, label, p, flags in token_formats.library_formats())
        for t in TOKENS
        if list(d.spans(t))
    }
    assert found == {name for name, _, _, _ in token_formats.DETECTORS}


PROBE = """
import json, sys
from promptops.cli import main
code = main(sys.argv[1:])
print("\\n" + json.dumps({"code": code, "loaded": [m for m in ("detect_secrets", "requests") if m in sys.modules]}))
"""


def run(*args: str | Path) -> tuple[int, list[str], str, str]:
    done = subprocess.run([sys.executable, "-c", PROBE, *map(str, args)], capture_output=True, text=True, check=False)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["code"], result["loaded"], done.stdout, done.stderr


def test_render_scrubs_a_library_format_without_importing_the_library(make_repo) -> None:
    root: Path = make_repo(MINIMAL)
    token = "SG." + "a" * 22 + "." + "b" * 43  # a SendGrid key: a format only detect-secrets knows
    code, loaded, out, _ = run("render", "greet", "--var", f"name={token}", "--repo", root)
    assert code == 0
    assert token not in out and "[REDACTED:sendgrid-api-key]" in out
    assert loaded == []


def test_lint_reports_a_library_format_without_importing_the_library(make_repo) -> None:
    token = "xoxb-1234-5678-abcdef"  # a Slack token our own detector does not match (too short)
    files = dict(MINIMAL)
    files["prompts/greet.prompt"] = files["prompts/greet.prompt"].rstrip("\n") + f"\nour webhook token is {token}\n"
    root: Path = make_repo(files)
    code, loaded, out, _ = run("lint", root, "--format", "json")
    findings = json.loads(out[: out.rindex("\n{")])
    assert code == 1
    assert any(f["rule"] == "literal-secret" and "Slack" in f["message"] for f in findings["findings"]), findings
    assert token not in out
    assert loaded == []


def test_the_example_lints_without_importing_the_library() -> None:
    code, loaded, _, _ = run("lint", EXAMPLE)
    assert (code, loaded) == (0, [])


def _source() -> str:
    """The DETECTORS table of the installed library, as Python."""
    lines = [
        f'VERSION = "{token_formats.installed_version()}"',
        "",
        "DETECTORS: tuple[tuple[str, str, str, int], ...] = (",
    ]
    for name, label, pattern, flags in library():
        extra = flags & ~re.UNICODE
        named = " | ".join(v for k, v in FLAG_NAMES.items() if extra & k) or "0"
        pieces = " ".join(repr(pattern[i : i + 70]) for i in range(0, len(pattern), 70)) or "''"
        lines.append(f"    ({name!r}, {label!r}, ({pieces}), {named}),")
    return "\n".join([*lines, ")"])


if __name__ == "__main__":
    print(_source())
