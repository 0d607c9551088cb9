"""The `dlenv` console script: Ctrl-C and SIGTERM handling comes first, then the CLI loads.

Installing the handler before importing the CLI (Typer, Rich, pydantic) closes the window in
which a signal would kill the process with a traceback; nothing can have been created then.
"""

from __future__ import annotations

import signal
import sys


def main() -> None:
    from builder import interrupts

    interrupts.install()
    try:
        from builder.cli import app

        app()
    except KeyboardInterrupt:  # while the command line was still being read
        sys.stderr.write("interrupted (SIGINT): nothing had been created yet\n")
        sys.exit(130)
    finally:
        # The command is over; Python restores the default handlers while it shuts down, and a
        # signal then would kill the process with nothing left to clean up. Ignore it instead.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
