"""A faster `__init__` for the frozen dataclasses made by the thousand on an eval's hot path (a case's messages,
request, task, answer, checks and result: about a dozen objects a case).

The `__init__` that `dataclasses` writes for a frozen class sets each field through `object.__setattr__` (the
class's own `__setattr__` refuses), a lookup and a call per field: half the cost of making a result of 19 fields.
`quick_init` gives the class an `__init__` with the same signature, defaults, default factories and
`__post_init__` call that fills the instance's dict in one call. Nothing else changes: the class is as frozen,
compared, hashed, copied and `replace`d as before. A class this cannot do exactly (slots, keyword-only fields,
`InitVar`s, fields left out of `__init__`, an `__init__` of its own) is left as it is.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, TypeVar

_T = TypeVar("_T")


class _Factory:
    """The default shown for a field made by its default factory, as `dataclasses` shows it."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


def quick_init(cls: type[_T]) -> type[_T]:
    """Give a frozen dataclass the faster `__init__` (see the module's text); returns the class."""
    if not _eligible(cls):
        return cls
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    scope: dict[str, Any] = {"_FACTORY": _FACTORY}
    params, lines = [], []
    for n, f in enumerate(fields):
        if f.default is not dataclasses.MISSING:
            scope[f"_default{n}"] = f.default
            params.append(f"{f.name}=_default{n}")
        elif f.default_factory is not dataclasses.MISSING:
            scope[f"_factory{n}"] = f.default_factory
            params.append(f"{f.name}=_FACTORY")
            lines.append(f"    if {f.name} is _FACTORY:\n        {f.name} = _factory{n}()\n")
        else:
            params.append(f.name)
    lines.append("    self.__dict__.update({" + ", ".join(f"{f.name!r}: {f.name}" for f in fields) + "})\n")
    if hasattr(cls, "__post_init__"):
        lines.append("    self.__post_init__()\n")
    exec(f"def __init__(self, {', '.join(params)}):\n{''.join(lines)}", scope)
    init = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__annotations__ = dict(getattr(cls, "__init__").__annotations__)  # noqa: B009 - the signature shown
    setattr(cls, "__init__", init)  # noqa: B010 - a class's method, replaced
    return cls


def _eligible(cls: type) -> bool:
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or not params.init or "__slots__" in cls.__dict__:
        raise TypeError(f"quick_init takes a frozen dataclass with an __init__ and no slots, not {cls.__name__}")
    fields = dataclasses.fields(cls)
    signature = inspect.signature(getattr(cls, "__init__"))  # noqa: B009
    made = list(signature.parameters.values())[1:]
    return [p.name for p in made] == [f.name for f in fields] and all(
        p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in made
    )
