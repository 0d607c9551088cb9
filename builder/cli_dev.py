"""`dlenv dev`: dev containers from a profile (up, down, ls, vscode)."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from builder.cli_support import (
    JsonOpt,
    ProfileArg,
    build_image,
    check_progress,
    err,
    out,
    resolve_ref,
    run_guarded,
)
from builder.errors import ProfileError, SmokeFailed

dev_app = typer.Typer(help="Dev containers from a profile: up, down, ls, vscode.",
                      no_args_is_help=True, rich_markup_mode=None)

def _require_gpu_host(spec: Any) -> None:
    """GPU requested on a host without one: say so before building anything."""
    from builder import hostprobe
    from builder.errors import CheckFailed

    if spec.accelerator == "cuda":
        report = hostprobe.collect_nvidia()
        if report is None or report.error:
            why = "nvidia-smi is not installed" if report is None else report.error
            raise CheckFailed(f"{spec.profile} needs an NVIDIA GPU, but this host has none usable "
                              f"({why}).", hint=f"Run `dlenv doctor --profile {spec.profile}`; "
                              "--allow-cpu starts the container without GPU access.")
    if spec.accelerator == "rocm" and not os.path.exists("/dev/kfd"):
        raise CheckFailed(f"{spec.profile} needs an AMD GPU, but /dev/kfd is missing.",
                          hint=f"Run `dlenv doctor --profile {spec.profile}`; --allow-cpu starts "
                          "the container without GPU access.")


def _jupyter_url(host_ip: str, port: int, token: str) -> str:
    host = "127.0.0.1" if host_ip in ("0.0.0.0", "") else host_ip
    return f"http://{host}:{port}/lab?token={token}"


def _wait_for_jupyter(url: str, container: Any, timeout: float = 180) -> None:
    import urllib.error
    import urllib.request

    status_url = url.replace("/lab?", "/api/status?")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        container.reload()
        if container.status != "running":
            logs = container.logs(tail=15).decode(errors="replace")
            raise SmokeFailed(f"JupyterLab in {container.name} exited:\n{logs}")
        try:
            with urllib.request.urlopen(status_url, timeout=3) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(1)
    err.print(f"[yellow]warning:[/] JupyterLab did not answer within {timeout:.0f}s")


@dev_app.command("up")
def dev_up(
    profile: ProfileArg,
    workspace: Annotated[Path, typer.Option("--workspace", "-w", help="Directory mounted at "
                                            "/workspace.")] = Path("."),
    jupyter: Annotated[bool, typer.Option("--jupyter", help="Run JupyterLab (token, "
                                          "127.0.0.1 only).")] = False,
    jupyter_port: Annotated[int, typer.Option("--jupyter-port", help="Host port for "
                                              "JupyterLab.")] = 8888,
    jupyter_host: Annotated[str, typer.Option("--jupyter-host", help="Host address JupyterLab "
                                              "binds to; 0.0.0.0 exposes it to the network.")
                            ] = "127.0.0.1",
    port: Annotated[list[str] | None, typer.Option("--port", "-p", help="Extra port: PORT, "
                                                   "HOST:CONTAINER or IP:HOST:CONTAINER.")] = None,
    uid: Annotated[int | None, typer.Option("--uid", help="User ID inside (default: yours).")] = None,
    gid: Annotated[int | None, typer.Option("--gid", help="Group ID inside (default: yours).")] = None,
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Do not open a shell.")] = False,
    recreate: Annotated[bool, typer.Option("--recreate", help="Replace an existing dev "
                                           "container of this profile.")] = False,
    allow_cpu: Annotated[bool, typer.Option("--allow-cpu", help="Start a GPU profile on a host "
                                            "without its GPU.")] = False,
    pip_from_host: Annotated[bool, typer.Option("--pip-from-host", help="Forward the host's pip "
                                                "settings if the image must be built.")] = False,
    progress: Annotated[str, typer.Option("--progress", help="auto, plain or json.")] = "auto",
) -> None:
    """Start (or reuse) a dev container; prints its name on stdout."""

    def body() -> None:
        from builder import devenv, engine
        from builder.prepare import BuildOptions
        from builder.profile import load_profile
        from builder.resolve import resolve
        from builder.smoke import container_kwargs

        check_progress(progress)
        prof, path = load_profile(profile)
        base_spec = resolve(prof)
        folder = devenv.ensure_workspace(workspace)
        host_uid, host_gid = devenv.host_ids()
        dev_uid, dev_gid = uid if uid is not None else host_uid, gid if gid is not None else host_gid
        if dev_uid <= 0 or dev_gid <= 0:
            # root on the host: keep the image's own non-root user
            dev_uid, dev_gid = (dev_uid if dev_uid > 0 else prof.user.uid,
                                dev_gid if dev_gid > 0 else prof.user.gid)
        mappings = [devenv.parse_port(p) for p in (port or [])]
        if jupyter:
            mappings.insert(0, devenv.PortMapping(jupyter_host, jupyter_port, devenv.JUPYTER_PORT))
        if not allow_cpu:
            _require_gpu_host(base_spec)
        client = engine.connect()
        name = engine.dev_container_name(base_spec.profile)
        existing = engine.find_container(client, name)
        if existing is not None and recreate:
            engine.remove_container(existing)
            existing = None
        if existing is not None:
            if existing.status != "running":
                existing.start()
            err.print(f"reusing {name} ({existing.status}); attach: docker exec -it {name} bash")
            url = existing.labels.get("io.dlenv.jupyter-url")
            if url:
                err.print(f"JupyterLab: {url}")
            out.print(name)
            return
        for mapping in mappings:
            devenv.ensure_port_free(mapping)
        spec = resolve(devenv.dev_profile(prof, dev_uid, dev_gid, jupyter))
        image = f"dlenv/{spec.profile}:dev-{spec.digest[:12]}"
        if not engine.image_exists(client, image):
            build_image(client, spec, BuildOptions(pip_from_host=pip_from_host), path.parent,
                         [image], progress)
        token = devenv.new_token() if jupyter else ""
        labels = {"io.dlenv.profile": spec.profile, "io.dlenv.workspace": str(folder)}
        command = devenv.IDLE_COMMAND
        if jupyter:
            url = _jupyter_url(jupyter_host, jupyter_port, token)
            labels["io.dlenv.jupyter-url"] = url
            command = devenv.jupyter_command(token)
            if jupyter_host not in ("127.0.0.1", "localhost", "::1"):
                err.print(f"[yellow]warning:[/] JupyterLab listens on {jupyter_host}: anyone who "
                          "reaches this host and has the token can run code as you")
        device_kwargs = container_kwargs(spec.accelerator, spec.runtime.model_dump(), allow_cpu)
        container = engine.run_dev_container(
            client, image=image, name=name, command=command, workspace=str(folder),
            ports=dict(m.docker for m in mappings), labels=labels, environment={},
            device_kwargs=device_kwargs)
        if jupyter:
            _wait_for_jupyter(labels["io.dlenv.jupyter-url"], container)
            err.print(f"JupyterLab: {labels['io.dlenv.jupyter-url']}")
        err.print(f"started {name} (uid {dev_uid}, gid {dev_gid}) with {folder} at /workspace; "
                  f"attach: docker exec -it {name} bash; stop: dlenv dev down {profile}")
        out.print(name)
        if not detach and sys.stdin.isatty() and shutil.which("docker"):
            os.execvp("docker", ["docker", "exec", "-it", name, "bash"])

    run_guarded(body)


@dev_app.command("down")
def dev_down(profile: ProfileArg) -> None:
    """Stop and remove a profile's dev container (the workspace is untouched)."""

    def body() -> None:
        from builder import engine

        client = engine.connect()
        name = profile if profile.startswith("dlenv-dev-") else engine.dev_container_name(
            Path(profile).stem if profile.endswith((".yaml", ".yml")) else profile)
        container = engine.find_container(client, name)
        if container is None or engine.DEV_LABEL not in (container.labels or {}):
            err.print(f"no dev container {name}")
            return
        engine.remove_container(container)
        err.print(f"removed {name}")
        out.print(name)

    run_guarded(body)


