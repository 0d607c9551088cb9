"""`dlenv matrix`: what the compatibility matrix knows, with sources."""

from __future__ import annotations

from typing import Any

import typer

from builder.cli.common import JsonOpt, app, guarded, out

matrix_app = typer.Typer(help="Print the compatibility matrix, with the source and date of every row.",
                         invoke_without_command=True, rich_markup_mode=None)
app.add_typer(matrix_app, name="matrix")


@matrix_app.callback()
@guarded
def matrix(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Print the compatibility matrix, with the source and date of every row."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.table import Table

    from builder.matrix import load_matrix

    m = load_matrix()
    if json_out:
        out.print_json(m.model_dump_json(by_alias=True))
        return
    out.print(f"dlenv compatibility matrix (updated {m.updated}); confidence V verified, "
              "S secondary, U unverified")
    cuda = Table("cuda", "tag", "min driver", "os", "source", "date", "conf", title="CUDA")
    for c in m.cuda:
        cuda.add_row(c.version, c.tag, c.driver, " ".join(c.os), c.source, c.date, c.confidence)
    out.print(cuda)
    rocm = Table("rocm", "tag", "os", "gfx", "source", "date", "conf", title="ROCm")
    for r in m.rocm:
        rocm.add_row(r.version, r.tag, " ".join(r.os), " ".join(r.gfx), r.source, r.date,
                     r.confidence)
    out.print(rocm)
    for name, fw in m.frameworks.items():
        table = Table("version", "python", "cpu", "cuda", "rocm", "source", "date", "conf",
                      title=name + (" (retired)" if fw.retired else ""))
        for rel in fw.newest_first():
            table.add_row(rel.version, rel.python, rel.cpu or "-", _kits(rel.cuda),
                          _kits(rel.rocm), rel.source, rel.date, rel.confidence)
        out.print(table)
    out.print("sources:")
    for key, text in m.sources.items():
        out.print(f"  {key}: {text}")


def _kits(table: Any) -> str:
    return table if isinstance(table, str) else " ".join(table) or "-"
