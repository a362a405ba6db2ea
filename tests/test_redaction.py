"""The one secrets and redaction module: keys always removed, personal data as promptops.yaml says, everywhere."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import time
from pathlib import Path

import pytest
from eval_fixtures import SECRET, project
from hypothesis import given, settings
from hypothesis import strategies as st
from provider_server import ProviderServer

from promptops.errors import InputError
from promptops.redaction import Redactor, Settings, find_secrets, scrub, secret_values

KEY_ALPHABET = st.characters(min_codepoint=33, max_codepoint=126)
HMAC_KEY = "redaction-key-for-tests-0f9e8d7c"
PII_ANSWER = "Write to alice.smith@example.com, card 4111 1111 1111 1111, call +1 415-555-0199, order ORD-123456."


@given(st.text(), st.text(KEY_ALPHABET, min_size=8, max_size=60), st.text())
@settings(max_examples=200)
def test_a_known_key_never_survives_scrubbing(before: str, key: str, after: str) -> None:
    assert key not in scrub(before + key + after, (key,))


@given(st.text(max_size=40), st.text(KEY_ALPHABET, min_size=12, max_size=60), st.integers(8, 59), st.booleans())
def test_the_start_of_a_cut_key_at_the_end_is_removed(before: str, key: str, cut: int, dots: bool) -> None:
    cut = min(cut, len(key) - 1)
    text = before + " " + key[:cut] + ("..." if dots else "")
    assert key[:cut] not in scrub(text, (key,))


def _cut_key_by_every_length(text: str, key: str) -> str:
    """The plain statement of what `_cut_key` does: try every length of the key's start, longest first."""
    stripped = text.removesuffix("...")
    for size in range(len(key) - 1, 7, -1):
        if stripped.endswith(key[:size]):
            return stripped[: len(stripped) - size] + "[REDACTED:secret]"
    return text


@given(st.text("ab.", max_size=30), st.text("ab", min_size=8, max_size=24), st.integers(0, 30), st.booleans())
@settings(max_examples=500)
def test_a_cut_key_is_found_as_trying_every_length_finds_it(before: str, key: str, cut: int, dots: bool) -> None:
    """Keys and texts of two letters repeat the key's start many times, near the end and across it."""
    from promptops.redaction import _cut_key

    text = before + key[: min(cut, len(key))] + ("..." if dots else "")
    assert _cut_key(text, key) == _cut_key_by_every_length(text, key)


@pytest.mark.parametrize(
    "token",
    [
        "sk_live_" + "a1B2c3D4e5F6g7H8i9J0k1L2",  # Stripe
        "glpat-" + "abcdefghij0123456789",  # GitLab
        "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz01234567",  # Hugging Face
        "ghp_" + "a" * 36,  # GitHub
        "AKIA" + "ABCDEFGHIJKLMNOP",  # AWS
        "xoxb-" + "123456789012-abcdefABCDEF",  # Slack
        "SG." + "a" * 22 + "." + "b" * 43,  # SendGrid (detect-secrets)
        "sq0csp-" + "c" * 43,  # Square (detect-secrets)
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",  # JWT
    ],
)
def test_common_token_formats_are_found_and_scrubbed(token: str) -> None:
    text = f"config: value {token} end"
    assert find_secrets(text), token
    assert token not in scrub(text)


def test_ordinary_prose_has_no_secrets() -> None:
    prose = "Refunds take 5 to 7 business days. Call us at the number on your receipt; APPLICATIONS close in May."
    assert find_secrets(prose) == []


def test_secret_values_follow_routing_and_the_name_heuristic() -> None:
    env = {"MY_GATEWAY": "gateway-value-123", "OPENAI_API_KEY": "openai-value-123", "HOME": "/root/home/x", "X": "y"}
    assert secret_values(env, ["MY_GATEWAY"]) == ("gateway-value-123", "openai-value-123")


def redactor(mode: str, **extra: object) -> Redactor:
    section = {"mode": mode, "patterns": [r"ORD-\d{6}"], "hmac_key_env": "REDACT_KEY", **extra}
    return Redactor.from_config(section, {"REDACT_KEY": HMAC_KEY, "SOME_TOKEN": "tok-0123456789"})


def test_redact_says_what_was_removed() -> None:
    kept = redactor("redact").text(PII_ANSWER + " tok-0123456789")
    assert kept == (
        "Write to [REDACTED:email], card [REDACTED:card], call [REDACTED:phone], order [REDACTED:pattern]. "
        "[REDACTED:secret]"
    )


