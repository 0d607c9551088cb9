"""`dlenv matrix`: what the compatibility matrix knows, with sources; `matrix refresh` renews it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from builder.cli.common import JsonOpt, app, err, guarded, out

if TYPE_CHECKING:
    from builder.facts.matrix import Accelerator, Matrix
    from builder.facts.registry import Registry

matrix_app = typer.Typer(
    help="Print the compatibility matrix, with the source and date of every row.",
    invoke_without_command=True,
    rich_markup_mode=None,
)
app.add_typer(matrix_app, name="matrix")

_ACCELERATORS: tuple[Accelerator, ...] = ("cpu", "cuda", "rocm")


def framework_rows(matrix: Matrix, registry: Registry, name: str) -> list[dict[str, Any]]:
    """Each release of a framework with its Pythons and its builds per accelerator."""
    from packaging.version import Version

    from builder.resolve.builds import builds_of

    fw = matrix.frameworks[name]
    rows = []
    for release in registry.releases(fw.package):
        if release.version < Version(fw.since):
            continue
        builds: dict[str, list[dict[str, Any]]] = {}
        for acc in _ACCELERATORS:
            if acc not in fw.accelerators:
                continue
            builds[acc] = [
                {
                    "variant": b.variant,
                    "requirements": list(b.requirements),
                    "index": b.index,
                    "find_links": b.find_links,
                    "toolkit": b.describe_toolkit() or None,
                    "confidence": b.confidence,
                    "source": b.source,
                }
                for b in builds_of(matrix, registry, name, release, acc)
            ]
        rows.append(
            {
                "version": str(release.version),
                "python": release.python_versions(),
                "requires_python": str(release.requires_python or ""),
                "yanked": release.yanked,
                "uploaded": release.uploaded,
                "builds": builds,
            }
        )
    return rows


@matrix_app.callback()
@guarded
def matrix(
    ctx: typer.Context,
    json_out: JsonOpt = False,
    gpu: Annotated[
        str | None,
        typer.Option(
            "--gpu", help="Only what runs on this GPU: an id (rtx-5090, h100) or a compute capability."
        ),
    ] = None,
) -> None:
    """Print the compatibility matrix, with the source and date of every row."""
    if ctx.invoked_subcommand is not None:
        return
    if gpu is not None:
        _print_gpu(gpu, json_out)
        return
    from builder.facts.matrix import load_matrix
    from builder.facts.registry import load_registry

    m, registry = load_matrix(), load_registry()
    frameworks = {name: framework_rows(m, registry, name) for name in m.frameworks}
    if json_out:
        data = {
            "curated": json.loads(m.model_dump_json(by_alias=True)),
            "registry": {"index": registry.index, "as_of": registry.as_of},
            "frameworks": frameworks,
        }
        out.print_json(json.dumps(data))
        return
    _print_tables(m, registry, frameworks)


def _print_tables(m: Matrix, registry: Registry, frameworks: dict[str, list[dict[str, Any]]]) -> None:
    from rich.table import Table

    out.print(
        f"dlenv compatibility matrix: curated rows updated {m.updated}, registry data as of "
        f"{registry.as_of} ({registry.index}); confidence V verified, S secondary, U unverified"
    )
    cuda = Table("cuda", "tag", "min driver", "os", "source", "date", "conf", title="CUDA")
    for c in m.cuda:
        cuda.add_row(c.version, c.tag, c.driver, " ".join(c.os), c.source, c.date, c.confidence)
    out.print(cuda)
    rocm = Table("rocm", "tag", "os", "gfx", "source", "date", "conf", title="ROCm")
    for r in m.rocm:
        rocm.add_row(r.version, r.tag, " ".join(r.os), " ".join(r.gfx), r.source, r.date, r.confidence)
    out.print(rocm)
    for name, rows in frameworks.items():
        fw = m.frameworks[name]
        table = Table(
            "version",
            "python",
            "cpu",
            "cuda",
            "rocm",
            title=f"{name} ({fw.package} on PyPI)" + (" (retired)" if fw.retired else ""),
        )
        for row in rows:
            cells = [
                ", ".join(sorted({_short(b) for b in row["builds"].get(acc, [])})) or "-"
                for acc in _ACCELERATORS
            ]
            version = row["version"] + (" (yanked)" if row["yanked"] else "")
            table.add_row(version, " ".join(row["python"]), *cells)
        out.print(table)
    out.print("sources:")
    for key, text in m.sources.items():
        out.print(f"  {key}: {text}")


def _print_gpu(name: str, json_out: bool) -> None:
    """Per framework, the releases and CUDA lines whose wheels carry kernels for a GPU."""
    from rich.table import Table

    from builder.facts.gpus import load_gpu_facts, sm
    from builder.resolve.gpus import gpus_of

    (gpu,) = gpus_of([name])
    facts = load_gpu_facts()
    rows = [
        {
            "framework": a.framework,
            "releases": a.releases,
            "cuda": a.cuda,
            "platform": a.platform,
            "runs": runs,
            "confidence": a.confidence,
            "source": a.source,
        }
        for a in facts.architectures
        if (runs := a.runs(gpu)) is not None
    ]
    about = {"id": gpu.id, "name": gpu.label, "compute_capability": gpu.cc, "arch": gpu.arch}
    if json_out:
        frameworks: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            frameworks.setdefault(str(row["framework"]), []).append(row)
        out.print_json(json.dumps({"gpu": about, "frameworks": frameworks}))
        return
    table = Table("framework", "releases", "CUDA", "platform", "kernels", "conf", title=gpu.label)
    for row in rows:
        kernels = sm(gpu.cc) + " SASS" if row["runs"] == "sass" else "PTX (compiled by the driver)"
        cuda = str(row["cuda"] or "any CUDA build")
        table.add_row(
            *(str(v) for v in (row["framework"], row["releases"], cuda, row["platform"])),
            kernels,
            str(row["confidence"]),
        )
    out.print(table)
    if not rows:
        out.print(f"no framework build on record carries kernels for {gpu.label}")


def _short(build: dict[str, Any]) -> str:
    conf = "" if build["confidence"] == "V" else f" [{build['confidence']}]"
    toolkit = f" ({build['toolkit']})" if build["toolkit"] else ""
    return f"{build['variant']}{toolkit}{conf}"


@matrix_app.command("refresh")
@guarded
def refresh(
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", help="Write here instead of the packaged builder/facts/registry.json."
        ),
    ] = None,
    index_url: Annotated[
        str | None, typer.Option("--index-url", help="A PEP 691 simple index (default: the matrix's, PyPI).")
    ] = None,
) -> None:
    """Maintainers: regenerate the registry-derived data from the package index."""
    from builder import paths
    from builder.facts.matrix import load_matrix
    from builder.facts.pypi import HttpFetcher
    from builder.facts.pytorch_releases import load_pytorch_releases
    from builder.facts.refresh import ScopeEntry, dumps, untracked_members
    from builder.facts.refresh import refresh as run_refresh

    m = load_matrix()
    index = index_url or m.registry.index
    scope = {name: ScopeEntry(p.framework, p.since) for name, p in m.registry.packages.items()}
    # The vendor builds' curated pins name CUDA libraries (and extras) PyPI's wheels may not.
    curated = [r for pins in load_pytorch_releases().variant_pins for r in pins.requires]
    data = run_refresh(
        HttpFetcher(index),
        scope,
        index_url=index,
        progress=lambda text: err.print(f"  {text}"),
        extra_requirements=curated,
    )
    fetcher_for_names = HttpFetcher(index)
    untracked = untracked_members(fetcher_for_names.project_names(), scope, m.registry.families)
    target = output or paths.registry_file()
    text = dumps(data)
    changed = not target.is_file() or target.read_text(encoding="utf-8") != text
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)  # atomic: a reader never sees half a file
    releases = sum(len(v) for v in data["packages"].values())
    err.print(
        f"{'updated' if changed else 'unchanged'}: {releases} releases of "
        f"{len(data['packages'])} packages, {len(data['dependencies'])} shared dependencies, "
        f"as of {data['as_of']}"
    )
    if untracked:
        err.print(
            "not tracked, though of a known family (add them to matrix.yaml's registry.packages "
            f"if dlenv should build with them): {', '.join(untracked)}"
        )
    out.print(str(target))
