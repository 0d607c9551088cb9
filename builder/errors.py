"""Domain errors. Each carries the exit code the CLI maps it to (docs/design.md, CLI contract).

EXIT_CODES is the one list of exit codes: the CLI's --help is written from it and a test checks
the README's table against it.
"""

from __future__ import annotations

EXIT_CODES: dict[int, str] = {
    0: "ok",
    1: "a check failed",
    2: "invalid input",
    3: "Docker engine unreachable",
    4: "image build failed",
    5: "smoke test failed",
    6: "a package index or container registry unreachable or refusing",
    130: "interrupted",
}


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
    """A check found a problem: generated files drifted, a lock is stale, the host is not ready."""

    exit_code = 1


class UsageError(DlenvError):
    """The command line itself is wrong: conflicting or missing options."""

    exit_code = 2


class ProfileError(DlenvError):
    """The profile is malformed or names something that does not exist."""

    exit_code = 2


class ResolveError(DlenvError):
    """The profile is well-formed but asks for a combination that cannot work."""

    exit_code = 2


class LockError(DlenvError):
    """A lock file is malformed, for another platform, or does not fit the profile."""

    exit_code = 2


class EngineUnavailable(DlenvError):
    """The Docker engine cannot be reached, or went away while working."""

    exit_code = 3


class ContainerStartFailed(EngineUnavailable):
    """The engine answers but cannot start a container (no GPU runtime, broken networking)."""


class BuildFailed(DlenvError):
    """The image build failed (a locked hash or installed-set mismatch included)."""

    exit_code = 4


class SmokeFailed(DlenvError):
    """The smoke test ran and failed, or could not run."""

    exit_code = 5


class IndexUnreachable(DlenvError):
    """A package index cannot be reached or refuses the credentials."""

    exit_code = 6


class RegistryUnreachable(DlenvError):
    """A container registry cannot be reached, refuses the credentials, or rejects a push."""

    exit_code = 6


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived. A KeyboardInterrupt, so `except Exception` never swallows it.

    `cleanup` is filled in by whoever removed what the interrupted command had created.
    """

    exit_code = 130

    def __init__(self, signal_name: str = "SIGINT") -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name
        self.cleanup: CleanupReport | None = None


class CleanupReport:
    """What a cleanup removed, and what it could not (with the command that would)."""

    def __init__(self) -> None:
        self.removed: list[str] = []
        self.failed: list[str] = []
        self.kept: list[str] = []  # finished before the interrupt, handed over to the user
        self.unreachable: list[str] = []  # the engine was gone: these may still exist

    def summary(self) -> str:
        parts = []
        if self.removed:
            parts.append("removed " + ", ".join(self.removed))
        if self.failed:
            parts.append("could NOT remove " + "; ".join(self.failed))
        if self.unreachable:
            containers = [c.removeprefix("container ") for c in self.unreachable if not c.startswith("tag ")]
            tags = [t.removeprefix("tag ") for t in self.unreachable if t.startswith("tag ")]
            fix = "; ".join(
                part
                for part in (
                    f"docker rm -f {' '.join(containers)}" if containers else "",
                    f"docker rmi {' '.join(tags)}" if tags else "",
                )
                if part
            )
            parts.append(
                f"the engine could not be reached to remove what this run created; once it is back: {fix}"
            )
        if self.kept:
            parts.append("kept " + ", ".join(self.kept) + " (finished before the interrupt)")
        return "; ".join(parts) if parts else "nothing had been created yet"
