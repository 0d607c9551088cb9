"""`dlenv dev`: dev containers from a profile (up, down, ls, vscode)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from builder.cli.common import (
    InputsOpt,
    JsonOpt,
    ProfileArg,
    Progress,
    ProgressOpt,
    app,
    check_inputs,
    err,
    guarded,
    load,
    out,
    resolve_ref,
)
from builder.errors import CheckFailed, UsageError

if TYPE_CHECKING:
    from docker.models.containers import Container

    from builder.dev.container import PortMapping
    from builder.spec import BuildSpec

dev_app = typer.Typer(
    help="Dev containers from a profile: up, down, ls, vscode.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(dev_app, name="dev")


def _require_gpu_host(spec: BuildSpec) -> None:
    """A GPU profile on a host whose GPU is not ready: stop before building (doctor's checks)."""
    from builder.host import doctor

    if spec.accelerator == "cpu":
        return
    diagnosis = doctor.diagnose(spec, facts=doctor.gather_facts(include_engine=False))
    blockers = [c for c in diagnosis.checks if c.status == "fail"]
    if blockers:
        vendor = "an NVIDIA" if spec.accelerator == "cuda" else "an AMD"
        lines = "\n".join(f"  {c.name}: {c.detail}" + (f" (fix: {c.fix})" if c.fix else "") for c in blockers)
        raise CheckFailed(
            f"{spec.profile} needs {vendor} GPU, and this host is not ready for it:\n{lines}",
            hint=f"`dlenv doctor --profile {spec.profile}` shows every check; "
            "--allow-cpu starts the container without GPU access.",
        )


def _port_mappings(
    ports: list[str], jupyter: bool, jupyter_host: str, jupyter_port: int
) -> list[PortMapping]:
    from builder.dev import container as devenv

    mappings = [devenv.parse_port(p) for p in ports]
    if jupyter:
        mappings.insert(0, devenv.PortMapping(jupyter_host, jupyter_port, devenv.JUPYTER_PORT))
    return mappings


def _reuse_conflicts(container: Container, folder: Path, images: set[str], jupyter: bool) -> list[str]:
    """How the existing dev container differs from what this `dev up` asks for (a reattach need
    not repeat --jupyter or the ports)."""
    from builder import names

    labels = container.labels or {}
    conflicts = []
    if labels.get(names.LABEL_WORKSPACE) != str(folder):
        conflicts.append(f"its workspace is {labels.get(names.LABEL_WORKSPACE, '?')}, not {folder}")
    running = str(container.attrs.get("Config", {}).get("Image", ""))
    if running not in images:
        wanted = " or ".join(sorted(images))
        conflicts.append(f"it runs {running}, not {wanted} (the profile or the UID changed)")
    if jupyter and names.LABEL_JUPYTER_URL not in labels:
        conflicts.append("it runs without JupyterLab")
    return conflicts


def _reuse(container: Container) -> None:
    from builder import names
    from builder.engine import docker_engine as engine

    if container.status != "running":
        with engine.answering(f"starting {container.name}"):
            container.start()
    err.print(f"reusing {container.name} ({container.status}); attach: docker exec -it {container.name} bash")
    url = (container.labels or {}).get(names.LABEL_JUPYTER_URL)
    if url:
        err.print(f"JupyterLab: {url}")


@dev_app.command("up")
@guarded
def dev_up(
    profile: ProfileArg,
    workspace: Annotated[
        Path, typer.Option("--workspace", "-w", help="Directory mounted at /workspace.")
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
    from builder import names, pipeline
    from builder.dev import container as devenv
    from builder.engine import docker_engine as engine
    from builder.engine.resources import Resources
    from builder.inputs.prepare import BuildOptions
    from builder.render import runopts
    from builder.resolve.decide import resolve

    show = Progress(progress)
    check_inputs(inputs)
    prof, path = load(profile)
    folder = devenv.ensure_workspace(workspace)
    dev_uid, dev_gid = devenv.dev_ids(prof, uid, gid)
    mappings = _port_mappings(port or [], jupyter, jupyter_host, jupyter_port)
    spec = resolve(devenv.dev_profile(prof, dev_uid, dev_gid, jupyter))
    if not allow_cpu:
        _require_gpu_host(spec)
    client = engine.connect()
    name = names.dev_container(spec.profile)
    existing = engine.find_container(client, name)
    if existing is not None and recreate:
        engine.stop_and_remove(existing)
        existing = None
    image = names.dev_image(spec.profile, spec.digest)
    if existing is not None:
        # The image with JupyterLab serves a reattach without --jupyter too.
        with_jupyter = resolve(devenv.dev_profile(prof, dev_uid, dev_gid, True))
        images = {image, names.dev_image(with_jupyter.profile, with_jupyter.digest)}
        conflicts = _reuse_conflicts(existing, folder, images, jupyter)
        if conflicts:
            raise UsageError(
                f"a dev container {name} already exists, but " + "; ".join(conflicts) + ".",
                hint=f"Replace it: dlenv dev up {profile} --recreate (the workspace is untouched), "
                f"or stop it: dlenv dev down {profile}",
            )
        _reuse(existing)
        out.print(name)
        return
    for mapping in mappings:
        devenv.ensure_port_free(mapping)
    with Resources().cleaned_up() as resources:
        if not engine.image_exists(client, image):
            with show.live():
                pipeline.build_image(
                    client,
                    spec,
                    BuildOptions(pip_from_host=pip_from_host, inputs=inputs),
                    profile_dir=path.parent,
                    tags=[image],
                    resources=resources,
                    emit=show,
                )
        token = devenv.new_token() if jupyter else ""
        url = devenv.jupyter_url(jupyter_host, jupyter_port, token) if jupyter else None
        labels = {
            **resources.labels,
            names.LABEL_DEV: "1",
            names.LABEL_PROFILE: spec.profile,
            names.LABEL_WORKSPACE: str(folder),
        }
        if url:
            labels[names.LABEL_JUPYTER_URL] = url
            if jupyter_host not in ("127.0.0.1", "localhost", "::1"):
                err.print(
                    f"[yellow]warning:[/] JupyterLab listens on {jupyter_host}: anyone who "
                    "reaches this host and has the token can run code as you"
                )
        resources.container(name)
        container = engine.run_detached(
            client,
            image=image,
            name=name,
            labels=labels,
            command=devenv.jupyter_command(token) if jupyter else devenv.IDLE_COMMAND,
            volumes={str(folder): {"bind": devenv.WORKSPACE, "mode": "rw"}},
            working_dir=devenv.WORKSPACE,
            ports=dict(m.docker for m in mappings),
            **runopts.sdk_kwargs(spec.runtime, devices=not allow_cpu),
        )
        if url:
            if not devenv.wait_for_jupyter(url, container):
                err.print("[yellow]warning:[/] JupyterLab did not answer yet; it may still be starting")
            err.print(f"JupyterLab: {url}")
        resources.keep(name)
    err.print(
        f"started {name} (uid {dev_uid}, gid {dev_gid}) with {folder} at /workspace; "
        f"attach: docker exec -it {name} bash; stop: dlenv dev down {profile}"
    )
    out.print(name)
    if not detach and sys.stdin.isatty() and shutil.which("docker"):
        os.execvp("docker", ["docker", "exec", "-it", name, "bash"])


@dev_app.command("down")
@guarded
def dev_down(profile: ProfileArg) -> None:
    """Stop and remove a profile's dev container (the workspace is untouched)."""
    from builder import names
    from builder.engine import docker_engine as engine

    client = engine.connect()
    if profile.startswith("dlenv-dev-"):
        name = profile
    else:
        name = names.dev_container(Path(profile).stem if profile.endswith((".yaml", ".yml")) else profile)
    container = engine.find_container(client, name)
    if container is None or names.LABEL_DEV not in (container.labels or {}):
        err.print(f"no dev container {name}")
        return
    with engine.answering(f"removing {name}"):
        engine.stop_and_remove(container)
    err.print(f"removed {name}")
    out.print(name)


@dev_app.command("ls")
@guarded
def dev_ls(json_out: JsonOpt = False) -> None:
    """List dlenv's dev containers."""
    from builder import names
    from builder.engine import docker_engine as engine

    client = engine.connect()
    rows = []
    for c in engine.list_containers(client, names.LABEL_DEV):
        labels = c.labels or {}
        rows.append(
            {
                "name": c.name,
                "profile": labels.get(names.LABEL_PROFILE),
                "status": c.status,
                "image": (c.image.tags or [c.image.short_id])[0] if c.image else None,
                "workspace": labels.get(names.LABEL_WORKSPACE),
                "jupyter": labels.get(names.LABEL_JUPYTER_URL),
            }
        )
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
    from builder.dev import container as devenv

    spec, _ = resolve_ref(profile)
    files = devenv.vscode_files(spec)
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
