"""The Jinja2 sandbox every template renders in, with a budget: every call, filter, operator and loop step
checks the render's deadline, and work that would build a huge value is refused before it starts.

Kept apart from render.py (which owns templates, includes and messages) because it is the part that
defends against hostile templates; the two are the only jinja2 importers.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, safe_range

from .budget import MAX_INT_BITS, Clock, OverBudget

LOOP_FILTER = "promptops_loop_budget"

# printf-style conversions ('%10s', '%.5f', '%*d') and format specs ('{:>10}', '{0:{1}}').
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0 +\-]*(\*|\d+)?(?:\.(\*|\d+))?")
_BRACE_SPEC = re.compile(r"\{[^{}]*:((?:[^{}]|\{[^{}]*\})*)\}")
_DIGITS = re.compile(r"\d+")
_PADDING_METHODS = frozenset({"ljust", "rjust", "center", "zfill"})
_SIZING_FILTERS = frozenset({"center", "indent", "batch", "slice"})  # an int argument sets the result's size
MAX_JSON_DEPTH = 64  # as deep as a YAML file may nest: tojson's indent repeats up to this many times a line
MAX_WRAPPED_LINES = 100_000


def _dict(*args: Any, **kwargs: Any) -> dict[Any, Any]:
    """`dict(...)` for templates. A function, not the type: `dict.update(x, ...)` must not reach the type's
    unbound methods, which the immutable sandbox does not police."""
    return dict(*args, **kwargs)


SAFE_GLOBALS = {"range": safe_range, "dict": _dict}  # the sandbox's range, capped at MAX_RANGE items


def _ints(values: Iterable[Any]) -> Iterator[int]:
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool):
            yield value
        elif isinstance(value, (tuple, list)):
            yield from (v for v in value if isinstance(v, int) and not isinstance(v, bool))
        elif isinstance(value, dict):
            yield from (v for v in value.values() if isinstance(v, int) and not isinstance(v, bool))


class BudgetedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox with a clock: started for each render, checked at every step."""

    intercepted_binops = frozenset({"*", "%", "**"})

    def __init__(self, clock: Clock, **options: Any) -> None:
        super().__init__(**options)
        self.clock = clock
        self.filters = {name: self._budgeted(name, fn) for name, fn in self.filters.items()}
        self.filters[LOOP_FILTER] = self._loop
        self.globals.clear()
        self.globals.update(SAFE_GLOBALS)

    # -- loops: every `{% for %}` walks its items through the clock -------------------------------------------
    def _generate(
        self, source: nodes.Template, name: str | None, filename: str | None, defer_init: bool = False
    ) -> str:
        for loop in source.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, LOOP_FILTER, [], [], None, None, lineno=loop.lineno)
        return super()._generate(source, name, filename, defer_init)

    def _loop(self, items: Any) -> Iterator[Any]:
        for item in items:
            self.clock.tick()
            yield item

    # -- calls, filters and operators ---------------------------------------------------------------------------
    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        __self.clock.tick()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str) and getattr(__obj, "__name__", "") in _PADDING_METHODS:
            __self._sizes(len(owner), args)
        elif isinstance(owner, str) and getattr(__obj, "__name__", "") == "expandtabs":
            __self._sizes(len(owner), [n * owner.count("\t") for n in _ints(args)])
        elif isinstance(owner, str) and getattr(__obj, "__name__", "") == "replace":
            __self._replace(owner, args)
        elif isinstance(owner, str) and getattr(__obj, "__name__", "") == "join" and args:
            args = (__self._join(owner, args[0]), *args[1:])
        return __self._checked(super().call(__context, __obj, *args, **kwargs))

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        self.clock.tick()
        if operator_ == "*":
            self._multiply(left, right)
        elif operator_ == "**" and isinstance(left, int) and isinstance(right, int):
            if right > 0 and abs(left) > 1 and left.bit_length() * right > MAX_INT_BITS:
                raise OverBudget("a power too large to compute")
        elif operator_ == "%" and isinstance(left, str):
            self._percent(left, right)
        return self._checked(super().call_binop(context, operator_, left, right))

    def getattr(self, obj: Any, attribute: str) -> Any:
        self.clock.tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        self.clock.tick()
        return super().getitem(obj, argument)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        text = value.__self__

        def checked(*args: Any, **kwargs: Any) -> str:
            self._braces(text, [*args, *kwargs.values()])
            return wrapped(*args, **kwargs)

        return checked

    # -- the checks -----------------------------------------------------------------------------------------------
    def _budgeted(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)  # keeps jinja's pass_context / pass_eval_context marks
        def run(*args: Any, **kwargs: Any) -> Any:
            self.clock.tick()
            values = [*args, *kwargs.values()]
            if name == "format" and isinstance(args[0], str):
                self._percent(args[0], values[1:])
            elif name == "replace":
                text = next((a for a in args if isinstance(a, str)), "")
                self._replace(text, [a for a in args if isinstance(a, (str, int))][1:])
            elif name == "join" and len(args) > 1:  # (eval_ctx, value, d="", attribute=None)
                separator = values[2] if len(values) > 2 and isinstance(values[2], str) else ""
                args = (args[0], self._join(separator, args[1]), *args[2:])
            elif name == "sum" and len(args) > 1:  # (environment, iterable, attribute=None, start=0)
                args = (args[0], self._summed(args[1]), *args[2:])
            elif name == "wordwrap":
                self._wordwrap(args, kwargs)
            elif name == "tojson":
                self._sizes(0, [n * MAX_JSON_DEPTH for n in _ints(values[2:])])
            elif name == "indent":
                width = max(_ints(values[1:2]), default=0)
                lines = next((a.count("\n") + 1 for a in args if isinstance(a, str)), 1)
                self.clock.size(width * lines)
            if name in _SIZING_FILTERS:
                self._sizes(0, [v for v in values[1:] if not isinstance(v, str)])
            return self._checked(fn(*args, **kwargs))

        return run

    def _checked(self, value: Any) -> Any:
        if isinstance(value, (str, list, tuple)):
            self.clock.size(len(value))
        return value

    def _sizes(self, base: int, args: Iterable[Any]) -> None:
        for n in _ints(args):
            self.clock.size(base + n)

    def _multiply(self, left: Any, right: Any) -> None:
        for seq, n in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and isinstance(n, int):
                self.clock.size(len(seq) * n)
        if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise OverBudget("the product is too large a number")

    def _summed(self, items: Any) -> Iterator[Any]:
        """sum's items, stopped once the lists or strings they add up to pass the budget."""
        total = 0
        for item in self._loop(items):
            if isinstance(item, (str, list, tuple)):
                total += len(item)
                self.clock.size(total)
            yield item

    def _wordwrap(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """(environment, s, width=79, break_long_words=True, wrapstring=None): lines times the wrap string."""
        text = args[1] if len(args) > 1 and isinstance(args[1], str) else ""
        width = kwargs.get("width", args[2] if len(args) > 2 else 79)
        wrap = kwargs.get("wrapstring", args[4] if len(args) > 4 else None)
        lines = len(text) // max(width, 1) + 1 if isinstance(width, int) else 1
        if lines > MAX_WRAPPED_LINES:
            raise OverBudget(f"wordwrap would make more than {MAX_WRAPPED_LINES:,} lines")
        self.clock.size(len(text) + lines * (len(wrap) if isinstance(wrap, str) else 1))

    def _join(self, separator: str, items: Any) -> Any:
        """The items, as a list when they were an iterator, once the separators alone fit the budget."""
        if not isinstance(items, (str, dict)) and not hasattr(items, "__len__"):
            items = list(self._loop(items))
        if hasattr(items, "__len__") and len(items) > 1:
            self.clock.size(len(separator) * (len(items) - 1))
        return items

    def _replace(self, text: str, args: Any) -> None:
        old, new = [*list(args), "", ""][:2]
        if isinstance(old, str) and isinstance(new, str):
            hits = len(text) + 1 if old == "" else text.count(old)
            self.clock.size(len(text) + hits * len(new))

    def _percent(self, text: str, args: Any) -> None:
        for match in _PERCENT_SPEC.finditer(text):
            for part in match.groups():
                if part == "*":
                    self._sizes(0, [args])
                elif part:
                    self.clock.size(int(part))

    def _braces(self, text: str, args: list[Any]) -> None:
        for match in _BRACE_SPEC.finditer(text):
            spec = match.group(1)
            for digits in _DIGITS.findall(spec):
                self.clock.size(int(digits))
            if "{" in spec:
                self._sizes(0, args)
