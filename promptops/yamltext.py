"""The one YAML reader: safe, JSON-compatible values only, with the line of every key path."""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import marshal
import math
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Any

import yaml

from .errors import InputError

Path = tuple[Any, ...]
MAX_NODES = 200_000
MAX_DEPTH = 64


# libyaml's parser when PyYAML was built with it (about 6x faster); the same safe constructor either way.
_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):
    """SafeLoader with YAML 1.2 scalars: no timestamps (dates stay strings, so every value is JSON data) and
    only true/false are booleans, so `value: yes` or `off` stay the strings a user wrote."""


_BOOL = "tag:yaml.org,2002:bool"
_STR = "tag:yaml.org,2002:str"
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:timestamp", _BOOL)]
    for first, resolvers in _Base.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


# Texts this long (a suite of some 500 cases) are worth keeping parsed while a memo is open.
MEMO_MIN_CHARS = 64 * 1024
# What a kept parse depends on besides the text: the parser (this module's rules, PyYAML) and marshal's format.
# Raise "yamltext N" whenever _parse would return other data or lines for the same text, or the file's layout
# changes.
_MEMO_SALT = f"yamltext 2|pyyaml {yaml.__version__}|{_Base.__name__}|python {sys.version}|marshal {marshal.version}"

_MEMO_NAME = re.compile(r"\.?[0-9a-f]{40}(?:\.[A-Za-z0-9_]+)?")  # a kept parse, or one being written


@dataclass
class _Kept:
    """One kept parse as its file holds it: a head (the text's digest, and the checks the data passed, see
    `vouch`), then the body (the data and lines), marshalled once and written again as it is."""

    name: str
    digest: bytes
    body: bytes | memoryview
    data: Any  # held, so that no other object takes its id while the block lasts
    passed: tuple[str, ...] = ()

    def file(self) -> bytes:
        head = marshal.dumps((self.digest, self.passed))
        return b"".join((len(head).to_bytes(4, "little"), head, self.body))


class _Memo:
    def __init__(self, directory: FilePath) -> None:
        self.directory = directory
        self.used: set[str] = set()
        self.kept: dict[int, _Kept] = {}  # by the id of the data handed out

    def parse(self, text: str, file: str, first_line: int) -> tuple[Any, dict[Path, int]]:
        # The data and lines depend only on the text and its first line (the file is named by errors alone,
        # which are never kept): the kept parse is named by their digest.
        digest = hashlib.sha256(f"{_MEMO_SALT}\0{first_line}\0{text}".encode("utf-8", "surrogatepass")).digest()
        name = digest.hex()[:40]
        self.used.add(name)
        found = self._read(name, digest)
        if found is not None:
            kept, lines = found
        else:
            data, lines = _parse(text, file, first_line)
            kept = _Kept(name, digest, marshal.dumps((data, lines)), data)
            self._write(kept)
        self.kept[id(kept.data)] = kept
        return kept.data, lines

    def _read(self, name: str, digest: bytes) -> tuple[_Kept, dict[Path, int]] | None:
        try:
            raw = (self.directory / name).read_bytes()
            size = int.from_bytes(raw[:4], "little")
            head = marshal.loads(raw[4 : 4 + size])
            if not (isinstance(head, tuple) and len(head) == 2 and head[0] == digest):
                return None
            body = memoryview(raw)[4 + size :]
            loaded = marshal.loads(body)
        except (OSError, EOFError, ValueError, TypeError):
            return None
        passed = head[1]
        if not (isinstance(passed, tuple) and all(isinstance(p, str) for p in passed)):
            return None
        if isinstance(loaded, tuple) and len(loaded) == 2 and isinstance(loaded[1], dict):
            return _Kept(name, digest, body, loaded[0], passed), loaded[1]
        return None

    def _write(self, kept: _Kept) -> None:
        """Write atomically (a reader sees no file or the whole file); a failure only loses the saving."""
        temp: str | None = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            if self.directory.is_symlink():
                return
            fd, temp = tempfile.mkstemp(prefix=f".{kept.name}.", dir=self.directory)
            with os.fdopen(fd, "wb") as out:
                out.write(kept.file())
            os.replace(temp, self.directory / kept.name)
        except (OSError, ValueError):
            if temp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temp)

    def vouch(self, data: Any, check: str) -> None:
        kept = self.kept.get(id(data))
        if kept is not None and kept.data is data and check not in kept.passed:
            kept.passed = (*kept.passed, check)
            self._write(kept)

    def vouched(self, data: Any, check: str) -> bool:
        kept = self.kept.get(id(data))
        return kept is not None and kept.data is data and check in kept.passed

    def prune(self) -> None:
        """Remove what this block did not use: the parses of texts since edited (or of files since deleted).
        Only files named as this class names them, in a directory that is no link, are ever removed."""
        if self.directory.is_symlink():
            return
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.directory):
                if (
                    entry.name not in self.used
                    and _MEMO_NAME.fullmatch(entry.name)
                    and entry.is_file(follow_symlinks=False)
                ):
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)


