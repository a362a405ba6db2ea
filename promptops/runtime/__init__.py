"""What applications import: run what an environment runs, and keep an audit record of every answer.

    import promptops

    with promptops.load(env="production", repo=".") as rt:   # or promptops.load(bundle="bundle.json")
        result = rt.run("support/refund", {"question": "..."})
        result.text, result.answered_by, result.record_id

Importing this package is cheap (no typer, rich, GitPython, litellm, Jinja2 or jsonschema); `load()` brings in
the renderer, and litellm loads on the first live call.
"""

from __future__ import annotations

from .api import Runtime, load
from .results import PromptKilled, Rendered, Result

__all__ = ["PromptKilled", "Rendered", "Result", "Runtime", "load"]
