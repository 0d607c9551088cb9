"""`dlenv dev`: dev containers from a profile (up, down, ls, vscode)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer

from builder.cli.common import (
    InputsOpt,
    JsonOpt,
    ProfileArg,
    Progress,
    ProgressOpt,
    app,
    check_inputs,
    engine_opener,
    err,
    guarded,
    load,
    open_engine,
    out,
    resolve_ref,
    styled,
)
from builder.errors import UsageError
from builder.image_paths import WORKSPACE

dev_app = typer.Typer(
    help="Dev containers from a profile: up, down, ls, vscode.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(dev_app, name="dev")


@dev_app.command("up")
@guarded
def dev_up(
    profile: ProfileArg,
    workspace: Annotated[
        Path, typer.Option("--workspace", "-w", help=f"Directory mounted at {WORKSPACE}.")
    ] = Path("."),
    jupyter: Annotated[
        bool, typer.Option("--jupyter", help="Run JupyterLab (token, 127.0.0.1 only).")
    ] = False,
    jupyter_port: Annotated[int, typer.Option("--jupyter-port", help="Host port for JupyterLab.")] = 8888,
    jupyter_host: Annotated[
        str,
        typer.Option(
            "--jupyter-host", help="Host address JupyterLab binds to; 0.0.0.0 exposes it to the network."
        ),
    ] = "127.0.0.1",
    port: Annotated[
        list[str] | None,
        typer.Option("--port", "-p", help="Extra port: PORT, HOST:CONTAINER or IP:HOST:CONTAINER."),
    ] = None,
    uid: Annotated[int | None, typer.Option("--uid", help="User ID inside (default: yours).")] = None,
    gid: Annotated[int | None, typer.Option("--gid", help="Group ID inside (default: yours).")] = None,
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Do not open a shell.")] = False,
    recreate: Annotated[
        bool, typer.Option("--recreate", help="Replace an existing dev container of this profile.")
    ] = False,
    allow_cpu: Annotated[
        bool, typer.Option("--allow-cpu", help="Start a GPU profile on a host without its GPU.")
    ] = False,
    pip_from_host: Annotated[
        bool,
        typer.Option("--pip-from-host", help="Forward the host's pip settings if the image must be built."),
    ] = False,
    inputs: InputsOpt = "auto",
    progress: ProgressOpt = "auto",
) -> None:
    """Start (or reuse) a dev container; prints its name on stdout."""
    from builder.dev.up import DevRequest
    from builder.dev.up import dev_up as start_dev
    from builder.engine.resources import Resources
    from builder.inputs.prepare import BuildOptions

    show = Progress(progress)
    check_inputs(inputs)
    prof, path = load(profile)
    request = DevRequest(
        profile=prof,
        profile_dir=path.parent,
        ref=profile,
        workspace=workspace,
        jupyter=jupyter,
        jupyter_host=jupyter_host,
        jupyter_port=jupyter_port,
        ports=tuple(port or ()),
        uid=uid,
        gid=gid,
        recreate=recreate,
        allow_cpu=allow_cpu,
        build=BuildOptions(pip_from_host=pip_from_host, inputs=inputs),
    )
    engine = open_engine()
    with Resources(engine_opener()).cleaned_up() as resources, show.live():
        result = start_dev(engine, request, resources=resources, emit=show)
    for warning in result.warnings:
        err.print(styled(("warning:", "yellow"), " ", warning))
    name = result.name
    if result.reused:
        err.print(f"reusing {name} ({result.status}); attach: docker exec -it {name} bash")
    else:
        err.print(
            f"started {name} (uid {result.uid}, gid {result.gid}) with {result.workspace} at "
            f"{WORKSPACE}; attach: docker exec -it {name} bash; stop: dlenv dev down {profile}"
        )
    if result.jupyter_url:
        if not result.jupyter_ready:
            err.print(
                styled(("warning:", "yellow"), " JupyterLab did not answer yet; it may still be starting")
            )
        err.print(f"JupyterLab: {result.jupyter_url}")
    out.print(name)
    if not result.reused and not detach and sys.stdin.isatty() and shutil.which("docker"):
        os.execvp("docker", ["docker", "exec", "-it", name, "bash"])


@dev_app.command("down")
@guarded
def dev_down(profile: ProfileArg) -> None:
    """Stop and remove a profile's dev container (the workspace is untouched)."""
    from builder.dev.up import dev_container_name, dev_down

    removed = dev_down(open_engine(), profile)
    if removed is None:
        err.print(f"no dev container {dev_container_name(profile)}")
        return
    err.print(f"removed {removed}")
    out.print(removed)


@dev_app.command("ls")
@guarded
def dev_ls(json_out: JsonOpt = False) -> None:
    """List dlenv's dev containers."""
    from builder.dev.up import dev_list

    rows = dev_list(open_engine())
    if json_out:
        out.print_json(json.dumps(rows))
        return
    from rich.table import Table

    table = Table("name", "profile", "status", "workspace", "jupyter")
    for row in rows:
        table.add_row(*(str(row[k] or "") for k in ("name", "profile", "status", "workspace", "jupyter")))
    out.print(table)


@dev_app.command("vscode")
@guarded
def dev_vscode(
    profile: ProfileArg,
    directory: Annotated[Path, typer.Option("--dir", help="Where to write.")] = Path(".devcontainer"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that differ.")] = False,
) -> None:
    """Write a VS Code dev container definition (devcontainer.json + Dockerfile) for a profile."""
    from builder.dev.vscode import vscode_files

    spec, _ = resolve_ref(profile)
    files = vscode_files(spec)
    clashes = [
        rel
        for rel, data in files.items()
        if (directory / rel).is_file() and (directory / rel).read_bytes() != data
    ]
    if clashes and not force:
        raise UsageError(
            f"{directory} already has different " + ", ".join(clashes) + "; pass --force to overwrite"
        )
    for rel, data in files.items():
        target = directory / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        if rel.endswith("dlenv-smoke"):
            target.chmod(0o755)
    out.print(str(directory / "devcontainer.json"))
