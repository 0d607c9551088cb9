"""The `dlenv` console script: Ctrl-C and SIGTERM handling comes first, then the CLI loads.

Installing the handler before importing the CLI (Typer, Rich, pydantic) closes the window in
which a signal would kill the process with a traceback; nothing can have been created then.
"""

from __future__ import annotations

import os
import signal
import sys


def _answer_from_memo(argv: list[str]) -> bool:
    """`dlenv render|validate PROFILE` answered from the memo, before any heavy import."""
    if len(argv) != 2 or argv[1].startswith("-"):
        return False
    from builder.render import memo as answermemo

    hit = answermemo.lookup(argv[0], argv[1])
    if hit is None:
        return False
    stdout, warnings = hit
    try:
        for warning in warnings:
            sys.stderr.write(f"warning: {warning}\n")
        sys.stdout.write(stdout)
        sys.stdout.flush()
    except BrokenPipeError:  # `dlenv render x | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return True


def main() -> None:
    # dlenv uses no pydantic plugins; looking for them scans every installed distribution.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    from builder.engine import interrupts

    interrupts.install()
    try:
        if _answer_from_memo(sys.argv[1:]):
            return
        from builder.cli.app import app

        app()
    except KeyboardInterrupt:  # while the command line was still being read
        sys.stderr.write("interrupted (SIGINT): nothing had been created yet\n")
        sys.exit(130)
    finally:
        # The command is over; Python restores the default handlers while it shuts down, and a
        # signal then would kill the process with nothing left to clean up. Ignore it instead.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
