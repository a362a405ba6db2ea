"""promptfoo's words in promptops's: provider ids as litellm model strings, and Nunjucks templates read as Jinja2
(the differences rewritten where the meaning is certain, flagged with their line where it is not)."""

from __future__ import annotations

import re

from ..render import builtin_filters

# promptfoo provider prefix -> (litellm provider prefix, the environment variable promptfoo reads the key from)
PROVIDERS: dict[str, tuple[str, str | None]] = {
    "openai": ("openai", "OPENAI_API_KEY"),
    "anthropic": ("anthropic", "ANTHROPIC_API_KEY"),
    "azure": ("azure", "AZURE_API_KEY"),
    "azureopenai": ("azure", "AZURE_API_KEY"),
    "google": ("gemini", "GEMINI_API_KEY"),
    "vertex": ("vertex_ai", None),
    "bedrock": ("bedrock", None),
    "mistral": ("mistral", "MISTRAL_API_KEY"),
    "groq": ("groq", "GROQ_API_KEY"),
    "openrouter": ("openrouter", "OPENROUTER_API_KEY"),
    "togetherai": ("together_ai", "TOGETHERAI_API_KEY"),
    "deepseek": ("deepseek", "DEEPSEEK_API_KEY"),
    "perplexity": ("perplexity", "PERPLEXITYAI_API_KEY"),
    "cohere": ("cohere", "COHERE_API_KEY"),
    "fireworks": ("fireworks_ai", "FIREWORKS_API_KEY"),
    "xai": ("xai", "XAI_API_KEY"),
    "ollama": ("ollama", None),
    "huggingface": ("huggingface", "HF_API_TOKEN"),
}
# The API kinds promptfoo puts between the provider and the model name ("openai:chat:gpt-4o").
_KINDS = {"chat", "messages", "completion", "text-generation", "responses"}


def provider_model(provider_id: str) -> tuple[str, str | None] | None:
    """(litellm model string, key environment variable), or None when promptops has no equivalent (a script,
    an HTTP endpoint, an echo provider...)."""
    prefix, sep, rest = provider_id.partition(":")
    if not sep or prefix not in PROVIDERS or not rest:
        return None
    kind, sep2, model = rest.partition(":")
    if sep2 and kind in _KINDS:
        rest = model
        if prefix == "openai" and kind == "completion":
            return f"text-completion-openai/{rest}", PROVIDERS[prefix][1]
    if prefix == "ollama" and kind == "chat" and sep2:
        return f"ollama_chat/{rest}", None
    litellm_prefix, key_env = PROVIDERS[prefix]
    return f"{litellm_prefix}/{rest}", key_env


def shown_id(provider_id: str) -> str:
    """A provider id as printed: an URL's scheme and host only, a command's first word (`exec: x --token ...`
    -> `exec:`), since the rest may hold a credential."""
    if "://" in provider_id:
        scheme, _, rest = provider_id.partition("://")
        host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rsplit("@", 1)[-1]
        return f"{scheme}://{host}"
    if provider_id.startswith(("exec:", "python:", "file:", "js:", "golang:", "ruby:")):
        return provider_id.split()[0] if provider_id.split() else provider_id
    return provider_id


def model_name(text: str, taken: set[str]) -> str:
    """A routing.yaml model name from a label or model string: [A-Za-z0-9_.-], unique among `taken`."""
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", text.rsplit("/", 1)[-1]).strip("-.") or "model"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return name


_LENGTH = re.compile(r"(\b[A-Za-z_][A-Za-z0-9_.\[\]'\"]*?)\.length\b")
_DUMP = re.compile(r"\|\s*dump\b")
_FILTER = re.compile(r"\|\s*([A-Za-z_][A-Za-z0-9_]*)")
_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)


def nunjucks_to_jinja(text: str) -> tuple[str, list[tuple[int, str, bool]]]:
    """The template as Jinja2 reads it, and notes (line, what, needs review): `x.length` becomes `x | length` and
    `| dump` becomes `| tojson`; a filter Jinja2 does not have is left as it is and flagged."""
    notes: list[tuple[int, str, bool]] = []
    known = builtin_filters()

    def fix(match: re.Match[str]) -> str:
        tag = match.group(0)
        line = text.count("\n", 0, match.start()) + 1
        new = _LENGTH.sub(r"\1 | length", tag)
        if new != tag:
            notes.append((line, "Nunjucks `.length` rewritten as Jinja2's `| length`", False))
        newer = _DUMP.sub("| tojson", new)
        if newer != new:
            notes.append((line, "Nunjucks filter `dump` rewritten as Jinja2's `tojson`", False))
        for name in _FILTER.findall(_strings_removed(newer)):
            if name not in known:
                notes.append((line, f"filter `{name}` does not exist in Jinja2: rewrite it (see README)", True))
        return newer

    return _TAG.sub(fix, text), notes


def without_unknown_filters(text: str) -> str:
    """The template with filters Jinja2 does not have taken out: enough to read which variables it uses."""
    known = builtin_filters()

    def strip(match: re.Match[str]) -> str:
        return re.sub(
            r"\|\s*([A-Za-z_][A-Za-z0-9_]*)(\([^()]*\))?",
            lambda f: f.group(0) if f.group(1) in known else "",
            match.group(0),
        )

    return _TAG.sub(strip, text)


def _strings_removed(tag: str) -> str:
    return re.sub(r"'[^']*'|\"[^\"]*\"", "''", tag)
