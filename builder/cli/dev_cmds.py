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
    CaBundleOpt,
    InputsOpt,
    JsonOpt,
    PipFromHostOpt,
    ProfileArg,
    Progress,
    ProgressOpt,
    app,
    check_ca_bundle,
    check_inputs,
    engine_opener,
    err,
    guarded,
    load,
    open_engine,
    out,
    styled,
    warn,
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
    image: Annotated[
        bool,
        typer.Option(
            "--image",
            help="Build (or reuse) the dev image `dlenv dev up` runs and name it by ID in the "
            "definition (this engine only); default: a definition that builds its own image.",
        ),
    ] = False,
    uid: Annotated[
        int | None, typer.Option("--uid", help="With --image: user ID inside (default: yours).")
    ] = None,
    gid: Annotated[int | None, typer.Option("--gid", help="With --image: group ID inside.")] = None,
    ca_bundle: CaBundleOpt = None,
    pip_from_host: PipFromHostOpt = False,
    inputs: InputsOpt = "auto",
    locked: Annotated[
        bool | None,
        typer.Option(
            "--locked/--unlocked",
            help="Build from the lock, hash-checked (default: when the profile's lock exists).",
        ),
    ] = None,
    lock_file: Annotated[
        Path | None, typer.Option("--lock", help="The lock file (default <profile>.dlenv.lock).")
    ] = None,
    progress: ProgressOpt = "auto",
) -> None:
    """Write a VS Code dev container definition (.devcontainer/devcontainer.json) for a profile."""
    from builder.dev import vscode
    from builder.inputs.prepare import BuildOptions
    from builder.resolve.decide import resolve

    show = Progress(progress)
    check_ca_bundle(ca_bundle)
    check_inputs(inputs)
    if not image and (uid is not None or gid is not None or inputs == "served"):
        raise UsageError(
            "--uid, --gid and --inputs served go with --image (a definition that builds its own "
            "image stages its inputs and takes your UID when it starts)"
        )
    prof, path = load(profile)
    spec = resolve(prof)
    warn(spec)
    lock = vscode.lock_for(profile, spec, locked, lock_file)
    options = BuildOptions(ca_bundle=ca_bundle, pip_from_host=pip_from_host, inputs=inputs)
    if image:
        from builder.engine.resources import Resources

        request = vscode.ImageRequest(prof, path.parent, options, uid, gid, lock)
        engine = open_engine()
        with Resources(engine_opener()).cleaned_up() as resources, show.live():
            definition = vscode.image_definition(engine, request, resources=resources, emit=show)
    else:
        definition = vscode.build_definition(spec, options, path.parent, lock)
    clashes = vscode.clashes(directory, definition)
    if clashes and not force:
        raise UsageError(
            f"{directory} already has different " + ", ".join(clashes) + "; pass --force to overwrite"
        )
    for note in definition.notes:
        err.print(f"note: {note}")
    out.print(str(vscode.write(directory, definition)))
