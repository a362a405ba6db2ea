"""Semantic versions and the tags that carry them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InputError

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
BUMPS = ("major", "minor", "patch")


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    patch: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    def bump(self, part: str) -> Version:
        if part == "major":
            return Version(self.major + 1, 0, 0)
        if part == "minor":
            return Version(self.major, self.minor + 1, 0)
        return Version(self.major, self.minor, self.patch + 1)

    def part_changed(self, newer: Version) -> str:
        """Which part a move to `newer` bumps."""
        if newer.major != self.major:
            return "major"
        if newer.minor != self.minor:
            return "minor"
        return "patch"


def parse(text: str, prefix: str = "") -> Version:
    raw = text[len(prefix) :] if prefix and text.startswith(prefix) else text
    raw = raw[1:] if raw.startswith("v") and not prefix else raw
    match = SEMVER.match(raw)
    if not match:
        raise InputError(f"{text!r} is not a semantic version", hint="use MAJOR.MINOR.PATCH, e.g. 1.4.0")
    return Version(*(int(g) for g in match.groups()))


def tag_name(version: Version, prefix: str) -> str:
    return f"{prefix}{version}"


def released(tags: list[str], prefix: str) -> list[tuple[Version, str]]:
    """The release tags among `tags`, oldest version first."""
    found = []
    for tag in tags:
        if tag.startswith(prefix) and SEMVER.match(tag[len(prefix) :]):
            found.append((parse(tag, prefix), tag))
    return sorted(found)