@dev_app.command("ls")
def dev_ls(json_out: JsonOpt = False) -> None:
    """List dlenv's dev containers."""

    def body() -> None:
        from builder import engine

        client = engine.connect()
        rows = [{"name": c.name, "profile": c.labels.get("io.dlenv.profile"), "status": c.status,
                 "image": (c.image.tags or [c.image.short_id])[0] if c.image else None,
                 "workspace": c.labels.get("io.dlenv.workspace"),
                 "jupyter": c.labels.get("io.dlenv.jupyter-url")}
                for c in engine.list_dev_containers(client)]
        if json_out:
            out.print_json(json.dumps(rows))
            return
        table = Table("name", "profile", "status", "workspace", "jupyter")
        for row in rows:
            table.add_row(*(str(row[k] or "") for k in ("name", "profile", "status", "workspace",
                                                         "jupyter")))
        out.print(table)

    run_guarded(body)


@dev_app.command("vscode")
def dev_vscode(
    profile: ProfileArg,
    directory: Annotated[Path, typer.Option("--dir", help="Where to write.")] = Path(".devcontainer"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that differ.")] = False,
) -> None:
    """Write a VS Code dev container definition (devcontainer.json + Dockerfile) for a profile."""

    def body() -> None:
        from builder import devenv
        from builder.render import PIP_CONF_PLACEHOLDER, render_dockerfile, smoke_files

        spec, _ = resolve_ref(profile)
        files = {"devcontainer.json": devenv.devcontainer_json(spec).encode(),
                 "Dockerfile": render_dockerfile(spec).encode(),
                 "dlenv/build/pip.conf": PIP_CONF_PLACEHOLDER.encode(), **smoke_files()}
        clashes = [rel for rel, data in files.items() if (directory / rel).is_file()
                   and (directory / rel).read_bytes() != data]
        if clashes and not force:
            raise ProfileError(f"{directory} already has different " + ", ".join(clashes)
                               + "; pass --force to overwrite")
        for rel, data in files.items():
            target = directory / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            if rel.endswith("dlenv-smoke"):
                target.chmod(0o755)
        out.print(str(directory / "devcontainer.json"))

    run_guarded(body)

