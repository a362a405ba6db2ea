"""The literal text a regular expression cannot match without: a cheap test that rules a detector out.

Scrubbing runs some sixty token detectors over every answer, message and error an eval keeps. Python's `re`
tries every detector (or every branch of one combined pattern) at every position of the text: about 1 us per
character, 2 ms for a 2,000-character answer. But nearly every detector needs some literal text to match
(`sk-`, `AKIA`, `xox`, `-----BEGIN`, `eyJ`): when none of its literals occurs in the text, the detector cannot
match and need not run. Testing a handful of literals with `in` costs microseconds.

`required(source, flags)` reads the expression with the standard library's own parser and returns a set of
strings such that every match contains at least one of them, or None when it cannot tell (then the detector
always runs). It only ever drops a requirement it cannot prove: a branch needs one of its alternatives' own
requirements, a repeat only when it must occur once, and a group, a look-around or a character class breaks
a run of literal characters. A pattern that ignores case anywhere is tested against the text folded as `re`
folds it for ASCII letters (`fold`), and only with ASCII literals.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

if sys.version_info >= (3, 11):
    import re._constants as _c
    import re._parser as _parser
else:  # pragma: no cover - Python 3.10
    import sre_constants as _c
    import sre_parse as _parser

MIN_LITERAL = 2  # a shorter requirement rules out too little to be worth testing
# The characters outside ASCII that `re` takes, ignoring case, for an ASCII letter (its simple case folding
# plus its own fixes): the dotted and dotless i, the Kelvin sign and the long s. tests/test_prefilter.py checks
# the table against the running Python over every code point.
ASCII_TWINS = {0x130: "i", 0x131: "i", 0x212A: "k", 0x17F: "s"}
_REPEATS = tuple(op for op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)) if op)
_ATOMIC = getattr(_c, "ATOMIC_GROUP", None)


@dataclass(frozen=True)
class Required:
    """At least one of `literals` occurs in any text the pattern matches (in its case-folded form when `fold`)."""

    literals: frozenset[str]
    fold: bool

    def may_match(self, text: str) -> bool:
        """False only when the pattern cannot match `text`."""
        if self.fold:
            text = fold(text)
        return any(literal in text for literal in self.literals)


def fold(text: str) -> str:
    """`text` as the literals of a case-blind requirement (ASCII, lower case) are looked for in it: wherever `re`,
    ignoring case, matches an ASCII literal, the folded text holds the literal in lower case."""
    return text.lower() if text.isascii() else text.translate(ASCII_TWINS).lower()


def required(source: str, flags: int = 0) -> Required | None:
    """The literals every match of `source` contains one of, or None when the pattern needs no such text (or
    cannot be read: the caller then always runs it)."""
    try:
        parsed = _parser.parse(source, flags)
        ignores_case = bool(parsed.state.flags & _c.SRE_FLAG_IGNORECASE) or _ignores_case(parsed)
        found = _needs(parsed, ignores_case)
    except Exception:  # an expression this reading does not know: no requirement, always run
        return None
    if found is None or (ignores_case and not all(literal.isascii() for literal in found)):
        return None  # a case-blind literal outside ASCII: `fold` could miss its matches
    return Required(found, ignores_case)


def _needs(items: Any, fold: bool) -> frozenset[str] | None:
    """For a sequence: the best requirement of any of its items, a run of literal characters being one."""
    best: frozenset[str] | None = None
    run: list[str] = []
    for op, arg in items:
        if op is _c.LITERAL:
            run.append(chr(arg))
            continue
        if op is _c.BRANCH and run:
            # `ab|ac` is parsed as `a(?:b|c)`: the run goes on with each alternative's own leading literals.
            best = _better(best, frozenset(_run_text(run, fold) + _lead(branch, fold) for branch in arg[1]))
        best = _better(best, _run(run, fold))
        run = []
        best = _better(best, _item(op, arg, fold))
    return _better(best, _run(run, fold))


def _lead(items: Any, fold: bool) -> str:
    """The literal characters a sequence starts with."""
    chars = []
    for op, arg in items:
        if op is not _c.LITERAL:
            break
        chars.append(chr(arg))
    return _run_text(chars, fold)


def _item(op: Any, arg: Any, fold: bool) -> frozenset[str] | None:
    if op is _c.SUBPATTERN:
        return _needs(arg[-1], fold)
    if op is _ATOMIC:
        return _needs(arg, fold)
    if op is _c.BRANCH:
        alternatives = [_needs(branch, fold) for branch in arg[1]]
        if any(alternative is None for alternative in alternatives):
            return None  # one way to match needs nothing
        return frozenset().union(*alternatives)  # type: ignore[arg-type]
    if op in _REPEATS and arg[0] >= 1:
        return _needs(arg[2], fold)
    return None  # a class, any character, a look-around, a back-reference, a condition: nothing proven


def _run(chars: list[str], fold: bool) -> frozenset[str] | None:
    return frozenset({_run_text(chars, fold)}) if chars else None


def _run_text(chars: list[str], fold: bool) -> str:
    text = "".join(chars)
    return text.lower() if fold else text


def _better(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    """Either requirement holds; keep the one whose shortest literal is longer (it rules out more)."""
    if b is None or min(map(len, b)) < MIN_LITERAL:
        return a
    if a is None or min(map(len, b)) > min(map(len, a)):
        return b
    return a


def _ignores_case(items: Any) -> bool:
    """Whether any group of the pattern turns on case-insensitive matching."""
    for op, arg in items:
        if op is _c.SUBPATTERN:
            if arg[1] & _c.SRE_FLAG_IGNORECASE or _ignores_case(arg[-1]):
                return True
        elif op is _c.BRANCH:
            if any(_ignores_case(branch) for branch in arg[1]):
                return True
        elif op in _REPEATS:
            if _ignores_case(arg[2]):
                return True
        elif (op is _ATOMIC or op in (_c.ASSERT, _c.ASSERT_NOT)) and _ignores_case(arg if op is _ATOMIC else arg[1]):
            return True
    return False
