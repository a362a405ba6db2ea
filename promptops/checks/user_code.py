"""The python check: a function from the repository judges the output (loaded once per file version)."""

from __future__ import annotations

import copy
import hashlib
import inspect
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, cast

from ..model import Assertion
from .settings import (
    DEFAULT_SCORE_THRESHOLD,
    SNIP,
    Observation,
    Outcome,
    _CannotRun,
    _is_number,
    _kind,
    _num,
    _python_target,
    _show,
    _snip,
    _threshold,
)


def check_python(a: Assertion, obs: Observation) -> Outcome:
    file, name = _python_target(a)
    threshold = _threshold(a, DEFAULT_SCORE_THRESHOLD)
    function = _load_function(obs.root, file, name)
    context = {
        "vars": copy.deepcopy(dict(obs.vars)),  # a check must not change what the next check sees
        "prompt": obs.prompt.id,
        "latency_ms": obs.latency_ms,
        "cost": obs.cost,
    }
    return _python_outcome(function(obs.output, context), threshold, f"{file}:{name}")


def _python_outcome(returned: Any, threshold: float, where: str) -> Outcome:
    if isinstance(returned, bool):
        return returned, float(returned), f"{where} returned {returned}"
    if _is_number(returned):
        score = _score(returned, where)
        return score >= threshold, score, f"{where} scored {score:.2f} (threshold {_num(threshold)})"
    if isinstance(returned, Mapping):
        passed, given, reason = returned.get("pass"), returned.get("score"), returned.get("reason")
        if passed is None and given is None:
            raise _CannotRun(f"{where} returned a dict with neither `pass` nor `score`")
        if passed is not None and not isinstance(passed, bool):
            raise _CannotRun(f"{where} returned `pass` as {_kind(passed)}; expected a boolean")
        value = float(bool(passed)) if given is None else _score(given, where)
        ok = value >= threshold if passed is None else passed
        return ok, value, _snip(str(reason), 2 * SNIP) if reason else f"{where} returned pass={ok}"
    if inspect.isawaitable(returned):
        if inspect.iscoroutine(returned):
            returned.close()  # never awaited: close it so Python does not warn later
        raise _CannotRun(f"{where} is async; python checks must be plain functions")
    raise _CannotRun(f"{where} returned {_kind(returned)}; expected a bool, a score from 0 to 1, or a dict")


def _score(x: Any, who: str) -> float:
    if not _is_number(x) or not 0 <= x <= 1:
        raise _CannotRun(f"{who} gave the score {_show(x)}; scores are from 0 to 1")
    return float(x)


_MODULES: dict[Path, tuple[tuple[int, int], ModuleType]] = {}


def _load_function(root: Path | None, file: str, name: str) -> Callable[..., Any]:
    if root is None:
        raise _CannotRun("python checks need the repository root, and none was given")
    base = root.resolve()
    path = (base / file).resolve()
    if not path.is_relative_to(base):
        raise _CannotRun(f"refusing to load {file!r}: it resolves outside the repository")
    if not path.is_file():
        raise _CannotRun(f"{file} not found in the repository")
    function = getattr(_load_module(path), name, None)
    if not callable(function):
        raise _CannotRun(f"{file} has no function {name!r}")
    return cast("Callable[..., Any]", function)


def _load_module(path: Path) -> ModuleType:
    """Execute a check file once per version of it; no bytecode is written into the user's repository."""
    stat = path.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _MODULES.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    name = "promptops_check_" + hashlib.sha256(f"{path}:{stamp}".encode()).hexdigest()[:16]
    module = ModuleType(name)
    module.__file__ = str(path)
    code = compile(path.read_bytes(), str(path), "exec")
    sys.modules[name] = module  # dataclasses and pickle look a class's module up by name
    try:
        exec(code, module.__dict__)
    except BaseException:
        del sys.modules[name]
        raise
    if cached is not None:
        sys.modules.pop(cached[1].__name__, None)
    _MODULES[path] = (stamp, module)
    return module
