"""`promptops import promptfoo` on configs holding credentials outside `apiKey`, and naming files outside their
directory: no credential in any written file or in the printed report, each listed for review."""

from __future__ import annotations

from pathlib import Path

import yaml

# Built at run time so that secret scanners do not flag the test data.
URL_CODE = "Hf83kd92" + "JdmQ0xPz7LaW1vB"
TOKEN = "Pp1Oo2Ii3" + "Uu4Yy5Tt6Rr7"
PASSWORD = "Wd4Rt8Yb" + "3NcQq"


def run(cli, tmp_path: Path, config: str) -> tuple[int, str, Path]:
    """Import `config` (written as tmp_path/pf/promptfooconfig.yaml) into a fresh directory: (code, output, root)."""
    source = tmp_path / "pf"
    source.mkdir(exist_ok=True)
    (source / "promptfooconfig.yaml").write_text(config)
    root = tmp_path / "repo"
    code, out, err = cli("import", "promptfoo", source / "promptfooconfig.yaml", "--into", root)
    return code, out + err, root


def written(root: Path) -> str:
    return "\n".join(p.read_text() for p in sorted(root.rglob("*")) if p.is_file())


def test_endpoint_and_credential_params_are_not_written(cli, tmp_path: Path) -> None:
    code, output, root = run(
        cli,
        tmp_path,
        f"""\
prompts: ["Hello {{{{name}}}}"]
providers:
  - id: openai:gpt-4o-mini
    config:
      apiBaseUrl: "https://bob:{PASSWORD}@example.net/api/v1?code={URL_CODE}#frag"
      accessToken: "{TOKEN}"
      client_secret: ["{TOKEN}x"]
      max_tokens: 100
      temperature: 0
tests:
  - vars: {{name: "{URL_CODE}"}}
""",
    )
    assert code == 1
    for secret in (URL_CODE, TOKEN, PASSWORD, "bob"):
        assert secret not in written(root)
        assert secret not in output
    model = yaml.safe_load((root / "routing.yaml").read_text())["models"]["gpt-4o-mini"]
    assert model["api_base"] == "https://example.net/api/v1"
    assert model["params"] == {"max_tokens": 100, "temperature": 0}
    assert "config.apiBaseUrl: the endpoint URL carried credentials" in output
    assert "config.accessToken: `accessToken` holds a credential" in output
    assert "config.client_secret: `client_secret` holds a credential" in output


def test_a_key_on_the_grader_or_a_tests_provider_is_scrubbed_and_listed(cli, tmp_path: Path) -> None:
    grader_key, test_key = "Zz9Yy8Xx" + "7Ww6Vv5Uu4Tt3", "Wq3Er5Ty" + "7Ui9Op1As3Df"
    code, output, root = run(
        cli,
        tmp_path,
        f"""\
prompts: ["Hi {{{{a}}}}"]
providers: [openai:gpt-4o-mini]
defaultTest:
  options:
    provider: {{id: openai:gpt-4o, config: {{apiKey: "{grader_key}"}}}}
tests:
  - vars: {{a: "{grader_key}", b: "{test_key}"}}
    assert: [{{type: llm-rubric, value: ok}}]
    options:
      provider: {{id: anthropic:messages:claude-3-haiku, config: {{apiKey: "{test_key}"}}}}
  - vars: {{a: x}}
    provider: {{id: openai:gpt-4.1, config: {{apiKey: "{test_key}"}}}}
""",
    )
    assert code == 1
    for secret in (grader_key, test_key):
        assert secret not in written(root)
        assert secret not in output
    assert (
        "defaultTest.options.provider.config.apiKey: a literal API key: not written anywhere; the model reads "
        "$OPENAI_API_KEY instead. Rotate this key" in output
    )
    assert "tests[0].options.provider.config.apiKey: a literal API key" in output
    assert "tests[1].provider.config.apiKey: a literal API key" in output


def test_provider_ids_are_printed_without_their_credentials(cli, tmp_path: Path) -> None:
    code_param, token, password = "Nq4Wz8Lp" + "2Xc6Vb1Mk9Tr", "Rj5Hs7Df" + "9Gk2Lz4Xc8Vb", "Gh7Jk" + "9Lm2Np"
    code, output, root = run(
        cli,
        tmp_path,
        f"""\
prompts: ["Hi {{{{a}}}}"]
providers:
  - id: "https://api.example.com/generate?code={code_param}"
  - id: "https://user:{password}@api.example.org:8443/x#{token}"
  - id: "exec: python call.py --token {token}"
  - id: "python:call.py --password {password}"
  - openai:gpt-4o-mini
tests: [{{vars: {{a: b}}}}]
""",
    )
    assert code == 1
    for secret in (code_param, token, password):
        assert secret not in output
        assert secret not in written(root)
    assert "providers[0] (https://api.example.com): no litellm equivalent" in output
    assert "providers[1] (https://api.example.org:8443): no litellm equivalent" in output
    assert "providers[2] (exec:): no litellm equivalent" in output
    assert "providers[3] (python:call.py): no litellm equivalent" in output


