"""The typer application: global options and the command table. Command bodies live in their own modules."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import __version__
from . import (
    EXIT_HELP,
    approve_cmd,
    audit_cmd,
    codeowners_cmd,
    diff_cmd,
    env_cmd,
    eval_cmd,
    import_cmd,
    init_cmd,
    lint_cmd,
    list_cmd,
    override_cmd,
    release_cmd,
    render_cmd,
    report_cmd,
    run_cmd,
    schema_cmd,
)

COMMANDS = (
    ("init", init_cmd.init),
    ("list", list_cmd.list_prompts),
    ("render", render_cmd.render),
    ("lint", lint_cmd.lint),
    ("diff", diff_cmd.diff),
    ("eval", eval_cmd.eval_suites),
    ("override", override_cmd.override),
    ("release", release_cmd.release),
    ("bundle", release_cmd.bundle),
    ("verify", release_cmd.verify),
    ("approve", approve_cmd.approve),
    ("promote", env_cmd.promote),
    ("rollback", env_cmd.rollback),
    ("kill", env_cmd.kill),
    ("revive", env_cmd.revive),
    ("status", env_cmd.status),
    ("history", env_cmd.history),
    ("export", env_cmd.export),
    ("run", run_cmd.run),
    ("codeowners", codeowners_cmd.codeowners),
    ("schema", schema_cmd.schema),
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"promptops {__version__}")
        raise typer.Exit(0)


def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show the traceback of an error.")] = False,
) -> None:
    """promptops: your repository's prompts, routing and evals, under review, tests and releases."""


def build() -> typer.Typer:
    app = typer.Typer(
        name="promptops",
        help="Git-native prompt operations: render, lint, diff, evaluate, release and roll back the prompts, "
        "routing and evals of a repository.",
        epilog=EXIT_HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_root)
    for name, fn in COMMANDS:
        app.command(name, epilog=EXIT_HELP)(fn)
    report_cmd.app.info.epilog = EXIT_HELP
    app.add_typer(report_cmd.app, name="report")
    audit_cmd.app.info.epilog = EXIT_HELP
    app.add_typer(audit_cmd.app, name="audit")
    import_cmd.app.info.epilog = EXIT_HELP
    for command in import_cmd.app.registered_commands:
        command.epilog = EXIT_HELP
    app.add_typer(import_cmd.app, name="import")
    return app
