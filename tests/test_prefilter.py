"""The literal prefilter of scrubbing: a detector is skipped only when it cannot match.

Soundness is what matters (a skipped detector that could match would leave a secret in a report), so it is
checked three ways: on generated expressions against strings generated to match them, on every real
detector against strings generated from its own expression, and on whole texts, where scrubbing must give
exactly what running every detector gives."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from promptops import prefilter, redaction

# -- generated expressions -------------------------------------------------------------------------------------

LETTERS = "abcAB_-:."


def _expression(depth: int) -> st.SearchStrategy[str]:
    atom = st.one_of(
        st.text(LETTERS, min_size=1, max_size=4).map(re.escape),
        st.sampled_from([r"[a-c]", r"\d", r"\w", r".", r"[^a]", r"\b", r"(?<=a)", r"(?!b)"]),
    )
    if depth == 0:
        return atom
    inner = _expression(depth - 1)
    return st.one_of(
        atom,
        st.lists(inner, min_size=1, max_size=4).map("".join),
        st.lists(inner, min_size=2, max_size=3).map(lambda parts: "(?:" + "|".join(parts) + ")"),
        st.lists(inner, min_size=2, max_size=3).map(lambda parts: "|".join(parts)),
        st.tuples(inner, st.sampled_from(["*", "+", "?", "{2}", "{0,2}", "{1,3}", "+?"])).map(
            lambda t: f"(?:{t[0]}){t[1]}"
        ),
        inner.map(lambda e: f"({e})"),
        inner.map(lambda e: f"(?i:{e})"),
    )


EXPRESSIONS = st.tuples(_expression(3), st.sampled_from([0, re.IGNORECASE]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data(), expression=EXPRESSIONS)
def test_any_text_an_expression_matches_holds_one_of_its_literals(
    data: st.DataObject, expression: tuple[str, int]
) -> None:
    source, flags = expression
    try:
        pattern = re.compile(source, flags)
    except re.error:
        assume(False)
        return
    need = prefilter.required(source, flags)
    text = data.draw(st.text(LETTERS + "xyzXYZ 0123\n\u0130\u0131\u212a\u017f\u0307ß", max_size=40))
    if pattern.search(text) is not None:
        assert need is None or need.may_match(text), (source, flags, text, need)


@pytest.mark.parametrize(
    ("source", "flags", "literals", "fold"),
    [
        (r"\bsk-[A-Za-z0-9]{20,}", 0, {"sk-"}, False),
        (r"\b[rs]k_(?:live|test)_[0-9A-Za-z]{16,}", 0, {"k_live", "k_test"}, False),
        (r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})", 0, {"gh", "github_pat_"}, False),
        (r"(?i)\b(?:api[_-]?key|secret)\b", 0, {"api", "secret"}, True),
        (r"token(?:s)?", re.IGNORECASE, {"token"}, True),
        (r"x(?i:AB)", 0, {"ab"}, True),  # a group ignoring case makes the whole test case-blind
    ],
)
def test_the_literals_of_some_token_shapes(source: str, flags: int, literals: set[str], fold: bool) -> None:
    need = prefilter.required(source, flags)
    assert need is not None and (set(need.literals), need.fold) == (literals, fold)


@pytest.mark.parametrize(
    ("source", "text"),
    [
        ("(?i)pid", "P\u0130D"),  # the dotted capital I is an i to `re` (its lower case is two characters)
        ("(?i)pid", "P\u0131D"),  # and so is the dotless i
        ("(?i)key", "\u212aEY"),  # the Kelvin sign is a k
        ("(?i)pass", "PA\u017fS"),  # the long s is an s
        ("(?i)x\u0130y", "XIY"),  # a case-blind literal outside ASCII: no requirement
    ],
)
def test_letters_re_takes_for_ascii_ones_when_ignoring_case(source: str, text: str) -> None:
    assert re.search(source, text) is not None
    need = prefilter.required(source)
    assert need is None or need.may_match(text)


def test_the_twins_of_ascii_letters_are_those_of_the_running_python() -> None:
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF and not chr(c).isascii())
    twins = {
        ord(m.group()): letter for letter in "abcdefghijklmnopqrstuvwxyz" for m in re.finditer(f"(?i){letter}", every)
    }
    assert twins == prefilter.ASCII_TWINS


@pytest.mark.parametrize("source", [r"[a-z]+", r"a|\d+", r"(?:ab)?c?", r"(a)\1", r"(?(1)ab|cd)", r"x*", "(?=abc)"])
def test_an_expression_that_needs_no_literal_always_runs(source: str) -> None:
    assert prefilter.required(source) is None


# -- the real detectors --------------------------------------------------------------------------------------

DETECTORS = list(dict.fromkeys([*redaction.secret_detectors(), *redaction.PII_DETECTORS.values()]))


def _generator(detector: redaction.Detector) -> st.SearchStrategy[str] | None:
    try:
        strategy = st.from_regex(re.compile(detector.source, detector.flags))
        strategy.validate()
    except (InvalidArgument, re.error, NotImplementedError):
        return None
    return strategy


GENERATED = [(d, s) for d in DETECTORS if (s := _generator(d)) is not None]


def test_most_detectors_are_generated() -> None:
    assert len(GENERATED) >= len(DETECTORS) * 2 // 3


@pytest.mark.parametrize(
    ("detector", "strategy"), GENERATED, ids=[f"{d.name}-{i}" for i, (d, _) in enumerate(GENERATED)]
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_a_detector_is_never_skipped_on_a_text_it_matches(
    detector: redaction.Detector, strategy: st.SearchStrategy[str], data: st.DataObject
) -> None:
    around = st.text(st.characters(codec="utf-8"), max_size=20)
    text = data.draw(around) + data.draw(strategy) + data.draw(around)
    if detector.pattern.search(text) is not None:
        scanner = redaction.Scanner(DETECTORS)
        assert detector in scanner.candidates(text)


# -- whole texts ---------------------------------------------------------------------------------------------

TOKENS = [
    "sk-proj-" + "a1B2" * 6,
    "AKIA" + "ABCDEFGHIJKLMNOP",
    "ghp_" + "x" * 36,
    "xoxb-1234567890-abcdef",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
    "-----BEGIN RSA PRIVATE KEY-----",
    "api_key = 'a1b2c3d4e5f6g7h8i9'",
    "SECRET: Zx9Yw8Vu7Ts6Rq5Po4",
    "https://user:hunter2@example.com/path",
    "MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs",
    "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw3",
    "ada@example.com",
    "4111 1111 1111 1111",
    "+1 415 555 0100",
]


def full_scan(detectors: list[redaction.Detector], text: str) -> str:
    """What scrubbing gives when every detector runs on every text."""
    spans: list[tuple[int, int, str]] = []
    for detector in detectors:
        for start, end in detector.spans(text):
            if not any(s < end and start < e for s, e, _ in spans):
                spans.append((start, end, detector.name))
    for start, end, kind in sorted(spans, reverse=True):
        text = text[:start] + redaction.placeholder(kind) + text[end:]
    return text


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(TOKENS),
            st.text(st.characters(codec="utf-8"), max_size=15),
            st.sampled_from([" ", "\n", "=", ":"]),
        ),
        max_size=8,
    ).map("".join)
)
def test_scrubbing_gives_what_running_every_detector_gives(text: str) -> None:
    scanner = redaction.Scanner(DETECTORS)
    assert scanner.replace(text, lambda kind, _: redaction.placeholder(kind)) == full_scan(DETECTORS, text)


@pytest.mark.parametrize(
    ("detectors", "text"),
    [
        ([redaction.Detector("a", "a", r"\b[fF][oO][oO]\d\d", re.ASCII)], "\u00e9foo12"),  # \b as ASCII sees it
        (
            [redaction.Detector("b1", "b1", r"[Q](\d)?"), redaction.Detector("b2", "b2", r"(\w)?(?(1)\d|[.])")],
            "x5",
        ),  # a conditional group names a group by number, which shifts in a combined pattern
        (
            [
                redaction.Detector("c1", "c1", r"[0-9]{3}[xy] # an id", re.X),
                redaction.Detector("c2", "c2", "(?x)\n[qQ]"),
            ],
            "123x",
        ),  # a verbose pattern ending in a comment
    ],
)
def test_detectors_the_combined_search_takes_mean_what_they_say_alone(
    detectors: list[redaction.Detector], text: str
) -> None:
    scanner = redaction.Scanner(detectors)
    assert scanner.replace(text, lambda kind, _: redaction.placeholder(kind)) == full_scan(detectors, text)
    assert full_scan(detectors, text) != text


def _by_each_literal(scanner: redaction.Scanner, text: str) -> list[redaction.Detector]:
    """The detectors a scanner picks for `text` by testing each literal on its own (no one-search shortcut)."""
    folded = prefilter.fold(text)
    chosen = set(scanner._alone)
    for literal, fold, found in scanner._literals:
        if literal in (folded if fold else text):
            chosen.update(found)
    if scanner._rest and (scanner.union is None or scanner.union.search(text) is not None):
        chosen.update(scanner._rest)
    return [scanner.detectors[i] for i in sorted(chosen)]


LITERALS = sorted({literal for literal, _, _ in redaction.Scanner(DETECTORS)._literals})


@settings(max_examples=300, deadline=None)
@given(
    parts=st.lists(
        st.one_of(
            st.text(st.characters(codec="utf-8"), max_size=40),
            st.sampled_from(LITERALS),
            st.sampled_from(LITERALS).map(str.upper),
            st.sampled_from(TOKENS),
        ),
        max_size=8,
    ),
    pad=st.integers(0, 2 * redaction.LITERAL_SEARCH_CHARS),
)
def test_the_one_search_for_any_literal_picks_what_testing_each_literal_picks(parts: list[str], pad: int) -> None:
    scanner = redaction.Scanner(DETECTORS)
    for text in ("".join(parts), "x" * pad + "".join(parts), "".join(parts) + "\u212a" * (pad // 50)):
        assert scanner.candidates(text) == _by_each_literal(scanner, text)
