"""What one command run creates in the engine, registered *before* it is created.

Containers get a name and the run's label before the create call is sent, tags are
registered before they are applied, and the classic builder's intermediate containers as soon
as the build stream names them. So whatever moment Ctrl-C arrives at, cleanup can find
everything, even an object whose create call never returned. Cleanup uses a fresh client with
short timeouts and an overall deadline: it cannot hang on an engine that went away.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

from builder import names
from builder.engine import interrupts
from builder.errors import CleanupReport, DlenvError, Interrupted

if TYPE_CHECKING:
    from builder.engine.protocol import Connect, Engine

T = TypeVar("T")
CLEANUP_CALL_TIMEOUT = 10
CLEANUP_DEADLINE = 45.0


class Resources:
    """The engine objects of one command run; removed on failure unless handed over (`keep`)."""

    def __init__(self, connect: Connect | None = None) -> None:
        self.run_id = secrets.token_hex(4)
        self._connect = connect
        self._serial = 0
        self._containers: list[str] = []
        self._tags: list[str] = []
        self._kept: set[str] = set()
        self._handed_over: list[str] = []
        self._build_parent: tuple[str, float] | None = None

    @property
    def labels(self) -> dict[str, str]:
        """Labels for every container this run creates."""
        return {names.LABEL_RUN_ID: self.run_id}

    def container_name(self, role: str) -> str:
        """A fresh container name, registered for cleanup before the container exists."""
        self._serial += 1
        name = names.run_container(role, self.run_id, self._serial)
        self._containers.append(name)
        return name

    def container(self, name_or_id: str) -> None:
        """Register a container someone else named (a dev container, a build step's)."""
        self._containers.append(name_or_id)

    def build_parent(self, image_id: str, since: float) -> None:
        """The image the running build's next step starts from (None once the build is done).

        The engine creates a step's container before the stream names it; cleanup looks for
        containers from this image created since the build began.
        """
        self._build_parent = (image_id, since)

    def build_done(self) -> None:
        self._build_parent = None

    def tag(self, ref: str) -> None:
        """Register a tag about to be applied."""
        self._tags.append(ref)

    def keep(self, item: str) -> None:
        """The command hands this over to the user: cleanup leaves it alone."""
        self._kept.add(item)
        self._handed_over.append(item)

    def forget(self, item: str) -> None:
        """Already removed by its owner (the smoke runner's own `finally`)."""
        self._kept.add(item)

    def pending(self) -> list[str]:
        return [c for c in self._containers if c not in self._kept] + [
            t for t in self._tags if t not in self._kept
        ]

    def cleanup(self) -> CleanupReport:
        """Remove everything registered and not kept; bounded in time, never raises."""
        report = CleanupReport()
        report.kept = list(dict.fromkeys(self._handed_over))
        containers = [c for c in self._containers if c not in self._kept]
        tags = [t for t in self._tags if t not in self._kept]
        if not containers and not tags and self._build_parent is None:
            return report
        deadline = time.monotonic() + CLEANUP_DEADLINE
        try:
            client = self._client()
        except DlenvError:
            report.unreachable = [f"container {_display(c, [])}" for c in containers] + [
                f"tag {t}" for t in tags
            ]
            return report
        try:
            labelled = _quietly(_labelled, client, self.run_id) or []
            if self._build_parent is not None:
                parent, since = self._build_parent
                labelled += _quietly(_steps_since(since), client, parent) or []
            for container in dict.fromkeys(containers + labelled):
                if time.monotonic() > deadline:
                    report.failed.append(
                        f"container {container} (cleanup took too long; docker rm -f {container})"
                    )
                    continue
                removed = _quietly(_remove_container, client, container)
                if removed is None:
                    report.failed.append(f"container {container} (docker rm -f {container})")
                elif removed:
                    report.removed.append(f"container {_display(container, containers)}")
            for ref in tags:
                outcome = _quietly(_untag, client, ref)
                if outcome is None:
                    report.failed.append(f"tag {ref} (docker rmi {ref})")
                elif outcome:
                    report.removed.append(f"tag {ref}")
        finally:
            client.close()
        self._kept.update(containers + tags)
        self._build_parent = None
        return report

    def _client(self) -> Engine:
        if self._connect is not None:
            return self._connect(CLEANUP_CALL_TIMEOUT)
        from builder.engine.docker_engine import connect

        return connect(CLEANUP_CALL_TIMEOUT)

    @contextmanager
    def cleaned_up(self) -> Iterator[Resources]:
        """Run a command body; on any failure or interrupt remove what it created.

        The cleanup runs shielded (a second Ctrl-C does not cut it short) and its report is
        attached to the Interrupted exception, so the CLI can say what was actually removed.
        """
        try:
            yield self
        except BaseException as exc:
            with interrupts.shielded():
                report = self.cleanup()
            if isinstance(exc, Interrupted):
                exc.cleanup = report
            elif isinstance(exc, DlenvError) and (report.removed or report.failed or report.unreachable):
                exc.hint = ((exc.hint + "\n") if exc.hint else "") + f"Cleanup: {report.summary()}."
            raise
        else:
            with interrupts.shielded():
                self.cleanup()
            interrupts.check()


def _quietly(action: Callable[[Engine, str], T], client: Engine, item: str) -> T | None:
    """Run one bounded cleanup call; None when the engine failed to do it."""
    try:
        return action(client, item)
    except Exception:  # cleanup reports, it never raises
        return None


def _labelled(client: Engine, run_id: str) -> list[str]:
    return [c.id for c in client.containers(names.LABEL_RUN_ID, run_id)]


def _steps_since(since: float) -> Callable[[Engine, str], list[str]]:
    return lambda client, parent: client.containers_from(parent, created_since=since)


def _remove_container(client: Engine, container: str) -> bool:
    return client.remove_container(container)


def _untag(client: Engine, ref: str) -> bool:
    return client.remove_image(ref)


def _display(container: str, named: list[str]) -> str:
    # Label matches and build steps are IDs; show 12 characters as docker does.
    if container in named and not all(c in "0123456789abcdef" for c in container):
        return container
    return container[:12]
