"""promptfoo tests as eval cases: defaultTest as suite defaults, inline tests and test files (CSV rows become a
JSONL dataset; CSV's __expected, __description, __prefix, __suffix and __metric columns are understood), vars
read from file:// paths, list-valued vars expanded as promptfoo expands them, and per-test options."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import yamltext
from ..errors import InputError
from . import Plan
from .promptfoo_checks import Mapper, expected_assertion
from .promptfoo_prompts import AFFIX, ImportedPrompt
from .promptfoo_text import model_name, provider_model

if TYPE_CHECKING:
    from .promptfoo import Source

TEST_KEYS = {"vars", "assert", "description", "options", "provider"}
OPTION_KEYS = {"transform", "provider", "response_format", "prefix", "suffix"}


@dataclass
class Cases:
    src: Source
    plan: Plan
    mapper: Mapper
    base: str
    defaults: dict[str, Any] = field(default_factory=dict)
    cases: list[dict[str, Any]] = field(default_factory=list)
    datasets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    grader: str | None = None
    uses_judge: bool = False
    uses_affix: bool = False
    ids: set[str] = field(default_factory=set)

    # -- defaultTest -----------------------------------------------------------------------------------------
    def read_default(self, raw: Any) -> None:
        if raw is None:
            return
        where = self.src.where("defaultTest")
        if not isinstance(raw, dict):
            self.plan.review(where, "defaultTest", "defaultTest from a file is not imported: copy it inline")
            return
        case = self._test(raw, ("defaultTest",), "defaultTest", default=True)
        for key in ("vars", "assert", "transform", "options"):
            if key in case:
                self.defaults[key] = case[key]
        self.plan.mapped(where, "defaultTest", "suite defaults")

    # -- tests -----------------------------------------------------------------------------------------------
    def read_tests(self, raw: Any) -> None:
        items = raw if isinstance(raw, list) else [raw] if raw is not None else []
        for i, item in enumerate(items):
            at: tuple[Any, ...] = ("tests", i) if isinstance(raw, list) else ("tests",)
            if isinstance(item, str) and item.startswith("file://"):
                self._test_files(item[len("file://") :], self.src.where(*at), f"tests[{i}]")
            elif isinstance(item, dict):
                ids = self._add(self._test(item, at, f"tests[{i}]"), f"test-{len(self.cases) + 1}", self.src.where(*at))
                self.plan.mapped(self.src.where(*at), f"tests[{i}]", f"case {', '.join(ids)}")
            else:
                self.plan.review(self.src.where(*at), f"tests[{i}]", "not a test or a file:// path; left out")
        if not self.cases and not self.datasets:
            self.plan.review(self.src.where("tests"), "tests", "no test could be imported: the suite has no cases")

    def _test_files(self, spec: str, where: str, what: str) -> None:
        paths = sorted(self.src.dir.glob(spec)) if any(c in spec for c in "*?[") else [self.src.dir / spec]
        for path in paths:
            rel = path.relative_to(self.src.dir).as_posix() if path.is_relative_to(self.src.dir) else str(path)
            text = self.src.read(rel, where, self.plan)
            if text is None:
                continue
            if rel.endswith(".csv"):
                self._csv(text, rel, path.stem)
                continue
            try:
                rows = _rows(text, rel)
            except InputError as exc:
                self.plan.review(f"{rel}:{exc.line or 1}", what, f"{rel} does not parse: {exc.message}")
                continue
            for n, (line, row) in enumerate(rows, 1):
                if isinstance(row, dict):
                    self._add(
                        self._test(row, (), f"{rel}[{n}]", where=f"{rel}:{line}"), f"{path.stem}-{n}", f"{rel}:{line}"
                    )
                else:
                    self.plan.review(f"{rel}:{line}", f"{rel}[{n}]", "not a test; left out")
            self.plan.mapped(where, what, f"{len(rows)} tests from {rel} became cases")

    def _csv(self, text: str, rel: str, stem: str) -> None:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        rows: list[dict[str, Any]] = []
        unknown = [c for c in reader.fieldnames or [] if c.startswith("__") and not _known_column(c)]
        for column in unknown:
            self.plan.review(
                f"{rel}:1", f"{rel} {column}", f"CSV column {column} has no promptops equivalent; left out"
            )
        for n, row in enumerate(reader, 1):
            where, what = f"{rel}:{reader.line_num}", f"{rel} row {n}"
            test: dict[str, Any] = {"vars": {}, "assert": []}
            metric = row.get("__metric")
            for column, cell in row.items():
                if column is None or cell is None:
                    continue
                if re.fullmatch(r"__expected\d*", column):
                    if cell.strip():
                        test["assert"].append({**expected_assertion(cell), **({"metric": metric} if metric else {})})
                elif column == "__description":
                    test["description"] = cell
                elif column in ("__prefix", "__suffix"):
                    if cell:
                        test.setdefault("options", {})[column[2:]] = cell
                elif column.startswith("__"):
                    continue  # __metric is read above; unknown columns are listed once, above
                else:
                    test["vars"][column] = cell
            case = self._test(test, (), what, where=where)
            case["id"] = self._id(case.get("description"), f"{stem}-{n}")
            rows.append(case)
        path = f"data/{stem}.jsonl"
        self.datasets[path] = rows
        self.plan.mapped(rel, rel, f"{len(rows)} CSV rows became the dataset evals/{path}")

    # -- one test --------------------------------------------------------------------------------------------
    def _test(
        self, raw: dict[str, Any], at: tuple[Any, ...], what: str, where: str = "", default: bool = False
    ) -> dict[str, Any]:
        here = where or self.src.where(*at)
        case: dict[str, Any] = {}
        if raw.get("description"):
            case["description"] = str(raw["description"])
        for key in sorted(set(raw) - TEST_KEYS):
            self.plan.review(here, f"{what}.{key}", f"test setting `{key}` has no promptops equivalent; left out")
        if raw.get("vars") is not None:
            case["vars"] = self._vars(raw["vars"], here, f"{what}.vars")
        asserts = []
        listed = raw.get("assert")
        if listed is not None and not isinstance(listed, list):
            self.plan.review(here, f"{what}.assert", "`assert` is not a list of assertions; left out")
            listed = []
        for j, a in enumerate(listed or []):
            a_where = self.src.where(*at, "assert", j) if at else here
            mapped = self.mapper.assertion(a, a_where, f"{what}.assert[{j}]")
            if mapped is not None:
                asserts.append(mapped)
                self.uses_judge |= mapped["type"].removeprefix("not-") == "llm-rubric"
        if asserts:
            case["assert"] = asserts
        self._options(raw.get("options"), case, here, f"{what}.options", default)
        if raw.get("provider") is not None:
            self.src.provider_key(raw["provider"], self.plan, here, f"{what}.provider")
            if default:
                self.plan.review(here, f"{what}.provider", "a default provider for every test: set defaults.model "
                                 "in routing.yaml instead; left out")  # fmt: skip
            else:
                self._provider(raw["provider"], case, here, f"{what}.provider", grader=False)
        return case

    def _vars(self, raw: Any, where: str, what: str) -> Any:
        if not isinstance(raw, dict):
            self.plan.review(where, what, "vars from a file are not imported: write them inline")
            return {}
        out = {}
        for name, value in raw.items():
            if isinstance(value, str) and value.startswith("file://"):
                text = self.src.read(value, where, self.plan)
                value = text if text is not None else value
                self.plan.mapped(where, f"{what}.{name}", f"read from {value[:60]!r}" if text is None else "file read")
            out[name] = value
        return out

    def _options(self, raw: Any, case: dict[str, Any], where: str, what: str, default: bool) -> None:
        if not isinstance(raw, dict):
            return
        for key in sorted(set(raw) - OPTION_KEYS):
            self.plan.review(where, f"{what}.{key}", f"option `{key}` has no promptops equivalent; left out")
        if "transform" in raw:
            spec = self.mapper.transform(raw["transform"], where, f"{what}.transform")
            if spec is not None:
                case["transform"] = spec
        if "response_format" in raw:
            case.setdefault("options", {})["response_format"] = raw["response_format"]
            self.plan.mapped(where, f"{what}.response_format", "options.response_format")
        for key in ("prefix", "suffix"):
            if key in raw:
                case.setdefault("vars", {})[f"promptfoo_{key}"] = str(raw[key])
                self.uses_affix = True
                self.plan.mapped(where, f"{what}.{key}", f"the var promptfoo_{key}, added to the prompt")
        if "provider" in raw:  # promptfoo's options.provider grades the model-graded checks
            self.src.provider_key(raw["provider"], self.plan, where, f"{what}.provider")
            if default:
                self._provider(raw["provider"], case, where, f"{what}.provider", grader=True)
            else:
                self.plan.review(where, f"{what}.provider", "a grader for one test: promptops grades every "
                                 "llm-rubric with routing.yaml's `judge`; left out")  # fmt: skip

    def _provider(self, raw: Any, case: dict[str, Any], where: str, what: str, grader: bool) -> None:
        """A test's `provider` (the model that answers it), or defaultTest's options.provider (the grader)."""
        pid = raw.get("id") if isinstance(raw, dict) else raw
        mapped = provider_model(pid) if isinstance(pid, str) else None
        if mapped is None:
            self.plan.review(where, what, "a provider with no litellm equivalent; left out")
            return
        models: dict[str, Any] = self.src.routing_models
        name = next((n for n, m in models.items() if m["model"] == mapped[0]), None)
        if name is None:
            name = model_name("grader" if grader else mapped[0], set(models))
            models[name] = {"model": mapped[0], **({"api_key_env": mapped[1]} if mapped[1] else {})}
        if grader:
            self.grader = name
            self.plan.mapped(where, what, f"the grader: routing.yaml `judge: {name}`")
        else:
            case.setdefault("options", {})["model"] = name
            self.plan.mapped(where, what, f"options.model {name!r}")

    def _add(self, case: dict[str, Any], fallback_id: str, where: str) -> list[str]:
        variants = _expand(case.get("vars", {}))
        if len(variants) > 1:
            self.plan.mapped(where, "vars", f"list-valued vars expanded into {len(variants)} cases")
        ids = []
        for n, values in enumerate(variants, 1):
            one = {**case, "vars": values} if values else {k: v for k, v in case.items() if k != "vars"}
            base_id = fallback_id if len(variants) == 1 else f"{fallback_id}-{n}"
            ids.append(self._id(case.get("description"), base_id))
            self.cases.append({"id": ids[-1], **one})
        return ids

    def _id(self, description: Any, fallback: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_.:-]+", "-", str(description or "")).strip("-")[:60] or fallback
        found, n = base, 2
        while found in self.ids:
            found, n = f"{base}-{n}", n + 1
        self.ids.add(found)
        return found

    # -- the suite -------------------------------------------------------------------------------------------
    def suite_files(self, prompts: list[ImportedPrompt], description: Any, repeat: int = 1) -> dict[str, str]:
        """The suite (several prompts: one suite comparing them as variants) and its datasets."""
        from .promptfoo import dump

        names = {n for c in [*self.cases, *itertools.chain(*self.datasets.values())] for n in c.get("vars", {})}
        names |= set(self.defaults.get("vars", {}))
        suite: dict[str, Any] = {}
        if len(prompts) == 1:
            suite["prompt"] = prompts[0].id
        else:
            suite["variants"] = {p.id.rsplit("/", 1)[-1]: p.id for p in prompts}
        if description:
            suite["description"] = str(description)
        suite["threshold"] = 1.0  # promptfoo fails the run when any test fails
        if repeat > 1:
            suite["repeat"] = repeat
        used_by_all = set.intersection(*(set(p.variables) for p in prompts)) if prompts else set()
        metadata = sorted(names - used_by_all - set(AFFIX))
        if metadata:
            suite["metadata"] = metadata
        if self.defaults:
            suite["defaults"] = self.defaults
        if self.datasets:
            suite["datasets"] = sorted(self.datasets)
        if self.cases:
            suite["cases"] = self.cases
        files = {f"evals/{self.base}.yaml": dump(suite)}
        for path, rows in self.datasets.items():
            files[f"evals/{path}"] = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        return files


def _known_column(column: str) -> bool:
    return bool(re.fullmatch(r"__expected\d*", column)) or column in (
        "__description",
        "__prefix",
        "__suffix",
        "__metric",
    )


def _expand(values: dict[str, Any]) -> list[dict[str, Any]]:
    """promptfoo runs a test once per combination of its list-valued vars."""
    lists = {k: v for k, v in values.items() if isinstance(v, list)}
    if not lists:
        return [values]
    combos = itertools.product(*lists.values())
    return [{**values, **dict(zip(lists, combo, strict=True))} for combo in combos]


def _rows(text: str, rel: str) -> list[tuple[int, Any]]:
    if rel.endswith(".jsonl"):
        rows = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append((n, json.loads(line)))
                except ValueError as exc:
                    raise InputError(f"invalid JSON: {exc}", file=rel, line=n) from None
        return rows
    data, lines = yamltext.parse(text, rel)
    items = data if isinstance(data, list) else [data]
    return [(yamltext.line_for(lines, (i,)), row) for i, row in enumerate(items)]