def test_hash_writes_the_keyed_hmac_of_each_value() -> None:
    kept = redactor("hash").text(PII_ANSWER) or ""
    for kind, value in [("email", "alice.smith@example.com"), ("pattern", "ORD-123456")]:
        mac = hmac.new(HMAC_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()
        assert f"[HMAC:{kind}:{mac}]" in kept
    assert "alice" not in kept and hashlib.sha256(b"alice.smith@example.com").hexdigest() not in kept


def test_card_numbers_need_the_luhn_check() -> None:
    assert redactor("redact").text("ref 4111 1111 1111 1112 ok") == "ref 4111 1111 1111 1112 ok"


def test_modes_per_field_kind_and_drop() -> None:
    r = redactor("keep", fields={"inputs": "drop", "output": "redact"})
    assert r.value({"email": "bob@example.com"}, "inputs") is None
    assert r.text("bob@example.com", "output") == "[REDACTED:email]"
    assert r.text("bob@example.com", "error") == "bob@example.com"
    assert r.value({"who": ["bob@example.com", 3]}, "output") == {"who": ["[REDACTED:email]", 3]}


def test_hash_mode_without_its_key_is_an_input_error() -> None:
    with pytest.raises(InputError, match="hmac_key_env"):
        Settings.from_config({"mode": "hash"})
    with pytest.raises(InputError, match="REDACT_KEY is not set"):
        Redactor.from_config({"mode": "hash", "hmac_key_env": "REDACT_KEY"}, {})


def test_a_bad_pattern_names_promptops_yaml(make_repo, cli) -> None:
    root = make_repo(
        {"promptops.yaml": "project: p\nredaction: {mode: redact, patterns: ['ORD-(']}\n", "prompts/a.prompt": "hi"}
    )
    code, out, _err = cli("lint", "--repo", root)
    assert code == 1
    assert "promptops.yaml: error: redaction pattern 'ORD-(' is not a valid regular expression" in out
    code, _out, err = cli("eval", "--repo", root)
    assert code == 2
    assert "promptops.yaml" in err and "not a valid regular expression" in err


@pytest.mark.parametrize("mode", ["redact", "hash"])
def test_no_personal_data_in_any_file_an_eval_writes(
    make_repo, cli, server: ProviderServer, api_key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv("REDACT_KEY", HMAC_KEY)
    server.configure(responder=lambda messages, request: f"yes. {PII_ANSWER} key {SECRET}")
    files = project(server.base_url, {"a": "x"})
    files["promptops.yaml"] = (
        f"project: t\nredaction: {{mode: {mode}, patterns: ['ORD-\\d{{6}}'], hmac_key_env: REDACT_KEY}}\n"
    )
    root = make_repo(files)
    reports = [tmp_path / "r.json", tmp_path / "r.xml", tmp_path / "r.md"]
    code, out, err = cli("eval", "--repo", root, "--record", *[x for p in reports for x in ("-o", str(p))])
    assert code == 0, out + err
    code, out2, err2 = cli("eval", "--repo", root)  # a warm run reads the cache
    assert code == 0, out2 + err2
    written = [p.read_text() for p in reports] + [out, err, out2, err2]
    written += [p.read_text() for p in (root / "evals" / "recordings").rglob("*.jsonl")]
    database = root / ".promptops" / "promptops.sqlite"
    with sqlite3.connect(database) as db:
        for (table,) in db.execute("select name from sqlite_master where type='table'"):
            written += [json.dumps(row) for row in db.execute(f"select * from {table}")]
    written += [p.read_bytes().decode("utf-8", "replace") for p in (root / ".promptops").rglob("*") if p.is_file()]
    for value in ("alice.smith@example.com", "4111 1111 1111 1111", "415-555-0199", "ORD-123456", SECRET):
        assert all(value not in text for text in written), value
    output = reports[0].read_text()
    if mode == "hash":
        mac = hmac.new(HMAC_KEY.encode(), b"alice.smith@example.com", hashlib.sha256).hexdigest()
        assert f"[HMAC:email:{mac}]" in output
    else:
        assert "[REDACTED:email]" in output


def test_error_messages_at_the_command_line_never_show_a_key(make_repo, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    token = "gw-0123456789abcdef0123"
    monkeypatch.setenv("GATEWAY_TOKEN", token)
    root = make_repo({"promptops.yaml": "project: p\n", "prompts/a.prompt": "hi"})
    code, out, err = cli("render", f"missing-{token}", "--repo", root)
    assert code == 2
    assert "[REDACTED:secret]" in err
    assert token not in out + err


def test_a_runaway_project_pattern_keeps_nothing_instead_of_hanging() -> None:
    r = Redactor.from_config({"mode": "redact", "patterns": [r"^(a|aa)+$"]}, {})
    started = time.monotonic()
    assert r.text("a" * 60 + "!", "output") == "[REDACTED:unscanned]"
    assert time.monotonic() - started < 10


FRAGMENTS = [
    "sk_live_" + "a1B2c3D4e5F6g7H8i9J0k1L2", "glpat-abcdefghij0123456789", "AKIAABCDEFGHIJKLMNOP",
    "api_key = 'abc123def456ghi789'", "https://user:pa55word@example.com/x", "xoxb-123456789012-abcdefABCDEF",
    "bob@example.com", "4111 1111 1111 1111", "+44 20 7946 0958", "ORD-123456", "Bearer abcdefghijklmnopqrstuvwx",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
]  # fmt: skip


@given(st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=30)), max_size=8).map(" ".join))
@settings(max_examples=150, deadline=None)
def test_the_combined_pre_search_never_lets_through_what_a_detector_finds(text: str) -> None:
    from promptops.redaction import PII_DETECTORS, Scanner, secret_detectors

    for detectors in (secret_detectors(), tuple(PII_DETECTORS.values())):
        fast = Scanner(detectors)
        thorough = Scanner(detectors)
        thorough.union = None  # every detector runs on every text
        mark = lambda kind, _value: f"<{kind}>"  # noqa: E731
        assert fast.replace(text, mark) == thorough.replace(text, mark)


@pytest.mark.parametrize(
    "text",
    ["err: \nghp_" + "A1b2C3d4" * 5, "x=yglpat-abcdefghijklmnopqrstuvwxyz", "url https://ada:s3cr3tpassw0rd@host/x"],
)
def test_after_scrubbing_no_detector_finds_anything(text: str) -> None:
    kept = scrub(text)
    assert find_secrets(kept) == [], kept
    assert "A1b2C3d4" not in kept and "abcdefghijklmnopqrstuvwxyz" not in kept and "s3cr3tpassw0rd" not in kept


def test_numbers_and_nested_keys_are_redacted_too() -> None:
    r = redactor("redact")
    kept = r.value({"card": 4111111111111111, "n": 42, "nested": {"jane@example.com": "x", "ORD-123456": 1}})
    assert kept == {"card": "[REDACTED:card]", "n": 42, "nested": {"[REDACTED:email]": "x", "[REDACTED:pattern]": 1}}
