"""What a change does to prompts, routing, evals and sources, for the reviewer of a pull request.

`diff(base, head)` compares two snapshots and returns a DiffReport: data, never text (report/diff.py writes
it). Every change is classified: does it affect behaviour (what a caller gets), does it break a contract
(a prompt removed or renamed, its inputs or output schema changed incompatibly), does it weaken a gate
(a lower threshold, fewer cases or assertions). Only loaded data is compared, so a comment or whitespace
edit in YAML is no change; lines are ignored. `version_bump` turns a report into the semantic version bump
a release needs.

`open_sides` loads the two sides of a git change. It asks git which files changed and loads only what
they can reach (the prompts including a changed partial, the suites of an affected prompt, the prompts a
routing change re-routes), so a one-prompt change in a repository of thousands costs a few files, not two
full loads; when HEAD is the working tree, files git reports unchanged are read from disk on both sides.

The package, from the report down to loading (the comparisons share one vocabulary, Change):

  model.py      the report dataclasses; plain JSON values, field diffs, unified text diffs
  policy.py     version_bump, is_breaking, changed_prompts, high_risk, policy_failures, affected_suites
  document.py   as_dict and summary: the published diff document
  baseline.py   eval_changes: the paired baseline eval (`diff --eval`)
  compare.py    diff(): problems, partials, and the comparisons below
  context.py    what every comparison reads (both snapshots, renderers, sources)
  prompts.py    prompts: front matter, template, included partials, pinned sources
  contracts.py  breaking changes to inputs and output (JSON Schema: `_admits_more`)
  rendered.py   eval cases rendered on both sides (message_changes)
  routes.py     routing.yaml edits and each prompt's resolved route
  suites.py     eval suites, cases and assertions (weakened gates)
  includes.py   template_refs and reaching: which templates include which
  sides.py      open_sides, default_base: the two sides of a git change
  scope.py      the files a change can reach, so only those are loaded

Everything public is importable from `promptops.diff`; the underscored names are private to the package.
"""

from __future__ import annotations

from .baseline import eval_changes
from .compare import diff
from .document import FORMAT_VERSION, as_dict, summary
from .includes import reaching, template_refs
from .model import (
    DIFF_CONTEXT,
    CaseDiff,
    Change,
    DiffReport,
    EvalCase,
    EvalDiff,
    EvalSuite,
    MessageChange,
    PartialDiff,
    Problem,
    PromptDiff,
    RenderedCase,
    SuiteDiff,
)
from .policy import (
    FAIL_ON,
    Bump,
    affected_suites,
    changed_prompts,
    high_risk,
    is_breaking,
    policy_failures,
    version_bump,
)
from .prompts import FRONTMATTER, METADATA
from .rendered import message_changes
from .sides import DEFAULT_BRANCHES, Sides, default_base, open_sides

__all__ = [
    "DEFAULT_BRANCHES",
    "DIFF_CONTEXT",
    "FAIL_ON",
    "FORMAT_VERSION",
    "FRONTMATTER",
    "METADATA",
    "Bump",
    "CaseDiff",
    "Change",
    "DiffReport",
    "EvalCase",
    "EvalDiff",
    "EvalSuite",
    "MessageChange",
    "PartialDiff",
    "Problem",
    "PromptDiff",
    "RenderedCase",
    "Sides",
    "SuiteDiff",
    "affected_suites",
    "as_dict",
    "changed_prompts",
    "default_base",
    "diff",
    "eval_changes",
    "high_risk",
    "is_breaking",
    "message_changes",
    "open_sides",
    "policy_failures",
    "reaching",
    "summary",
    "template_refs",
    "version_bump",
]
