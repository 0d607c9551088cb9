"""Ctrl-C and SIGTERM: stop at once, clean up without being cut short, force-exit on the third.

The CLI installs the handler before it parses the command line, so it is in place before the
first engine call. The first signal raises `Interrupted` wherever the main thread is; code that
created engine objects removes them inside `shielded()`, where a second signal only says
"still cleaning up" and a third exits at once (saying that something may be left).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from builder.errors import Interrupted

_signals_seen = 0
_shield_depth = 0
_finished = False
_on_force: Callable[[], None] = lambda: None  # noqa: E731 - set by install()


def _say(text: str) -> None:
    # Inside a signal handler: an unbuffered write to the terminal, nothing that takes locks.
    try:
        os.write(2, text.encode())
    except OSError:
        pass


def _handler(signum: int, _frame: FrameType | None) -> None:
    global _signals_seen
    if _finished:
        return  # the command is done and the process on its way out: nothing left to stop
    _signals_seen += 1
    if _signals_seen == 1 and _shield_depth == 0:
        raise Interrupted(signal.Signals(signum).name)
    if _signals_seen >= 3:
        _on_force()
        _say(
            "\nforced exit: what this command created may be left behind "
            "(docker ps -a --filter label=io.dlenv.run-id)\n"
        )
        os._exit(130)
    _say("\nstill cleaning up; press Ctrl-C once more to exit at once\n")


def install(on_force: Callable[[], None] | None = None) -> None:
    """Route SIGINT and SIGTERM through dlenv's handler (main thread only)."""
    global _on_force, _signals_seen, _finished
    _signals_seen = 0
    _finished = False
    if on_force is not None:
        _on_force = on_force
    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)


def finished() -> None:
    """The command's work is over (its result printed): a late signal no longer interrupts."""
    global _finished
    _finished = True


def signals_seen() -> int:
    return _signals_seen


@contextmanager
def shielded() -> Iterator[None]:
    """Run cleanup that a further signal must not cut short."""
    global _shield_depth
    _shield_depth += 1
    try:
        yield
    finally:
        _shield_depth -= 1


@contextmanager
def signals_to_main_thread() -> Iterator[None]:
    """Threads started in this block never take SIGINT/SIGTERM (they inherit the blocked mask).

    The kernel hands a process signal to any thread that does not block it; if a helper thread
    (a progress spinner) takes it, the main thread stays blocked in its engine call and Ctrl-C
    seems ignored. Blocking the signals while such a thread starts keeps them for the main one.
    """
    blocked = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def check() -> None:
    """Raise Interrupted if a signal arrived while shielded (the work must not go on)."""
    if _signals_seen and _shield_depth == 0:
        raise Interrupted()
