"""Domain errors. Each carries the exit code the CLI maps it to (DESIGN.md, CLI contract)."""

from __future__ import annotations


class DlenvError(Exception):
    """Base of every error dlenv reports to a user: a one-paragraph message and an exit code."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n{self.hint}" if self.hint else self.message


class CheckFailed(DlenvError):
    """A check found a problem: generated files drifted, or the host is not ready."""

    exit_code = 1


class ProfileError(DlenvError):
    """The profile is malformed or names something that does not exist."""

    exit_code = 2


class ResolveError(DlenvError):
    """The profile is well-formed but asks for a combination that cannot work."""

    exit_code = 2


class EngineUnavailable(DlenvError):
    """The Docker engine cannot be reached."""

    exit_code = 3


class BuildFailed(DlenvError):
    """The image build failed."""

    exit_code = 4


class SmokeFailed(DlenvError):
    """The smoke test ran and failed, or could not run."""

    exit_code = 5