_memo: contextvars.ContextVar[_Memo | None] = contextvars.ContextVar("yamltext_memo", default=None)


@contextlib.contextmanager
def memo(directory: FilePath) -> Iterator[None]:
    """Within the block, keep the parse of every long text in `directory`, named by a digest of the text, so
    the next block reads it back instead of parsing the text again. When the block ends without an error, the
    kept parses it did not use are removed (what a run loads, the head and a baseline revision alike, stays).

    Only parses that succeed are kept, so every refusal is made again with the same message and line; a kept
    parse that cannot be read is ignored and written again, and a directory that cannot be written only costs
    the saving."""
    state = _Memo(directory)
    token = _memo.set(state)
    try:
        yield
    finally:
        _memo.reset(token)
    state.prune()


def parse(text: str, file: str, *, first_line: int = 1) -> tuple[Any, dict[Path, int]]:
    """Parse one YAML document. Returns the data and {key path: 1-based line}.

    Raises only InputError, whatever the text.
    """
    state = _memo.get()
    if state is None or len(text) < MEMO_MIN_CHARS:
        return _parse(text, file, first_line)
    return state.parse(text, file, first_line)


def vouch(data: Any, check: str) -> None:
    """Note, with the kept parse that `data` came from, that the data passed `check` (a name that changes
    whenever the check could judge otherwise, such as a schema's digest): the next run reading the parse back
    need not make the check again (`vouched`). Nothing happens for data of no kept parse, or outside a memo.

    The data must be as `parse` returned it: a check of data since changed vouches for nothing."""
    state = _memo.get()
    if state is not None:
        state.vouch(data, check)


def vouched(data: Any, check: str) -> bool:
    """Whether `data`, as `parse` returned it within this memo, is a kept parse that passed `check` before."""
    state = _memo.get()
    return state is not None and state.vouched(data, check)


def _parse(text: str, file: str, first_line: int) -> tuple[Any, dict[Path, int]]:
    """Parse with libyaml's events where the text holds nothing unusual (`yamlevents`), else with the nodes."""
    if _Base is yaml.SafeLoader:  # PyYAML without libyaml: the node reader alone
        return _parse_nodes(text, file, first_line)
    from . import yamlevents

    try:
        return yamlevents.parse(_Loader, text, first_line, MAX_NODES, MAX_DEPTH)
    except yamlevents.Unusual:
        return _parse_nodes(text, file, first_line)


