"""Pinned source documents, and the `source("path")` function templates read them through.

A prompt lists the documents it may read under `sources` (paths or globs from the repository root). A template
reads one with `{{ source("docs/policies/refunds.md") }}`: a path the prompt does not list is refused, so a
template cannot read any other file. Where the text comes from depends on what is rendered: the working tree or
a git revision (what the snapshot was loaded from), or a release bundle or export, which carries every pinned
document by content hash; there each document's content must hash to the pin the release recorded, or the
render is refused. Each render notes the digest of every document it read (the runtime's audit records list
them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from .digest import sha256
from .errors import InputError
from .model import Prompt
from .workspace import IgnoredFile, LinkedFile, matches

Reader = Callable[[str], "bytes | None"]


class SourceError(InputError):
    """A document `source()` cannot give; the renderer points it at the template line that asked (exit 2)."""


MAX_CALL_PATH = 1000


@dataclass(frozen=True)
class Documents:
    """Where `source()` reads: `read(path)` gives a file's bytes (None when it has none); `pins` (path -> the
    labelled sha256 a release recorded), when given, is what each document's content must hash to."""

    read: Reader
    pins: Mapping[str, str] | None = None

    def text(self, prompt: Prompt, path: str) -> tuple[str, str]:
        """(the document's text, its digest) for `prompt`, or an InputError saying why it cannot be read."""
        if self.pins is not None and path not in self.pins:
            raise _error(prompt, f"source({path!r}): the release pins no such document", "release it with the file")
        try:
            data = self.read(path)
        except IgnoredFile:
            raise _error(
                prompt,
                f"source({path!r}): git ignores {path} (an untracked file a .gitignore matches, or git's own "
                "directory), so no release could carry it, and it may hold secrets",
                "commit the document under a path git does not ignore, or remove it from the prompt's `sources`",
            ) from None
        except LinkedFile as exc:
            raise _error(
                prompt,
                f"source({path!r}): {exc.message}",
                "commit the document itself under that path: a link may point at a file the prompt does not list",
            ) from None
        if data is None and self.pins is not None:
            raise _error(
                prompt,
                f"source({path!r}): the bundle carries no copy of the document",
                "cut a new release: bundles of releases made before documents travelled do not carry them",
            )
        if data is None:
            raise _error(prompt, f"source({path!r}): no such file", "commit the document, or fix the path")
        digest = sha256(data)
        if self.pins is not None and digest != self.pins[path]:
            raise _error(
                prompt,
                f"source({path!r}): the content hashes to {digest}, but the release pinned {self.pins[path]}",
                "the bundle was edited or is damaged; export the environment again",
            )
        try:
            return data.decode("utf-8"), digest
        except UnicodeDecodeError:
            raise _error(prompt, f"source({path!r}) is not UTF-8 text", "pin text documents only") from None


@dataclass
class _Render:
    prompt: Prompt
    used: dict[str, str] = field(default_factory=dict)


_CURRENT: ContextVar[_Render | None] = ContextVar("promptops_rendering", default=None)


@contextmanager
def rendering(prompt: Prompt) -> Iterator[dict[str, str]]:
    """While a prompt renders: `source()` answers for it; yields the documents it read (path -> digest)."""
    state = _Render(prompt)
    token = _CURRENT.set(state)
    try:
        yield state.used
    finally:
        _CURRENT.reset(token)


def listed(prompt: Prompt, path: str) -> bool:
    """Whether the prompt's `sources` name the path (never one outside the project)."""
    if path.startswith("/") or ".." in path.split("/"):
        return False
    return any(matches(path, pattern) for pattern in prompt.sources)


def source_function(documents: Documents | None) -> Callable[[str], str]:
    """The `source` global of the template sandbox."""

    def source(path: object) -> str:
        state = _CURRENT.get()
        if state is None:
            raise SourceError("source() is available only while a prompt renders")
        prompt = state.prompt
        if not isinstance(path, str) or not path or len(path) > MAX_CALL_PATH:
            raise _error(prompt, "source() takes the path of a document, as a string", 'e.g. source("docs/a.md")')
        if not listed(prompt, path):
            names = ", ".join(prompt.sources) or "none"
            raise _error(
                prompt,
                f"source({path!r}) is not among the documents prompt {prompt.id!r} lists under `sources` ({names})",
                "add the path (or a glob that matches it) to the prompt's `sources`",
            )
        if documents is None:
            raise _error(prompt, f"source({path!r}): no documents are available here", "render from a repository")
        text, digest = documents.text(prompt, path)
        state.used[path] = digest
        return text

    return source


def _error(prompt: Prompt, message: str, hint: str) -> SourceError:
    return SourceError(message, file=prompt.path, line=prompt.line_of("sources"), hint=hint)
