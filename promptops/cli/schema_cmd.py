"""`promptops schema`: print the JSON Schema of a file format."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from .common import write_out


def schema(
    name: Annotated[str | None, typer.Argument(help="prompt, routing, eval or config; omit to list them.")] = None,
) -> int:
    """Print the JSON Schema of a file format (for editors and CI)."""
    from ..formats import schema as load_schema
    from ..formats import schema_names

    if name is None:
        write_out("\n".join(schema_names()))
        return 0
    write_out(json.dumps(load_schema(name), indent=2))
    return 0