def _parse_nodes(text: str, file: str, first_line: int) -> tuple[Any, dict[Path, int]]:
    """The reference reader: PyYAML's nodes, then the data and lines built from them."""
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines: dict[Path, int] = {}
        builder = _Builder(loader, file, first_line, lines)
        return builder.build(node, (), 0), lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + first_line if mark else first_line
        # A problem at the very end of the text is reported on its last line, not one past it.
        line = min(line, first_line + max(text.count("\n") - (1 if text.endswith("\n") else 0), 0))
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError(
            f"YAML syntax error: {problem}",
            file=file,
            line=line,
            hint="check indentation, colons and quoting on this line",
        ) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, max(exc.position, 0)) + first_line
        raise InputError(
            f"character {_char(exc.character)} is not allowed in YAML",
            file=file,
            line=line,
            hint="remove control characters from the file",
        ) from None
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML: {exc}", file=file, line=first_line) from None
    except (ValueError, TypeError, OverflowError) as exc:
        raise InputError(f"invalid YAML value: {exc}", file=file, line=first_line) from None
    except RecursionError:
        raise InputError("YAML nesting is too deep", file=file, line=first_line) from None
    finally:
        if loader is not None:
            loader.dispose()


class _Builder:
    def __init__(self, loader: _Loader, file: str, first_line: int, lines: dict[Path, int]) -> None:
        self.loader = loader
        self.file = file
        self.first_line = first_line
        self.lines = lines
        self.count = 0

    def _line(self, node: yaml.Node) -> int:
        return int(node.start_mark.line) + self.first_line

    def _fail(self, message: str, node: yaml.Node, hint: str | None = None) -> InputError:
        return InputError(message, file=self.file, line=self._line(node), hint=hint)

    def build(self, node: yaml.Node, path: Path, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES or depth > MAX_DEPTH:
            raise self._fail("YAML document is too large or too deeply nested (aliases expand too far?)", node)
        lines = self.lines
        lines.setdefault(path, node.start_mark.line + self.first_line)
        if isinstance(node, yaml.MappingNode):
            self.loader.flatten_mapping(node)
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = self._scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
                if key is None or isinstance(key, (dict, list)):
                    raise self._fail("a mapping key must be a plain string", key_node)
                if not isinstance(key, str):
                    key = str(key).lower() if isinstance(key, bool) else str(key)
                if key in result:
                    raise self._fail(f"duplicate key {key!r}", key_node, hint="remove one of the two entries")
                key_path: Path = (*path, key)
                lines[key_path] = key_node.start_mark.line + self.first_line
                if isinstance(value_node, yaml.ScalarNode) and self.count < MAX_NODES and depth < MAX_DEPTH:
                    # What build() does for a scalar, without the call (most values): the key's line is its path's.
                    self.count += 1
                    result[key] = self._scalar(value_node)
                else:
                    result[key] = self.build(value_node, key_path, depth + 1)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _scalar(self, node: yaml.Node) -> Any:
        if node.tag == _STR and isinstance(node.value, str):
            return node.value  # what the str constructor returns, without its dispatch (most scalars are text)
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.YAMLError:
            raise
        except Exception as exc:  # PyYAML's constructors fail in many ways on explicitly tagged values
            raise self._fail(
                f"invalid value for tag {node.tag}: {type(exc).__name__}",
                node,
                hint="remove the !! tag, or give a value of that type",
            ) from None
        if isinstance(value, float) and not math.isfinite(value):
            # .nan compares false with everything (a gate that cannot fail); .inf is no timeout or weight.
            raise self._fail(
                f"{node.value!r} is not a finite number",
                node,
                hint="numbers must be finite: write a plain number (YAML .nan and .inf are refused)",
            )
        if value is None or isinstance(value, (str, bool, int, float)):
            return value
        raise self._fail(
            f"unsupported YAML value of type {type(value).__name__}",
            node,
            hint="use plain strings, numbers, booleans, lists and mappings",
        )


def _char(value: object) -> str:
    code = value if isinstance(value, int) else ord(value) if isinstance(value, str) and len(value) == 1 else None
    return f"U+{code:04X}" if code is not None else repr(value)


def line_for(lines: dict[Path, int], path: Path, default: int = 1) -> int:
    """The line of the deepest known prefix of a key path."""
    for end in range(len(path), -1, -1):
        found = lines.get(tuple(path[:end]))
        if found is not None:
            return found
    return default
