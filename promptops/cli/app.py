"""The typer application: global options and the command table. Command bodies live in their own modules."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from types import ModuleType
from typing import Annotated

import typer

from .. import __version__
from . import EXIT_HELP

# (command, module in this package, function): a command's module is imported only when it is built.
COMMANDS = (
    ("init", "init_cmd", "init"),
    ("list", "list_cmd", "list_prompts"),
    ("render", "render_cmd", "render"),
    ("lint", "lint_cmd", "lint"),
    ("diff", "diff_cmd", "diff"),
    ("eval", "eval_cmd", "eval_suites"),
    ("override", "override_cmd", "override"),
    ("release", "release_cmd", "release"),
    ("bundle", "release_cmd", "bundle"),
    ("verify", "release_cmd", "verify"),
    ("approve", "approve_cmd", "approve"),
    ("promote", "env_cmd", "promote"),
    ("rollback", "env_cmd", "rollback"),
    ("kill", "env_cmd", "kill"),
    ("revive", "env_cmd", "revive"),
    ("status", "env_cmd", "status"),
    ("history", "env_cmd", "history"),
    ("export", "env_cmd", "export"),
    ("run", "run_cmd", "run"),
    ("codeowners", "codeowners_cmd", "codeowners"),
    ("schema", "schema_cmd", "schema"),
)
GROUPS = (("report", "report_cmd"), ("audit", "audit_cmd"), ("import", "import_cmd"))  # commands with subcommands
NAMES = frozenset(name for name, *_ in (*COMMANDS, *GROUPS))


def command_of(args: Sequence[str]) -> str | None:
    """The command `args` run, when its parser alone can answer: the first argument that is not `--debug`.
    None when the whole table is needed: no command, an unknown one (the error lists the known ones), or an
    option before it (`--help` and `--version` speak of the whole application)."""
    for arg in args:
        if arg == "--debug":
            continue
        if arg.startswith("-"):
            return None
        return arg if arg in NAMES else None
    return None


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


def build(only: str | None = None) -> typer.Typer:
    """The application with every command, or with the command `only` alone (see `command_of`): building a
    command's parser reads its function's signature, and a run needs only its own."""
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
    for name, module, function in COMMANDS:
        if only in (None, name):
            app.command(name, epilog=EXIT_HELP)(getattr(_module(module), function))
    for name, module in GROUPS:
        if only in (None, name):
            group: typer.Typer = _module(module).app
            group.info.epilog = EXIT_HELP
            for command in group.registered_commands if name == "import" else ():
                command.epilog = EXIT_HELP
            app.add_typer(group, name=name)
    return app


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"{__package__}.{name}")
