"""The error vocabulary. Each class carries the exit code the CLI boundary turns it into."""

from __future__ import annotations


class PromptopsError(Exception):
    """Base of every error promptops raises on purpose."""

    exit_code = 4

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class GateFailed(PromptopsError):
    """A gate failed: lint errors, evals below threshold, a digest mismatch. Exit 1."""

    exit_code = 1


class InputError(PromptopsError):
    """Bad arguments or an invalid or unreadable file. Exit 2. Names the file and line where known."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.file = file
        self.line = line

    @property
    def where(self) -> str:
        if self.file and self.line:
            return f"{self.file}:{self.line}"
        return self.file or ""

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        return text if not self.hint else f"{text}\n  hint: {self.hint}"


class GitError(PromptopsError):
    """A git operation was refused or failed (a push, a concurrent ref update). Exit 3."""

    exit_code = 3

    def __init__(self, message: str, *, command: str = "", stderr: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.command = command
        self.stderr = stderr

    def __str__(self) -> str:
        text = self.message
        if self.command:
            text += f" (git {self.command})"
        if self.stderr:
            text += f": {self.stderr.strip().splitlines()[-1] if self.stderr.strip() else ''}"
        return text if not self.hint else f"{text}\n  hint: {self.hint}"


class NotAGitRepository(InputError):
    """A command that needs git was run outside a git repository. Exit 2."""


class UnavailableError(PromptopsError):
    """The work could not be done: provider unreachable, authentication, budget. Exit 3."""

    exit_code = 3


class Interrupted(PromptopsError):
    """The user interrupted the run. Exit 130."""

    exit_code = 130
