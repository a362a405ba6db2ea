"""`promptops import promptfoo`: a promptfooconfig (YAML or JSON) planned as a promptops repository.

prompts -> prompts/ (inline, file://, `---`-separated files, chat messages as messages files; Nunjucks read as
Jinja2), providers -> named models in routing.yaml (several: a model matrix), defaultTest -> suite defaults,
tests (inline, or from CSV/JSON/JSONL/YAML files, with CSV's __expected/__description/__prefix/__suffix) ->
cases, assertions -> assertions (promptfoo_checks.py). Every key read is reported, mapped or needing a
person. A literal key is never written: it becomes an `api_key_env` reference, and every written file and the
report are scrubbed of it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from .. import redaction, yamltext
from ..endpoints import url_credentials
from ..errors import InputError
from ..formats import decode, schema
from . import Plan
from .promptfoo_cases import Cases
from .promptfoo_checks import Mapper, PythonChecks
from .promptfoo_prompts import Prompts
from .promptfoo_text import model_name, provider_model, shown_id

TOP_KEYS = {"description", "prompts", "providers", "tests", "defaultTest", "env", "evaluateOptions"}
PROVIDER_KEYS = {"id", "label", "config"}
CONFIG_ENDPOINT = {"apiBaseUrl": "", "baseUrl": "", "basePath": "", "apiHost": "https://{}/v1"}
# A provider setting named like a credential (accessToken, client_secret, auth, password...) is never written.
_CREDENTIAL_WORDS = {"key", "keys", "token", "secret", "secrets", "password", "passwords", "passwd", "pwd"}


class Source:
    """The promptfoo configuration and the files it names (paths relative to the config's directory)."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.dir = config.parent
        raw = _read_bytes(config)
        if raw is None:
            raise InputError(
                "promptfoo config not found", file=str(config), hint="give the path of promptfooconfig.yaml"
            )
        data, self.lines = yamltext.parse(decode(raw, str(config)), str(config))  # JSON is YAML
        if not isinstance(data, dict):
            raise InputError("a promptfoo config is a mapping at the top level", file=str(config), line=1)
        self.data: dict[str, Any] = data
        self.secrets: set[str] = set(_api_keys(data))  # every literal key, wherever it is, before anything is written
        self.routing_models: dict[str, dict[str, Any]] = {}

    def where(self, *path: Any) -> str:
        return f"{self.config.name}:{yamltext.line_for(self.lines, tuple(path))}"

    def provider_key(self, provider: Any, plan: Plan, where: str, what: str) -> None:
        """A provider block's literal `config.apiKey` (the models, a test's provider, the grader): never written,
        listed for review."""
        config = provider.get("config") if isinstance(provider, dict) else None
        if not isinstance(config, dict) or "apiKey" not in config:
            return
        value = config["apiKey"]
        if isinstance(value, str) and value:
            self.secrets.add(value)
        pid = provider.get("id") if isinstance(provider, dict) else None
        mapped = provider_model(pid) if isinstance(pid, str) else None
        key_env = config.get("apiKeyEnvar") if isinstance(config.get("apiKeyEnvar"), str) else None
        key_env = key_env or (mapped[1] if mapped else None)
        plan.review(where, f"{what}.config.apiKey", f"a literal API key: not written anywhere; the model reads "
                    f"${key_env or 'API_KEY'} instead. Rotate this key: it was in the config file")  # fmt: skip

    def read(self, rel: str, where: str, plan: Plan) -> str | None:
        path = (self.dir / rel.removeprefix("file://")).resolve()
        if not path.is_relative_to(self.dir.resolve()):
            plan.review(where, rel, f"file {rel} is outside the config's directory: not read; copy it next to the "
                        "config to import it")  # fmt: skip
            return None
        raw = _read_bytes(path)
        if raw is None:
            plan.review(where, rel, f"file {rel} not found next to the config; left out")
            return None
        try:
            return decode(raw, rel, 64 * 1024 * 1024)
        except InputError as exc:
            plan.review(where, rel, f"file {rel} is unreadable ({exc.message}); left out")
            return None


def _api_keys(data: Any) -> list[str]:
    """Every literal `apiKey` string anywhere in the config."""
    if isinstance(data, list):
        return [k for v in data for k in _api_keys(v)]
    if not isinstance(data, dict):
        return []
    found = [v for k, v in data.items() if k == "apiKey" and isinstance(v, str) and v]
    return found + [k for v in data.values() for k in _api_keys(v)]


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", file=str(path)) from None


def plan_import(config: Path, name: str | None = None) -> Plan:
    """Everything the import would write and report. InputError (exit 2) only for an unreadable config."""
    src = Source(config)
    plan = Plan()
    base = _slug(name or (config.parent.name if config.stem.startswith("promptfooconfig") else config.stem))
    for key in sorted(set(src.data) - TOP_KEYS):
        plan.review(src.where(key), key, f"`{key}` has no promptops equivalent; left out")
    if "env" in src.data:
        _env(src, plan)
    if "description" in src.data:
        plan.mapped(src.where("description"), "description", "the suite's description")
    prompts = Prompts(src, plan, base)
    prompts.read(src.data.get("prompts"))
    models = _providers(src, plan)
    checks = PythonChecks(f"evals/checks/{base.replace('/', '_')}.py")
    mapper = Mapper(plan, checks, lambda rel, where: src.read(rel, where, plan))
    cases = Cases(src, plan, mapper, base)
    cases.read_default(src.data.get("defaultTest"))
    cases.read_tests(src.data.get("tests"))
    judge = cases.grader or (models[0] if models else None)
    plan.files["routing.yaml"] = _routing_yaml(src, models, judge if cases.uses_judge else None)
    if cases.uses_judge and not cases.grader:
        plan.review(src.where("defaultTest"), "grader", f"promptfoo grades with its own default model; "
                    f"llm-rubric is graded here by `judge: {judge}`: check that it is the grader you want")  # fmt: skip
    if len(models) > 1:
        matrix = " ".join(f"--model {m}" for m in models)
        plan.mapped(
            src.where("providers"), "providers", f"several providers: a model matrix, `promptops eval {matrix}`"
        )
    settings, repeat = _evaluate_options(src, plan)
    plan.files.update(prompts.files(cases.uses_affix))
    if prompts.found:
        plan.files.update(cases.suite_files(prompts.found, src.data.get("description"), repeat))
    if len(prompts.found) > 1:
        plan.mapped(src.where("prompts"), "prompts", f"{len(prompts.found)} prompts: variants of one suite, "
                    f"evals/{base}.yaml, gated and reported side by side")  # fmt: skip
    if checks.functions:
        plan.files[checks.path] = checks.text()
    plan.files.setdefault("promptops.yaml", dump({"project": base.split("/")[0], **settings}))
    _scrub(plan, src.secrets)
    return plan


def _evaluate_options(src: Source, plan: Plan) -> tuple[dict[str, Any], int]:
    """evaluateOptions: `repeat` -> the suite's repeat, `maxConcurrency` -> promptops.yaml's eval.concurrency."""
    raw = src.data.get("evaluateOptions")
    if not isinstance(raw, dict):
        if raw is not None:
            plan.review(src.where("evaluateOptions"), "evaluateOptions", "not a mapping; left out")
        return {}, 1
    settings: dict[str, Any] = {}
    repeat = 1
    for key, value in raw.items():
        where, what = src.where("evaluateOptions", key), f"evaluateOptions.{key}"
        if key == "repeat" and isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 100:
            repeat = value
            plan.mapped(where, what, f"the suite's repeat: {value}")
        elif key == "maxConcurrency" and isinstance(value, int) and value >= 1:
            settings = {"eval": {"concurrency": value}}
            plan.mapped(where, what, f"promptops.yaml eval.concurrency: {value}")
        else:
            plan.review(where, what, f"`{key}` has no promptops equivalent; left out")
    return settings, repeat


def _env(src: Source, plan: Plan) -> None:
    env = src.data["env"]
    names = sorted(env) if isinstance(env, dict) else []
    for value in env.values() if isinstance(env, dict) else []:
        if isinstance(value, str) and len(value) >= 8:
            src.secrets.add(value)
    plan.review(src.where("env"), "env", f"environment values are never written; set {', '.join(names) or 'them'} "
                "in the environment (CI secrets) instead")  # fmt: skip


def _providers(src: Source, plan: Plan) -> list[str]:
    raw = src.data.get("providers")
    items = raw if isinstance(raw, list) else [raw] if raw is not None else []
    taken: set[str] = set()
    models: list[str] = []
    for i, item in enumerate(items):
        where = src.where("providers", i) if isinstance(raw, list) else src.where("providers")
        if isinstance(item, str):
            item = {"id": item}
        elif isinstance(item, dict) and "id" not in item and len(item) == 1:
            ((pid, settings),) = item.items()
            item = {"id": pid, **(settings if isinstance(settings, dict) else {})}
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            plan.review(where, f"providers[{i}]", "not a provider id or {id, config}; left out")
            continue
        spec = _provider(item, where, i, src, plan, taken)
        if spec is not None:
            name, body = spec
            src.routing_models[name] = body
            models.append(name)
    if not models:
        plan.review(src.where("providers"), "providers", "no provider maps to a model: add one to routing.yaml")
    return models


def _provider(
    item: dict[str, Any], where: str, i: int, src: Source, plan: Plan, taken: set[str]
) -> tuple[str, dict[str, Any]] | None:
    mapped = provider_model(item["id"])
    what = f"providers[{i}] ({shown_id(item['id'])})"
    if mapped is None:
        plan.review(where, what, "no litellm equivalent (a script, an HTTP endpoint, ...): add the model by hand")
        return None
    model, key_env = mapped
    for key in sorted(set(item) - PROVIDER_KEYS):
        plan.review(where, f"{what}.{key}", f"provider setting `{key}` has no promptops equivalent; left out")
    config = item.get("config") or {}
    body: dict[str, Any] = {"model": model}
    params: dict[str, Any] = {}
    forbidden = set(schema("routing")["properties"]["defaults"]["properties"]["params"]["propertyNames"]["not"]["enum"])
    for key, value in config.items() if isinstance(config, dict) else []:
        if key == "apiKey":
            src.provider_key(item, plan, where, what)
        elif key == "apiKeyEnvar" and isinstance(value, str):
            key_env = value
        elif key in CONFIG_ENDPOINT and isinstance(value, str):
            url = CONFIG_ENDPOINT[key].format(value) if CONFIG_ENDPOINT[key] else value
            body["api_base"] = _endpoint(url, src, plan, where, f"{what}.config.{key}")
        elif _credential_name(key):
            src.secrets.update(_strings(value))
            plan.review(where, f"{what}.config.{key}", f"`{key}` holds a credential: not written anywhere; give it to "
                        "the model through the environment. Rotate it: it was in the config file")  # fmt: skip
        elif key in forbidden or key in ("organization", "headers", "cost"):
            src.secrets.update(_strings(value) if key == "headers" else ())
            plan.review(where, f"{what}.config.{key}", f"`{key}` is not a model parameter in promptops; left out")
        else:
            params[key] = value
    if key_env:
        body["api_key_env"] = key_env
    if params:
        body["params"] = params
    name = model_name(_label(item, src, plan, where, what) or model, taken)
    plan.mapped(where, what, f"model {name!r} ({model}" + (f", params {sorted(params)}" if params else "") + ")")
    return name, body


def _label(item: dict[str, Any], src: Source, plan: Plan, where: str, what: str) -> str:
    """The provider's label, the model's name in routing.yaml, unless it holds a credential: a name is shown in
    every report and diff, so the model string names it instead."""
    label = str(item.get("label") or "")
    if label and redaction.scrub(label, sorted(src.secrets, key=len, reverse=True)) != label:
        src.secrets.add(label)
        plan.review(where, f"{what}.label", "`label` holds a credential: not used as the model's name. Rotate it: "
                    "it was in the config file")  # fmt: skip
        return ""
    return label


def _credential_name(key: str) -> bool:
    """accessToken, client_secret, authHeader, api_key, password: yes. max_tokens, top_k: no."""
    words = re.findall(r"[a-z]+|[A-Z][a-z]*", key)
    return any(w.lower() in _CREDENTIAL_WORDS or w.lower().startswith(("auth", "credential")) for w in words)


def _strings(value: Any) -> list[str]:
    """Every string in a value (a header mapping, a list of tokens...)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _endpoint(url: str, src: Source, plan: Plan, where: str, what: str) -> str:
    """An endpoint URL without the credentials it may carry (user:password@, ?code=..., #...), found by the rule
    routing.yaml's `api_base` is held to: those join the known secrets and are listed."""
    held = url_credentials(url)
    if not held.found:
        return url
    src.secrets.update(held.values)
    how = f"the endpoint URL carried credentials ({', '.join(held.found)}): written without them; give them to "
    how += "the model through the environment. Rotate them: they were in the config file"
    plan.review(where, what, how)
    return held.clean


def _routing_yaml(src: Source, models: list[str], judge: str | None) -> str:
    data: dict[str, Any] = {}
    if models:
        data["defaults"] = {"model": models[0]}
    data["models"] = src.routing_models
    if judge:
        data["judge"] = judge
    return dump(data)


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # a reviewer reads every case in full: no &anchors and *aliases


def dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120, default_flow_style=False)


def _slug(text: str) -> str:
    parts = [re.sub(r"[^A-Za-z0-9_.-]+", "-", p).strip("-.") for p in text.replace("\\", "/").split("/")]
    return "/".join(p for p in parts if p) or "imported"


def _scrub(plan: Plan, secrets: set[str]) -> None:
    """No key in any file or report line: the literal ones the config held, and anything shaped like a key.
    YAML and JSON Lines are scrubbed value by value before they are written again, so that the placeholder is a
    quoted string and never changes what the file means (`name: [REDACTED:secret]` would be a list)."""
    known = sorted(secrets, key=len, reverse=True)
    for rel, text in plan.files.items():
        plan.files[rel] = _scrub_file(rel, text, known)
    plan.items[:] = [
        type(item)(item.where, redaction.scrub(item.what, known), item.status, redaction.scrub(item.how, known))
        for item in plan.items
    ]


def _scrub_file(rel: str, text: str, known: list[str]) -> str:
    if rel.endswith((".yaml", ".yml")):
        return _scrub_yaml(text, known)
    if rel.endswith(".jsonl"):
        return "".join(_scrub_json_line(line, known) for line in text.splitlines(keepends=True))
    if text.startswith("---\n") and "\n---\n" in text[3:]:  # a prompt file: YAML front matter, then the template
        head, body = text[4:].split("\n---\n", 1)
        return f"---\n{_scrub_yaml(head + chr(10), known)}---\n{redaction.scrub(body, known)}"
    return redaction.scrub(text, known)


def _scrub_yaml(text: str, known: list[str]) -> str:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return redaction.scrub(text, known)
    clean = _scrub_value(data, known)
    return text if clean == data else dump(clean)


def _scrub_json_line(line: str, known: list[str]) -> str:
    try:
        data = json.loads(line)
    except ValueError:
        return redaction.scrub(line, known)
    clean = _scrub_value(data, known)
    if clean == data:
        return line
    return json.dumps(clean, ensure_ascii=False) + ("\n" if line.endswith("\n") else "")


def _scrub_value(value: Any, known: list[str]) -> Any:
    if isinstance(value, str):
        return redaction.scrub(value, known)
    if isinstance(value, dict):
        return {_scrub_value(k, known): _scrub_value(v, known) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_value(v, known) for v in value]
    return value
