"""The one place that scrubs secrets and personal data from what promptops keeps or shows.

Every writer goes through it: error messages, eval results, the response cache, recordings, reports and the
runtime's audit log. Two layers:

* `scrub(text, secrets)` removes API keys, always, whatever the project says: the known values (keys read from
  the environment; see `secret_values`), the start of a key that a cut message left at its end, and anything
  shaped like a token (our own detectors plus the regex detectors of the `detect-secrets` library).
* `Redactor` applies the project's `redaction:` settings on top, per field kind (`inputs`, `output`, `error`):
  personal data (emails, card numbers that pass the Luhn check, phone numbers) and the project's own patterns
  are replaced by a placeholder naming what was removed (`redact`), by a keyed HMAC-SHA256 of the value
  (`hash`: the same value gives the same token, and a low-entropy value cannot be brute-forced without the
  key), kept (`keep`), or the whole field is dropped (`drop`).

Standard library only at import time; the token formats of `detect-secrets` come from `token_formats.py`, a
copy of the installed version's detectors (the library itself is imported only for another version).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import prefilter, token_formats
from .budget import REGEX_SECONDS, compile_regex
from .errors import InputError

if TYPE_CHECKING:
    from .model import Snapshot

MODES = ("redact", "hash", "keep", "drop")
FIELDS = ("inputs", "output", "error")
# Environment variables whose values are treated as keys even when routing.yaml does not name them.
SECRET_SUFFIXES = ("_API_KEY", "_KEY", "_TOKEN", "_SECRET", "_PASSWORD")
MIN_SECRET = 8  # shorter values are too likely to occur in ordinary text to be replaced everywhere


def placeholder(kind: str) -> str:
    """What stands where something was removed: it says what, never the value."""
    return f"[REDACTED:{kind}]"


@dataclass(frozen=True)
class Detector:
    """A kind of secret or personal data and the regular expression that finds it. The expression is compiled
    on first use (`pattern`): a Scanner runs a detector only on a text holding the literal text it needs (see
    prefilter.py), so most detectors never run at all."""

    name: str
    label: str
    source: str  # the regular expression
    flags: int = 0  # re flags
    valid: Callable[[str], bool] | None = None  # a check on the match beyond its shape (Luhn)
    budgeted: bool = False  # a project's own pattern: run on the `regex` engine under a time budget

    @functools.cached_property
    def pattern(self) -> Any:
        """The compiled expression: the standard library's, or the `regex` engine's (which takes a timeout) for a
        budgeted one."""
        return compile_regex(self.source) if self.budgeted else re.compile(self.source, self.flags)

    def spans(self, text: str) -> Iterable[tuple[int, int]]:
        """Where the detector finds something: the whole match. (A pattern's groups are not trusted to hold the
        secret: some capture only a token's prefix, and removing the prefix would leave the token.)"""
        pattern: Any = self.pattern  # a `regex` pattern when budgeted, which takes a timeout
        matches = pattern.finditer(text, timeout=REGEX_SECONDS) if self.budgeted else pattern.finditer(text)
        for match in matches:
            if self.valid is None or self.valid(match.group(0)):
                yield match.span(0)


def _luhn(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


OWN_SECRET_DETECTORS = (
    Detector(
        "openai-key",
        "an OpenAI-style API key (sk-...)",
        r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
    ),
    Detector("anthropic-key", "an Anthropic API key", r"\bsk-ant-[A-Za-z0-9_-]{20,}"),
    Detector("stripe-key", "a Stripe secret key", r"\b[rs]k_(?:live|test)_[0-9A-Za-z]{16,}"),
    Detector("huggingface-token", "a Hugging Face token", r"\bhf_[A-Za-z0-9]{30,}"),
    Detector("groq-key", "a Groq API key", r"\bgsk_[A-Za-z0-9]{40,}"),
    Detector("xai-key", "an xAI API key", r"\bxai-[A-Za-z0-9]{40,}"),
    Detector("aws-key", "an AWS access key id", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    Detector("github-token", "a GitHub token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"),
    Detector("gitlab-token", "a GitLab token", r"\bgl(?:pat|dt|ft|rt|cbt|soat)-[A-Za-z0-9_-]{20,}"),
    Detector("google-key", "a Google API key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
    Detector("slack-token", "a Slack token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    Detector("private-key", "a private key", r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    Detector("bearer", "a bearer token", r"\bBearer\s+[A-Za-z0-9._~+/-]{20,}=*"),
    Detector(
        "assigned-secret",
        "a literal secret assigned to a key",
        r"(?i)\b(?:api[_-]?key|secret|token|password|passwd)\b[\"']?\s*[:=]\s*[\"']?"
        r"(?=[A-Za-z0-9_\-./+]*\d)(?=[A-Za-z0-9_\-./+]*[A-Za-z])[A-Za-z0-9_\-./+]{16,}",
    ),
)

PII_DETECTORS = {
    "email": Detector("email", "an email address", r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"),
    "card": Detector("card", "a payment card number", r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])", valid=_luhn),
    "phone": Detector(
        "phone",
        "a phone number",
        # International (+CC ...), (NNN) NNN-NNNN, or NNN-NNN-NNNN; never a run of digit groups (cards, ids).
        r"(?<![\w+])(?<!\d[ .-])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)|\d{1,4})(?:[ .-]?\d{2,4}){2,3}"
        r"|\(\d{3}\)[ .-]?\d{3}[.-]\d{4}|\d{3}[.-]\d{3}[.-]\d{4})(?![ .-]?\d)(?!\w)",
    ),
}


@functools.lru_cache(maxsize=1)
def secret_detectors() -> tuple[Detector, ...]:
    """Our detectors, then every regex detector of `detect-secrets` (AWS, Azure, Stripe, Twilio, JWT, ...; see
    `token_formats.py`, which reads them without importing the library when it can)."""
    return OWN_SECRET_DETECTORS + tuple(
        Detector(name, label, source, flags) for name, label, source, flags in token_formats.library_formats()
    )


@dataclass(frozen=True)
class Hit:
    detector: Detector
    line: int
    start: int
    end: int


def find_secrets(text: str) -> list[Hit]:
    """Every secret-looking span, with its 1-based line; overlapping finds are reported once, by the first."""
    hits: list[Hit] = []
    for detector in secret_detectors():
        for start, end in detector.spans(text):
            if not any(h.start < end and start < h.end for h in hits):
                hits.append(Hit(detector, text.count("\n", 0, start) + 1, start, end))
    return sorted(hits, key=lambda h: (h.start, h.detector.name))


def secret_values(env: Mapping[str, str], named: Iterable[str] = ()) -> tuple[str, ...]:
    """Every environment value that may be a key: the variables routing.yaml names (`api_key_env`), and any
    whose name ends like a key's (`*_API_KEY`, `*_TOKEN`, ...). Longest first, so no key is half-replaced."""
    wanted = set(named)
    values = {
        value
        for name, value in env.items()
        if value and len(value) >= MIN_SECRET and (name in wanted or name.upper().endswith(SECRET_SUFFIXES))
    }
    return tuple(sorted(values, key=lambda v: (-len(v), v)))


_NOTED_KEY_NAMES: set[str] = set()


def note_key_names(names: Iterable[object]) -> None:
    """Remember the variables a project names as holding keys (routing's `api_key_env`) as soon as they are read,
    for the last scrub of an error message, which reaches the command line with no project at hand."""
    _NOTED_KEY_NAMES.update(name for name in names if isinstance(name, str) and name)


def noted_key_names() -> frozenset[str]:
    """Every variable `note_key_names` was given in this process."""
    return frozenset(_NOTED_KEY_NAMES)


def key_names(snapshot: Snapshot) -> list[str]:
    """The environment variables a project names as holding keys: every model's `api_key_env` in routing.yaml."""
    return [m.api_key_env for m in snapshot.routing.models.values() if m.api_key_env]


def project_secrets(snapshot: Snapshot, env: Mapping[str, str]) -> tuple[str, ...]:
    """The key values of `env` that `scrub` removes from what is shown of a project (see `secret_values`)."""
    return secret_values(env, key_names(snapshot))


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """Text without API keys: known values, the start of one cut off at the end of the text, token shapes."""
    for value in secrets:
        if value and len(value) >= MIN_SECRET:
            text = text.replace(value, placeholder("secret"))
            text = _cut_key(text, value)
    return _secrets().replace(text, lambda kind, _value: placeholder(kind))


def _cut_key(text: str, key: str) -> str:
    """A message cut to a length may end in the first characters of a key (maybe followed by `...`)."""
    stripped = text.removesuffix("...")
    # The longest start of the key (shorter than the key, at least MIN_SECRET characters) that ends the text.
    # Such a start begins with the key's first MIN_SECRET characters, so only where those occur near the end
    # is it tried (most texts have none: one search instead of a test per length).
    head = key[:MIN_SECRET]
    at = stripped.find(head, max(0, len(stripped) - len(key) + 1))
    while at != -1:
        if key.startswith(stripped[at:]):
            return stripped[:at] + placeholder("secret")
        at = stripped.find(head, at + 1)
    return text


LITERAL_SEARCH_CHARS = 300  # texts up to this long are first searched for all the literals at once (below)
_BACKREF = re.compile(r"\\[1-9]|\(\?P=|\(\?\(")  # group references: numbers shift in a combined pattern


def _union(detectors: Iterable[Detector]) -> re.Pattern[str] | None:
    """One pattern matching wherever any detector might: most text holds nothing, and one search says so."""
    parts = []
    for detector in detectors:
        text, flags = detector.source, detector.flags
        inline = re.match(r"\(\?([aiLmsux]+)\)", text)
        letters = set(inline.group(1)) if inline else set()
        text = text[inline.end() :] if inline else text
        letters |= {c for flag, c in ((re.I, "i"), (re.X, "x"), (re.S, "s"), (re.M, "m"), (re.A, "a")) if flags & flag}
        if "x" in letters:
            text += "\n"  # a verbose pattern may end in a # comment, which would swallow what follows
        parts.append(f"(?{''.join(sorted(letters))}:{text})" if letters else f"(?:{text})")
    try:
        return re.compile("|".join(parts)) if parts else None
    except re.error:  # a pattern that cannot be combined: every detector then runs on its own
        return None


def _any_of(literals: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern matching wherever any of `literals` occurs (None for none)."""
    wanted = sorted(set(literals))
    return re.compile("|".join(map(re.escape, wanted))) if wanted else None


class Scanner:
    """A set of detectors, run only where they could match.

    A detector that needs some literal text to match (`sk-`, `AKIA`, `eyJ`: see prefilter.py) runs only on a
    text holding it; one combined search tells whether any of the others could match. Detectors that cannot
    join that search always run on their own: the project's patterns (they need the time budget of the `regex`
    engine) and any pattern with a back-reference (its group numbers would shift)."""

    def __init__(self, detectors: Iterable[Detector]) -> None:
        self.detectors = tuple(detectors)
        self.alone = tuple(d for d in self.detectors if d.budgeted or _BACKREF.search(d.source))
        self.needs = {d: None if d in self.alone else prefilter.required(d.source, d.flags) for d in self.detectors}
        self.union = _union(d for d in self.detectors if d not in self.alone and self.needs[d] is None)
        by_literal: dict[tuple[str, bool], list[int]] = {}
        for index, detector in enumerate(self.detectors):
            need = self.needs[detector]
            if need is not None:
                for literal in need.literals:
                    by_literal.setdefault((literal, need.fold), []).append(index)
        self._literals = [(literal, fold, tuple(found)) for (literal, fold), found in by_literal.items()]
        self._folds = any(fold for _, fold, _ in self._literals)
        # One search for any of the literals looked for in the text as it is, one for those looked for in it
        # folded: most texts hold none, and for a short text one search costs less than a test per literal.
        self._any_plain = _any_of(literal for literal, fold, _ in self._literals if not fold)
        self._any_folded = _any_of(literal for literal, fold, _ in self._literals if fold)
        self._alone = [i for i, d in enumerate(self.detectors) if d in self.alone]
        self._rest = [i for i, d in enumerate(self.detectors) if d not in self.alone and self.needs[d] is None]

    def candidates(self, text: str) -> list[Detector]:
        """The detectors that could match `text`, in their order."""
        folded = prefilter.fold(text) if self._folds else text
        plain, folds = self._any_plain, self._any_folded
        if len(text) <= LITERAL_SEARCH_CHARS and not (
            (plain is not None and plain.search(text)) or (folds is not None and folds.search(folded))
        ):
            hits: list[tuple[int, ...]] = []
        else:
            hits = [found for literal, fold, found in self._literals if literal in (folded if fold else text)]
        rest = bool(self._rest) and (self.union is None or self.union.search(text) is not None)
        if not (hits or rest or self._alone):
            return []
        chosen = set(self._alone)
        for found in hits:
            chosen.update(found)
        if rest:
            chosen.update(self._rest)
        return [self.detectors[i] for i in sorted(chosen)]

    def replace(self, text: str, replacement: Callable[[str, str], str]) -> str:
        """`text` with every span a detector finds replaced by `replacement(kind, value)`."""
        detectors = self.candidates(text)
        if not detectors:
            return text
        spans: list[tuple[int, int, str]] = []
        for detector in detectors:
            try:
                found = list(detector.spans(text))
            except TimeoutError:  # a project pattern that runs away: nothing of the text can be vouched for
                return placeholder("unscanned")
            for start, end in found:
                if not any(s < end and start < e for s, e, _ in spans):
                    spans.append((start, end, detector.name))
        for start, end, kind in sorted(spans, reverse=True):
            text = text[:start] + replacement(kind, text[start:end]) + text[end:]
        return text


@functools.lru_cache(maxsize=1)
def _secrets() -> Scanner:
    return Scanner(secret_detectors())


@dataclass(frozen=True)
class Settings:
    """The `redaction:` section of promptops.yaml, validated."""

    modes: Mapping[str, str] = field(default_factory=lambda: dict.fromkeys(FIELDS, "keep"))
    detectors: tuple[str, ...] = tuple(PII_DETECTORS)
    patterns: tuple[Any, ...] = ()  # compiled by the `regex` engine
    hmac_key_env: str | None = None

    @property
    def active(self) -> bool:
        return any(mode != "keep" for mode in self.modes.values())

    @classmethod
    def from_config(cls, section: Mapping[str, Any], file: str = "promptops.yaml") -> Settings:
        """Read the section (already schema-checked); `none` is the older spelling of `keep`."""
        default = _mode(section.get("mode", "keep"))
        fields = section.get("fields") or {}
        modes = {name: _mode(fields.get(name, default)) for name in FIELDS}
        patterns = []
        for text in section.get("patterns") or ():
            try:
                patterns.append(compile_regex(text))
            except ValueError as exc:
                raise InputError(
                    f"redaction pattern {text!r} is not a valid regular expression: {exc}",
                    file=file,
                    hint="fix the pattern under redaction.patterns",
                ) from None
        detectors = tuple(section.get("detectors", tuple(PII_DETECTORS)))
        key_env = section.get("hmac_key_env")
        if "hash" in modes.values() and not key_env:
            raise InputError(
                "redaction mode `hash` needs a key: set redaction.hmac_key_env to the environment variable holding it",
                file=file,
                hint="e.g. hmac_key_env: PROMPTOPS_REDACTION_KEY (a long random value kept out of the repository)",
            )
        return cls(modes, detectors, tuple(patterns), key_env)


def _mode(value: str) -> str:
    return "keep" if value == "none" else value


class Redactor:
    """Applies one project's redaction settings, with the keys of one environment, to what is kept."""

    def __init__(self, settings: Settings | None = None, *, secrets: Iterable[str] = (), hmac_key: bytes | None = None):
        self.settings = settings or Settings()
        self.secrets = tuple(secrets)
        self.hmac_key = hmac_key
        self._scanner = Scanner(
            [PII_DETECTORS[name] for name in self.settings.detectors]
            + [Detector("pattern", "a project pattern", p.pattern, budgeted=True) for p in self.settings.patterns]
        )

    @classmethod
    def from_config(cls, section: Mapping[str, Any], env: Mapping[str, str], named: Iterable[str] = ()) -> Redactor:
        """A redactor for a project's `redaction:` section, keys and HMAC key taken from `env`."""
        settings = Settings.from_config(section)
        key = None
        if settings.hmac_key_env:
            value = env.get(settings.hmac_key_env, "")
            if "hash" in settings.modes.values() and not value:
                raise InputError(
                    f"{settings.hmac_key_env} is not set: redaction mode `hash` needs its key",
                    file="promptops.yaml",
                    hint=f"export {settings.hmac_key_env}=<a long random value>",
                )
            key = value.encode("utf-8") or None
        extra = (settings.hmac_key_env,) if settings.hmac_key_env else ()
        return cls(settings, secrets=secret_values(env, (*named, *extra)), hmac_key=key)

    def hmac(self, value: str) -> str:
        """The keyed hash that `hash` mode writes for a value: HMAC-SHA256, hex."""
        if self.hmac_key is None:
            raise InputError("redaction mode `hash` has no key", hint="set redaction.hmac_key_env in promptops.yaml")
        import hashlib  # here, not at the top: every command reads promptops.yaml through this module
        import hmac

        return hmac.new(self.hmac_key, value.encode("utf-8"), hashlib.sha256).hexdigest()

    def text(self, value: str | None, kind: str = "output") -> str | None:
        """`value` as it may be kept in a field of this kind: None when the field is dropped."""
        if value is None:
            return None
        mode = self.settings.modes.get(kind, "keep")
        if mode == "drop":
            return None
        value = scrub(value, self.secrets)
        if mode == "redact":
            return self._scanner.replace(value, lambda k, _v: placeholder(k))
        if mode == "hash":
            return self._scanner.replace(value, lambda k, v: f"[HMAC:{k}:{self.hmac(v)}]")
        return value

    def value(self, data: Any, kind: str = "inputs", *, top: bool = True) -> Any:
        """A JSON value with every string and number in it redacted as `text` does, and the keys of nested
        mappings (the top level's keys are variable names). A number that holds something to remove becomes the
        text that replaces it."""
        if self.settings.modes.get(kind) == "drop":
            return None
        if isinstance(data, str):
            return self.text(data, kind)
        if isinstance(data, (int, float)) and not isinstance(data, bool):
            kept = self.text(str(data), kind)
            return data if kept == str(data) else kept
        if isinstance(data, Mapping):
            return {
                (str(k) if top else str(self.text(str(k), kind))): self.value(v, kind, top=False)
                for k, v in data.items()
            }
        if isinstance(data, (list, tuple)):
            return [self.value(v, kind, top=False) for v in data]
        return data

    def error(self, message: str) -> str:
        """An error message as it may be shown or kept (a dropped one says so)."""
        kept = self.text(message, "error")
        return placeholder("error") if kept is None else kept
