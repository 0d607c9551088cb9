"""Run a container to its end through any Engine: start it, wait in short polls, collect, remove.

The smoke test, `verify` and doctor's probe all run a short-lived container this way. The
container is named (and registered with the run's Resources by the caller) before it is
created, so Ctrl-C at any moment leaves nothing; the waiting is a poll of short calls, so no
engine call on this path blocks for long.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from builder.engine import interrupts
from builder.engine.protocol import Engine, RunRequest

POLL_SECONDS = 2.0


@dataclass(frozen=True)
class Finished:
    exit_code: int
    stdout: str
    stderr: str


class TimedOut(Exception):
    """The container did not finish in time (the caller says what that means)."""


def wait_for_exit(engine: Engine, container: str, timeout: float, poll: float = POLL_SECONDS) -> int:
    """The container's exit code, polling its state; TimedOut after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        info = engine.container(container)
        if info is None:
            return 137  # removed under us (a cleanup of another run): as if killed
        if info.status in ("exited", "dead"):
            return info.exit_code if info.exit_code is not None else 1
        if time.monotonic() > deadline:
            raise TimedOut(container)
        time.sleep(poll)


def run_to_end(engine: Engine, request: RunRequest, timeout: float, poll: float = POLL_SECONDS) -> Finished:
    """Start the container, wait for it, return its exit code and output, and remove it.

    After a signal the removal is left to the caller's cleanup (a fresh connection): this one
    may be stuck in the middle of a request.
    """
    try:
        engine.run(request)
        code = wait_for_exit(engine, request.name, timeout, poll)
        out, err = engine.logs(request.name)
        return Finished(code, out.decode(errors="replace"), err.decode(errors="replace"))
    finally:
        if not interrupts.signals_seen():
            try:
                engine.remove_container(request.name)
            except Exception:  # the caller's Resources.cleanup() retries it
                pass
