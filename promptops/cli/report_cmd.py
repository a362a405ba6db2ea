"""`promptops report merge`: join the JSON reports of sharded eval runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..wording import count
from .common import err_console, out_console, write_out

app = typer.Typer(help="Work with eval reports.", no_args_is_help=True)


@app.command("merge")
def merge(
    reports: Annotated[
        list[Path],
        typer.Argument(help="JSON reports of the shards (eval --shard K/N -o F.json).", exists=False, dir_okay=False),
    ],
    output: Annotated[
        list[Path] | None,
        typer.Option(
            "--output",
            "-o",
            help="Write the merged report (.json, .xml = JUnit, .md = Markdown, .html = a page; repeatable).",
            dir_okay=False,
        ),
    ] = None,
    fail_on: Annotated[str | None, typer.Option("--fail-on", help="regression: exit 1 on any regressed case.")] = None,
) -> int:
    """Join shard reports and apply the same gates and exit codes as `promptops eval`."""
    from rich.table import Table

    from ..evaluate.engine import exit_code
    from ..evaluate.merge import merge as merge_reports
    from ..evaluate.merge import read_reports
    from ..report import results as writers

    kinds = [(path, writers.format_of(path)) for path in output or []]
    loaded = read_reports(reports)
    merged = merge_reports(loaded)
    for path, kind in kinds:
        write_out(writers.render(kind, merged, fail_on_regression=fail_on == "regression"), path)
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in writers.SUMMARY_HEADER:
        table.add_column(column, no_wrap=True)
    for row in writers.summary_rows(merged):
        table.add_row(*row)
    out_console().print(table)
    code = exit_code(merged, fail_on_regression=fail_on == "regression")
    err_console().print(
        f"merged {count(len(loaded), 'report')}: " + ("all gates passed" if code == 0 else f"exit {code}")
    )
    return code
