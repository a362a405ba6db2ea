"""The faster `__init__` of the frozen dataclasses on an eval's hot path makes the very objects the generated one
makes: the same signature, defaults, default factories, `__post_init__`, errors, equality, hash and frozenness."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import keyword
import pickle
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptops.checks.settings import Observation
from promptops.evaluate.plan import CaseJob, Task
from promptops.model import Assertion, Case, CaseSummary, CheckResult, Message, TaskResult
from promptops.providers import Completion, ProviderRequest
from promptops.quickinit import quick_init

QUICK = (
    Message,
    Assertion,
    Case,
    CheckResult,
    TaskResult,
    CaseSummary,
    Task,
    CaseJob,
    ProviderRequest,
    Completion,
    Observation,
)


def _twins(spec: list[tuple[str, str]], post_init: bool) -> tuple[type, type]:
    """The same frozen dataclass twice: with the generated __init__, and with quick_init's."""
    made: list[type] = []
    for quick in (False, True):
        namespace: dict[str, Any] = {"__annotations__": {}}
        for name, kind in spec:
            namespace["__annotations__"][name] = "Any"
            if kind == "default":
                namespace[name] = f"default of {name}"
            elif kind == "factory":
                namespace[name] = dataclasses.field(default_factory=lambda: frozenset(["fresh"]))
        if post_init:

            def __post_init__(self: Any) -> None:
                object.__setattr__(self, "seen", sorted(vars(self)))

            namespace["__post_init__"] = __post_init__
        cls = dataclasses.dataclass(frozen=True)(type("Twin", (), namespace))
        made.append(quick_init(cls) if quick else cls)
    return made[0], made[1]


@st.composite
def specs(draw: st.DrawFn) -> list[tuple[str, str]]:
    name = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True).filter(lambda n: not keyword.iskeyword(n))
    names = draw(st.lists(name, unique=True, max_size=8))
    required = draw(st.integers(0, len(names)))  # fields with no default come first, as dataclasses requires
    return [
        (n, "required" if i < required else draw(st.sampled_from(["default", "factory"]))) for i, n in enumerate(names)
    ]


@given(specs(), st.booleans(), st.data())
def test_an_object_is_made_as_the_generated_init_makes_it(
    spec: list[tuple[str, str]], post_init: bool, data: st.DataObject
) -> None:
    plain, quick = _twins(spec, post_init)
    assert str(inspect.signature(quick)) == str(inspect.signature(plain))
    given_names = [n for n, kind in spec if kind == "required" or data.draw(st.booleans())]
    values = {n: data.draw(st.integers() | st.text(max_size=3) | st.none()) for n in given_names}
    a, b = plain(**values), quick(**values)
    assert repr(a).replace("Twin(", "") == repr(b).replace("Twin(", "")
    assert vars(a) == vars(b)
    assert dataclasses.astuple(a) == dataclasses.astuple(b)
    for name, kind in spec:
        if kind == "factory" and name not in values:  # a new object for each instance, as the factory makes it
            assert getattr(b, name) == frozenset(["fresh"]) and getattr(b, name) is not getattr(quick(**values), name)
    if spec:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(b, spec[0][0], "changed")
    assert quick(**values) == b and hash(quick(**values)) == hash(b)
    assert dataclasses.replace(b) == b and copy.deepcopy(b) == b


def test_missing_or_unknown_arguments_fail_as_with_the_generated_init() -> None:
    plain, quick = _twins([("a", "required"), ("b", "default")], post_init=False)
    for args, kwargs in (((), {}), ((1, 2, 3), {}), ((1,), {"c": 2}), ((1,), {"a": 2})):
        with pytest.raises(TypeError) as generated:
            plain(*args, **kwargs)
        with pytest.raises(TypeError) as ours:
            quick(*args, **kwargs)
        assert str(ours.value).replace("quick", "") == str(generated.value).replace("quick", "")


def test_a_class_it_cannot_make_exactly_is_left_as_it_is() -> None:
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class KeywordsOnly:
        a: int

    @dataclasses.dataclass(frozen=True)
    class WithInitVar:
        a: int
        b: dataclasses.InitVar[int] = 0

    @dataclasses.dataclass(frozen=True)
    class NotInInit:
        a: int
        b: int = dataclasses.field(default=0, init=False)

    for cls in (KeywordsOnly, WithInitVar, NotInInit):
        init = cls.__init__
        assert quick_init(cls) is cls and cls.__init__ is init

    @dataclasses.dataclass
    class Mutable:
        a: int

    with pytest.raises(TypeError, match="frozen dataclass"):
        quick_init(Mutable)


@pytest.mark.parametrize("cls", QUICK, ids=lambda c: c.__name__)
def test_the_classes_of_an_eval_keep_their_signature_and_pickle(cls: type) -> None:
    # Each hot class has quick_init's __init__, with the parameters of its fields, and round-trips through pickle
    # (the report's objects cross processes in tests and tools) and copy.
    assert cls.__init__.__qualname__ == f"{cls.__qualname__}.__init__"
    assert cls.__init__.__code__.co_filename == "<string>" and "__dict__" in cls.__init__.__code__.co_names
    fields = dataclasses.fields(cls)
    assert list(inspect.signature(cls).parameters) == [f.name for f in fields]
    values = {
        f.name: f"value {f.name}"
        for f in fields
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    made = cls(**values)
    assert pickle.loads(pickle.dumps(made)) == made and copy.copy(made) == made
    assert {f.name: getattr(made, f.name) for f in fields if f.name in values} == values


def test_a_class_not_marked_keeps_the_generated_init() -> None:
    from promptops.model import Prompt

    assert "__dict__" not in Prompt.__init__.__code__.co_names
