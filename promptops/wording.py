"""How numbers read in messages and reports: "1 case" / "3 cases", "87.5%".

One place for these rules, so every command counts and rounds the same way. Standard library only.
"""

from __future__ import annotations


def plural(n: int, word: str) -> str:
    """`word` as it reads after the number `n`: "case" for 1, "cases" otherwise (0 included)."""
    return word if n == 1 else word + "s"


def count(n: int, word: str) -> str:
    """ "1 case", "0 cases", "3 eval cases"."""
    return f"{n} {plural(n, word)}"


def percent(x: float | None) -> str:
    """A rate in [0, 1] as a percentage with one decimal, the ".0" dropped ("87.5%", "100%"); None reads "-"."""
    return "-" if x is None else f"{x:.1%}".replace(".0%", "%")
