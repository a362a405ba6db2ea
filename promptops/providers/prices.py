"""Model prices and names from the price table litellm ships, read without importing litellm.

litellm keeps its prices in `model_prices_and_context_window_backup.json` inside its package (and, with
`LITELLM_LOCAL_MODEL_COST_MAP` set, as promptops sets it, that file is all it uses). The package is located with
`importlib.util.find_spec`, which imports nothing. The file is 3-4 MB, so a name that does not occur in it at all
(a model on a custom server, the common case) is answered from a byte search, and the table is parsed only when
a name does occur.

Only OpenAI rows are interpreted here (the protocol promptops speaks itself); every other provider is priced by
litellm. A price in routing.yaml (`price:`) overrides the table for any provider.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TABLE = "model_prices_and_context_window_backup.json"
PROVIDER = "openai"
_PLAIN_NAME = re.compile(r"[A-Za-z0-9._:/@+-]+")
_ABOVE = re.compile(r"^input_cost_per_token_above_(\d+)(k?)_tokens$")
# Keys that make a row's token price depend on more than prompt and completion tokens (a time of day, a tiered
# table): such rows are priced by litellm itself.
_COMPLEX = ("tiered_pricing", "off_peak")


@dataclass(frozen=True)
class Rates:
    """USD per prompt and completion token, and the thresholds above which other rates apply."""

    input: float
    output: float
    above: tuple[tuple[float, float, float], ...] = ()  # (prompt tokens threshold, input, output), ascending

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        rate_in, rate_out = self.input, self.output
        for threshold, tier_in, tier_out in self.above:
            if prompt_tokens > threshold:
                rate_in, rate_out = tier_in, tier_out
        return prompt_tokens * rate_in + completion_tokens * rate_out


def table_path() -> Path | None:
    """The price table of the installed litellm, found without importing it; None when it is not installed."""
    try:
        spec = importlib.util.find_spec("litellm")
    except (ImportError, ValueError):
        return None
    locations = list(spec.submodule_search_locations or ()) if spec is not None else []
    for location in locations:
        path = Path(location) / TABLE
        if path.is_file():
            return path
    return None


@functools.lru_cache(maxsize=1)
def _raw() -> bytes:
    path = table_path()
    try:
        return path.read_bytes() if path is not None else b"{}"
    except OSError:
        return b"{}"


@functools.lru_cache(maxsize=1)
def _table() -> Mapping[str, Any]:
    try:
        data = json.loads(_raw())
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _mentioned(name: str) -> bool:
    """Whether `name` may be a key (or an alias) of the table: False only when it certainly is not."""
    if not _PLAIN_NAME.fullmatch(name):
        return True  # a name JSON may escape: parse the table
    return f'"{name}"'.encode() in _raw()


def row(name: str) -> Mapping[str, Any] | None:
    """The table's OpenAI row for a model name (`openai/<name>` first, as litellm looks it up), else None."""
    for key in (f"{PROVIDER}/{name}", name):
        if not _mentioned(key):
            continue
        entry = _table().get(key)
        if isinstance(entry, dict) and entry.get("litellm_provider") == PROVIDER:
            return entry
    return None


def is_alias(name: str) -> bool:
    """A name litellm serves as another model (`alias_of`, or listed in a row's `aliases`)."""
    if not any(_mentioned(k) for k in (name, f"{PROVIDER}/{name}")):
        return False
    for key in (name, f"{PROVIDER}/{name}"):
        entry = _table().get(key)
        if isinstance(entry, dict) and "alias_of" in entry:
            return True
    return any(
        (isinstance(e, dict) and name in (e.get("aliases") or ())) or f"{PROVIDER}/{name}" in (e.get("aliases") or ())
        for e in _table().values()
        if isinstance(e, dict) and "aliases" in e
    )


def is_catalog(name: str) -> bool:
    """An OpenAI model litellm knows (not a fine-tune's price row): what decides its `user` parameter."""
    if not _mentioned(name):
        return False
    entry = _table().get(name)
    if isinstance(entry, dict) and entry.get("litellm_provider") == "text-completion-openai":
        return True
    return isinstance(entry, dict) and entry.get("litellm_provider") == PROVIDER and not _is_finetune_key(name)


def _is_finetune_key(key: str) -> bool:
    return key.startswith("ft:") and not key.count(":") > 1


def plain_chat(name: str) -> bool:
    """Whether this model is unknown to the table or an OpenAI chat model with plain token prices: False for
    other modes (images, audio, the responses API, which litellm bridges) and for rows whose price depends on a
    time or a tier table, which litellm prices itself."""
    entry = row(name)
    if entry is None:
        return True
    return entry.get("mode", "chat") == "chat" and not any(k.startswith(_COMPLEX) for k in entry)


def rates(name: str) -> Rates | None:
    """The price of an OpenAI model from the table, or None when the table has no price for it."""
    entry = row(name)
    if entry is None:
        return None
    base_in, base_out = entry.get("input_cost_per_token"), entry.get("output_cost_per_token")
    if not isinstance(base_in, (int, float)) or not isinstance(base_out, (int, float)):
        return None
    tiers: list[tuple[float, float, float]] = []
    for key, value in entry.items():
        found = _ABOVE.match(key)
        if found is None or not isinstance(value, (int, float)):
            continue
        threshold = float(found.group(1)) * (1000 if found.group(2) else 1)
        out_key = key.replace("input_cost_per_token", "output_cost_per_token", 1)
        out = entry.get(out_key)
        tiers.append((threshold, float(value), float(out) if isinstance(out, (int, float)) else float(base_out)))
    return Rates(float(base_in), float(base_out), tuple(sorted(tiers)))
