"""The command line. `main(argv) -> int` is the one place errors become exit codes."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence

from ..errors import Interrupted, PromptopsError

EXIT_HELP = (
    "Exit codes: 0 success; 1 a gate failed (lint errors, evals below threshold, changes with --exit-code, "
    "a digest mismatch); 2 usage or input error (bad arguments, an invalid file, an unknown prompt); "
    "3 the work could not be done (provider, authentication, budget, a refused git operation); "
    "4 an internal error in promptops (re-run with --debug for the traceback); 130 interrupted."
)


def _stderr(text: str) -> None:
    sys.stderr.write(text.rstrip("\n") + "\n")
    sys.stderr.flush()


def _scrubbed(text: str) -> str:
    """An error message without any key from the environment (those named like keys, and those routing.yaml
    names as holding one) or anything shaped like one."""
    from ..redaction import noted_key_names, scrub, secret_values

    return scrub(text, secret_values(os.environ, noted_key_names()))


def main(argv: Sequence[str] | None = None) -> int:
    """Run promptops with `argv` (default: sys.argv[1:]) and return the exit code."""
    from .app import build, command_of

    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("PROMPTOPS_DEBUG") == "1"
    if "--debug" in args[1:]:  # accepted after the command too: `promptops lint --debug`
        args = [args[0], *(a for a in args[1:] if a != "--debug")]
    try:
        result = build(command_of(args))(args=args, prog_name="promptops", standalone_mode=False)
        code = int(result) if isinstance(result, int) else 0
        if code == Interrupted.exit_code:  # typer returns Ctrl-C as exit code 130
            _stderr("interrupted")
        return code
    except PromptopsError as exc:
        if debug:
            traceback.print_exc()
        _stderr(_scrubbed(f"error: {exc}") if exc.exit_code != 130 else (exc.message or "interrupted"))
        return exc.exit_code
    except KeyboardInterrupt:
        _stderr("interrupted")
        return Interrupted.exit_code
    except BrokenPipeError:
        # A reader closed the pipe (`promptops list | head`); not an error of ours.
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115
        return 0
    except Exception as exc:  # the one boundary for unexpected errors
        usage = _usage_exit(exc)
        if usage is not None:
            return usage
        if debug:
            traceback.print_exc()
        _stderr(
            _scrubbed(f"internal error: {type(exc).__name__}: {exc}")
            + " (a bug in promptops; run again with --debug for the traceback and report it)"
        )
        return 4


def _usage_exit(exc: Exception) -> int | None:
    """Exit code for the command-line parser's own exceptions (click, or the copy typer vendors)."""
    if type(exc).__module__.split(".")[0] not in ("click", "typer"):
        return None
    name = type(exc).__name__
    if name == "Exit":
        code = int(getattr(exc, "exit_code", 0))
        if code == Interrupted.exit_code:  # typer turns Ctrl-C into Exit(130)
            _stderr("interrupted")
        return code
    if name == "Abort":
        _stderr("interrupted")
        return Interrupted.exit_code
    show = getattr(exc, "show", None)
    if callable(show):
        show()
        return 2
    return None


_freeze_at_exit = False


def skip_collections_at_exit() -> None:
    """Have the console script (`run`) freeze every object before the interpreter exits: its last collection
    would scan every object of the command (an eval's report included, a tenth of a second or more) to free
    memory the process is about to give back whole. A program calling `main` itself is not affected: when it
    exits, its objects are collected, and their finalizers run, as usual."""
    global _freeze_at_exit
    _freeze_at_exit = True


def run() -> None:
    """Console-script entry point."""
    code = main()
    if _freeze_at_exit:
        import gc

        gc.freeze()
    raise SystemExit(code)
