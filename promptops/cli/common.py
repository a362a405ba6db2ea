"""What the commands share: the --repo option, loading a project, writing output."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from ..model import Config, Snapshot
    from ..workspace import Source

RepoOption = Annotated[
    Path | None,
    typer.Option(
        "--repo",
        "-C",
        help="The project directory (default: found from the current directory).",
        file_okay=False,
        show_default=False,
    ),
]
RefOption = Annotated[str | None, typer.Option("--ref", help="Read the project as committed at this git revision.")]
SignOption = Annotated[
    bool,
    typer.Option(
        "--sign",
        help="Embed a signature: with --signing-key, --hmac-env, or the SSH key git signs with (user.signingKey).",
    ),
]
SigningKeyOption = Annotated[
    Path | None, typer.Option("--signing-key", help="The SSH private key to sign with (with --sign).", dir_okay=False)
]
HmacEnvOption = Annotated[
    str | None,
    typer.Option("--hmac-env", help="The environment variable holding an HMAC-SHA256 key (its name, never the key)."),
]


def root_of(repo: Path | None) -> Path:
    from ..workspace import discover_root

    if repo is not None:
        if not repo.is_dir():
            from ..errors import InputError

            raise InputError(f"{repo} is not a directory", hint="pass --repo DIR naming a project directory")
        return repo.resolve()
    return discover_root(Path.cwd())


def open_project(
    repo: Path | None, ref: str | None = None, strict: bool = False, report_all: bool = False
) -> tuple[Path, Source, Snapshot]:
    """The project root, its source (working tree or a revision), and everything loaded from it.

    An invalid promptops.yaml stops the command; `strict` stops it on any file that failed to load;
    `report_all` (lint) stops on none, since the caller reports them all.
    """
    from ..loader import load, raise_problem
    from ..workspace import CONFIG_FILE, open_source

    root = root_of(repo)
    source = open_source(root, ref)
    snapshot = load(source)
    if not report_all:
        raise_problem(snapshot, None if strict else {CONFIG_FILE})
    return root, source, snapshot


def open_config(repo: Path | None) -> tuple[Path, Config]:
    """The project root and its promptops.yaml alone, for commands that need only the settings (the ledger's):
    nothing else is loaded or validated, so neither the loader nor jsonschema is imported."""
    from ..config_file import load_config
    from ..workspace import TreeSource

    root = root_of(repo)
    return root, load_config(TreeSource(root))


def prompt_ids(root: Path, config: Config) -> set[str]:
    """The ids of the prompts in the working tree, from their file names alone (as the loader names them),
    for commands that check a prompt id without loading the project."""
    from ..prompt_files import PROMPT_EXTENSIONS, is_partial, prompt_id_of
    from ..workspace import TreeSource

    start = len(config.prompts_dir) + 1 if config.prompts_dir else 0
    names = (path[start:] for path in TreeSource(root).list_dir(config.prompts_dir))
    return {prompt_id_of(rel) for rel in names if rel.endswith(PROMPT_EXTENSIONS) and not is_partial(rel)}


def repo_prefix(root: Path) -> str:
    """The project's path from the git root ("" at the root), which GitHub annotations and SARIF paths need."""
    from ..git import toplevel

    top = toplevel(root)
    if top is None or top == root.resolve():
        return ""
    return root.resolve().relative_to(top).as_posix() + "/"


def note(text: str) -> None:
    """One plain line for people on stderr, as written (rich would turn a `:name:` in it into an emoji), without
    loading rich: lint, render and the ledger's commands stay fast."""
    sys.stderr.write(text.rstrip("\n") + "\n")
    sys.stderr.flush()


def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


def out_console() -> Console:
    """stdout for people; when piped, wide enough that tables are not cut at 80 columns."""
    import os

    from rich.console import Console

    piped = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    return Console(highlight=False, soft_wrap=True, emoji=False, width=160 if piped else None)


def write_out(text: str, output: Path | None = None) -> None:
    """Data goes to stdout, or atomically to a file."""
    if output is None:
        sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
        sys.stdout.flush()
        return
    from ..workspace import atomic_write

    atomic_write(output, text)


def hmac_key(name: str | None) -> bytes | None:
    """The HMAC key held by the environment variable `name` (the key itself never appears on a command line)."""
    import os

    from ..errors import InputError

    if name is None:
        return None
    value = os.environ.get(name)
    if not value:
        raise InputError(f"the environment variable {name} is not set (or empty)", hint=f"export {name}=<a secret key>")
    return value.encode("utf-8")


def signed(data: bytes, root: Path, sign: bool, key: Path | None, hmac_env: str | None) -> bytes:
    """`data` with an embedded signature when --sign was given."""
    from ..errors import InputError

    if not sign:
        if key is not None or hmac_env is not None:
            raise InputError("--signing-key and --hmac-env go with --sign")
        return data
    if key is not None and hmac_env is not None:
        raise InputError("sign with --signing-key or with --hmac-env, not both")
    from ..release.keys import signed as with_signature

    return with_signature(data, root, ssh_key=key, hmac_key=hmac_key(hmac_env))


def check_format(fmt: str, formats: tuple[str, ...] | list[str]) -> None:
    """A `--format` value this command knows, else a usage error (exit 2) listing the ones it does."""
    if fmt not in formats:
        from ..errors import InputError

        raise InputError(f"unknown format {fmt!r}", hint=f"use one of: {', '.join(formats)}")