def test_files_outside_the_configs_directory_are_not_read(cli, tmp_path: Path) -> None:
    secret = "Lk8Jh6Gf" + "4Ds2Aq9Wx7"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "credentials.txt").write_text(f"aws_secret_access_key = {secret}\n")
    (outside / "tests.yaml").write_text(f"- vars: {{a: {secret}}}\n")
    (tmp_path / "pf").mkdir()
    (tmp_path / "pf" / "link.txt").symlink_to(outside / "credentials.txt")
    code, output, root = run(
        cli,
        tmp_path,
        f"""\
prompts:
  - file://{outside}/credentials.txt
  - file://../outside/credentials.txt
  - file://link.txt
  - "Hi {{{{a}}}}"
providers: [openai:gpt-4o-mini]
tests:
  - file://../outside/*.yaml
  - vars: {{a: "file://../outside/credentials.txt"}}
""",
    )
    assert code == 1
    assert secret not in output
    assert secret not in written(root)
    assert f"file {outside}/credentials.txt is outside the config's directory: not read" in output
    assert "file ../outside/credentials.txt is outside the config's directory: not read" in output
    assert "file link.txt is outside the config's directory: not read" in output


def test_the_placeholder_is_a_quoted_string_in_every_written_file(cli, tmp_path: Path) -> None:
    plain, quoted = "Kx7Pq2Lm" + "9Wd4Rt8Yb3Nc", "Ab3\"Cd4'" + "Ef5\\Gh6Ij7Kl8"
    (tmp_path / "pf").mkdir()
    (tmp_path / "pf" / "chat.json").write_text('[{"role": "user", "content": "{{name}}"}]')
    (tmp_path / "pf" / "rows.csv").write_text(f"name,other\n{plain},x\n")
    code, output, root = run(
        cli,
        tmp_path,
        f"""\
description: {plain}
prompts: ["Hi {{{{name}}}} {{{{other}}}}", file://chat.json]
providers:
  - id: openai:gpt-4o-mini
    config: {{apiKey: "{plain}"}}
  - id: anthropic:messages:claude-3-haiku
    config: {{apiKey: {yaml.safe_dump(quoted).splitlines()[0]}}}
tests:
  - vars: {{name: "{plain}", other: {yaml.safe_dump(quoted).splitlines()[0]}}}
  - file://rows.csv
""",
    )
    assert code == 1
    files = {p.relative_to(root).as_posix(): p.read_text() for p in root.rglob("*") if p.is_file()}
    for text in [*files.values(), output]:
        assert plain not in text
        assert quoted not in text and "Ab3" not in text
    suite = yaml.safe_load(files["evals/pf.yaml"])
    assert suite["description"] == "[REDACTED:secret]"
    assert suite["cases"][0]["vars"] == {"name": "[REDACTED:secret]", "other": "[REDACTED:secret]"}
    data = [path for path in files if path.endswith(".jsonl")]
    assert data and '"name": "[REDACTED:secret]"' in files[data[0]]


def test_a_provider_label_holding_a_key_does_not_become_the_model_name(cli, tmp_path: Path) -> None:
    key = "sk-proj-" + "Abc123Def456Ghi789Jkl012Mno345Pqr678Stu901"
    code, output, root = run(
        cli,
        tmp_path,
        f"""\
prompts: ["Hello {{{{name}}}}"]
providers:
  - id: openai:chat:gpt-4o-mini
    label: "{key}"
tests:
  - vars: {{name: Bob}}
    assert: [{{type: contains, value: Bob}}]
""",
    )
    assert code == 1
    assert key not in written(root) and key not in output
    routing = yaml.safe_load((root / "routing.yaml").read_text())
    assert list(routing["models"]) == ["gpt-4o-mini"]
    assert routing["defaults"]["model"] == "gpt-4o-mini"
    assert "providers[0] (openai:chat:gpt-4o-mini).label: `label` holds a credential" in output
