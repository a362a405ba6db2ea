"""The fast path of the YAML reader: data and {key path: line} built in one pass over libyaml's events.

`yamltext` reads a text by composing PyYAML's nodes (a Python resolver call per scalar) and then walking them.
Most texts hold only plain mappings, sequences and scalars: this module builds the same data and lines straight
from the parser's events, and resolves a plain scalar only when its first character can start something other
than a string. Whatever the node reader treats specially or refuses (an anchor, alias or tag, a merge key, a
key that is not a string, a duplicate key, a non-finite number, a document too large or too deep, a syntax
error) raises `Unusual` instead, at once: the caller then reads the text with the node reader, which makes the
same decision, error message and line as ever. This module never decides anything the node reader would not.
"""

from __future__ import annotations

import math
from typing import Any

import yaml
from yaml.events import (
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)

Path = tuple[Any, ...]

_STR = "tag:yaml.org,2002:str"
# The tags of plain scalars built here; a plain scalar of any other tag (a merge key `<<`, the value key `=`)
# is left to the node reader.
_SCALAR_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float"))


class Unusual(Exception):
    """The text holds something the node reader treats specially or refuses: let it read the text."""


def parse(
    loader_class: type, text: str, first_line: int, max_nodes: int, max_depth: int
) -> tuple[Any, dict[Path, int]]:
    """Read the one document of `text` as the node reader would, with its loader (libyaml's parser, with the
    reader's resolvers and constructors) and its limits: at most `max_nodes` nodes (keys not counted) and
    `max_depth` levels. Raises only Unusual, where the node reader could answer otherwise."""
    loader = None
    try:
        loader = loader_class(text)
        return _Events(loader, first_line, max_nodes, max_depth).document()
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError):
        raise Unusual from None  # a syntax error, or a text libyaml cannot take: the node reader words it
    finally:
        if loader is not None:
            loader.dispose()


class _Events:
    def __init__(self, loader: Any, first_line: int, max_nodes: int, max_depth: int) -> None:
        self.loader = loader
        self.get = loader.get_event
        self.first_line = first_line
        self.max_nodes = max_nodes
        self.max_depth = max_depth
        self.lines: dict[Path, int] = {}
        # The nodes built, keys not counted (what the node reader limits): a collection's items are counted,
        # and the count checked, as it ends.
        self.count = 0
        resolvers = loader.yaml_implicit_resolvers
        # The first characters of a plain scalar that may be other than a string ('' for the empty scalar);
        # resolvers that apply to any first character (None) make every plain scalar worth resolving.
        self.wild = bool(resolvers.get(None))
        self.starts = frozenset(first for first, found in resolvers.items() if found and first is not None)
        self.plain: dict[str, Any] = {}  # plain scalar text -> its value, resolved once per text

    def document(self) -> tuple[Any, dict[Path, int]]:
        get = self.get
        if type(get()) is not StreamStartEvent:
            raise Unusual
        event = get()
        if type(event) is StreamEndEvent:
            return None, {}
        if type(event) is not DocumentStartEvent:
            raise Unusual
        event = get()
        self.lines[()] = event.start_mark.line + self.first_line
        self.count = 1
        data = self.scalar(event) if type(event) is ScalarEvent else self.collection(event, (), 0)
        if type(get()) is not DocumentEndEvent or type(get()) is not StreamEndEvent:
            raise Unusual  # another document follows: the node reader words the refusal
        return data, self.lines

    def collection(self, event: Any, path: Path, depth: int) -> Any:
        cls = type(event)
        if cls is not MappingStartEvent and cls is not SequenceStartEvent:
            raise Unusual  # an alias
        if event.anchor is not None or event.tag is not None or depth + 1 >= self.max_depth:
            raise Unusual
        built = self.mapping(path, depth + 1) if cls is MappingStartEvent else self.sequence(path, depth + 1)
        if self.count >= self.max_nodes:
            raise Unusual
        return built

    def mapping(self, path: Path, depth: int) -> dict[str, Any]:
        get, lines, first_line, scalar = self.get, self.lines, self.first_line, self.scalar
        result: dict[str, Any] = {}
        while True:
            event = get()
            cls = type(event)  # not narrowed: the typing stubs make every mark optional
            if cls is not ScalarEvent:
                if cls is MappingEndEvent:
                    self.count += len(result)
                    return result
                raise Unusual  # a key that is a mapping, a sequence or an alias
            key = scalar(event)
            if type(key) is not str or key in result:
                raise Unusual
            key_path = (*path, key)
            lines[key_path] = event.start_mark.line + first_line
            event = get()
            result[key] = scalar(event) if type(event) is ScalarEvent else self.collection(event, key_path, depth)

    def sequence(self, path: Path, depth: int) -> list[Any]:
        get, lines, first_line, scalar = self.get, self.lines, self.first_line, self.scalar
        result: list[Any] = []
        while True:
            event = get()
            if type(event) is SequenceEndEvent:
                self.count += len(result)
                return result
            item_path = (*path, len(result))
            lines[item_path] = event.start_mark.line + first_line
            result.append(scalar(event) if type(event) is ScalarEvent else self.collection(event, item_path, depth))

    def scalar(self, event: Any) -> Any:
        if event.anchor is not None or event.tag is not None:
            raise Unusual
        value = event.value
        if not event.implicit[0] or (value[:1] not in self.starts and not self.wild):
            return value  # quoted, a block scalar, or plain text that cannot be anything but a string
        found = self.plain.get(value, self)
        if found is self:
            found = self.plain[value] = self.resolve(value)
        return found

    def resolve(self, value: str) -> Any:
        """A plain scalar's value, by the reader's own resolvers and constructors."""
        loader = self.loader
        tag = loader.resolve(yaml.ScalarNode, value, (True, False))
        if tag == _STR:
            return value
        if tag not in _SCALAR_TAGS:
            raise Unusual
        try:
            found = loader.yaml_constructors[tag](loader, yaml.ScalarNode(tag, value))
        except Exception:  # the node reader words it (a constructor fails in many ways: `0b_`, a huge int)
            raise Unusual from None
        if isinstance(found, float) and not math.isfinite(found):
            raise Unusual
        if found is None or isinstance(found, (bool, int, float)):
            return found
        raise Unusual
