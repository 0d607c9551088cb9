"""The `dlenv` command line: parse options, call the core, render events, map errors to exit codes.

Each command module registers its commands on the shared app (builder.cli.common.app) and
imports what it needs inside the command, so `dlenv --help` and `render` start fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from builder.cli import (  # noqa: F401 - each module registers its commands
    build_cmds,
    dev_cmds,
    doctor_cmd,
    inspect_cmds,
    lock_cmds,
    matrix_cmds,
)
from builder.cli.common import app, out, take_deps

__all__ = ["app"]


def _version(value: bool) -> None:
    if value:
        from builder import __version__

        out.print(f"dlenv {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """dlenv command line."""
    take_deps(ctx.obj)
