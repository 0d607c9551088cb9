"""`dlenv dev up|down|ls` as core calls: a dev container from a profile, reused or started.

`dev_up` decides everything before it creates anything: the dev image's profile (the host
user's UID/GID, JupyterLab when asked), whether this host has the GPU the profile needs
(doctor's checks), whether an existing dev container can be reused, whether the ports are free.
Then it builds the dev image if missing and starts the container, both registered with the
run's Resources so a failure or Ctrl-C leaves nothing half-made.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from builder import names
from builder.dev import container as dev
from builder.engine.protocol import ContainerInfo, Engine, RunRequest
from builder.errors import CheckFailed, UsageError
from builder.events import Emit, Note, ignore
from builder.image_paths import WORKSPACE

if TYPE_CHECKING:
    from builder.engine.resources import Resources
    from builder.inputs.prepare import BuildOptions
    from builder.profile.schema import Profile
    from builder.spec import BuildSpec


@dataclass(frozen=True)
class DevRequest:
    """What `dev up` was asked for (options parsed, nothing checked yet)."""

    profile: Profile
    profile_dir: Path
    ref: str  # the PROFILE argument as given, for the hints
    workspace: Path
    jupyter: bool = False
    jupyter_host: str = "127.0.0.1"
    jupyter_port: int = dev.JUPYTER_PORT
    ports: tuple[str, ...] = ()
    uid: int | None = None
    gid: int | None = None
    recreate: bool = False
    allow_cpu: bool = False
    build: BuildOptions | None = None


@dataclass(frozen=True)
class DevResult:
    name: str
    reused: bool
    image: str
    workspace: Path
    uid: int
    gid: int
    status: str
    jupyter_url: str | None = None
    jupyter_ready: bool = True
    warnings: tuple[str, ...] = field(default_factory=tuple)


def require_gpu_host(spec: BuildSpec) -> None:
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


def require_kernels(labels: dict[str, str]) -> None:
    """The image's frameworks must carry kernels for this host's GPUs (say so before building)."""
    from builder.host.kernels import preflight
    from builder.host.probe import collect_nvidia

    problems = preflight(labels, collect_nvidia())
    if problems:
        raise CheckFailed(
            "this host's GPU cannot run the image: " + "; ".join(problems) + ".",
            hint="Name the GPU in the profile (`gpus:`, see `dlenv doctor --suggest`) so that dlenv "
            "picks builds with its kernels; --allow-cpu starts the container without the GPU.",
        )


def reuse_conflicts(existing: ContainerInfo, folder: Path, images: set[str], jupyter: bool) -> list[str]:
    """How the existing dev container differs from what this `dev up` asks for (a reattach need
    not repeat --jupyter or the ports)."""
    conflicts = []
    if existing.labels.get(names.LABEL_WORKSPACE) != str(folder):
        conflicts.append(f"its workspace is {existing.labels.get(names.LABEL_WORKSPACE, '?')}, not {folder}")
    if existing.image not in images:
        wanted = " or ".join(sorted(images))
        conflicts.append(f"it runs {existing.image}, not {wanted} (the profile or the UID changed)")
    if jupyter and names.LABEL_JUPYTER_URL not in existing.labels:
        conflicts.append("it runs without JupyterLab")
    return conflicts


def _port_mappings(request: DevRequest) -> list[dev.PortMapping]:
    mappings = [dev.parse_port(p) for p in request.ports]
    if request.jupyter:
        mappings.insert(0, dev.PortMapping(request.jupyter_host, request.jupyter_port, dev.JUPYTER_PORT))
    return mappings


def dev_up(engine: Engine, request: DevRequest, *, resources: Resources, emit: Emit = ignore) -> DevResult:
    """Start (or reuse) the profile's dev container; every refusal comes before any change."""
    from builder.resolve.decide import resolve

    folder = dev.ensure_workspace(request.workspace)
    uid, gid = dev.dev_ids(request.profile, request.uid, request.gid)
    mappings = _port_mappings(request)
    spec = resolve(dev.dev_profile(request.profile, uid, gid, request.jupyter))
    if not request.allow_cpu:
        require_gpu_host(spec)
        require_kernels(spec.labels())
    name = names.dev_container(spec.profile)
    image = names.dev_image(spec.profile, spec.digest)
    result = DevResult(name, False, image, folder, uid, gid, "running")
    existing = engine.container(name)
    if existing is not None and request.recreate:
        engine.stop(name)
        engine.remove_container(name)
        existing = None
    if existing is not None:
        # The image with JupyterLab serves a reattach without --jupyter too.
        with_jupyter = resolve(dev.dev_profile(request.profile, uid, gid, True))
        images = {image, names.dev_image(with_jupyter.profile, with_jupyter.digest)}
        conflicts = reuse_conflicts(existing, folder, images, request.jupyter)
        if conflicts:
            raise UsageError(
                f"a dev container {name} already exists, but " + "; ".join(conflicts) + ".",
                hint=f"Replace it: dlenv dev up {request.ref} --recreate (the workspace is untouched), "
                f"or stop it: dlenv dev down {request.ref}",
            )
        if existing.status != "running":
            engine.start(name)
        url = existing.labels.get(names.LABEL_JUPYTER_URL)
        return replace(result, reused=True, status=existing.status, jupyter_url=url)
    for mapping in mappings:
        dev.ensure_port_free(mapping)
    return _start(engine, request, spec, result, mappings, resources=resources, emit=emit)


def _start(
    engine: Engine,
    request: DevRequest,
    spec: BuildSpec,
    result: DevResult,
    mappings: list[dev.PortMapping],
    *,
    resources: Resources,
    emit: Emit,
) -> DevResult:
    from builder import pipeline
    from builder.inputs.prepare import BuildOptions

    if engine.image(result.image) is None:
        pipeline.build_image(
            engine,
            spec,
            request.build or BuildOptions(),
            profile_dir=request.profile_dir,
            tags=[result.image],
            resources=resources,
            emit=emit,
        )
    token = dev.new_token() if request.jupyter else ""
    url = dev.jupyter_url(request.jupyter_host, request.jupyter_port, token) if request.jupyter else None
    labels = {
        **resources.labels,
        names.LABEL_DEV: "1",
        names.LABEL_PROFILE: spec.profile,
        names.LABEL_WORKSPACE: str(result.workspace),
    }
    warnings: list[str] = []
    if url:
        labels[names.LABEL_JUPYTER_URL] = url
        if request.jupyter_host not in ("127.0.0.1", "localhost", "::1"):
            warnings.append(
                f"JupyterLab listens on {request.jupyter_host}: anyone who reaches this host "
                "and has the token can run code as you"
            )
    resources.container(result.name)
    engine.run(
        RunRequest(
            image=result.image,
            command=tuple(dev.jupyter_command(token) if url else dev.IDLE_COMMAND),
            name=result.name,
            labels=labels,
            runtime=spec.runtime,
            devices=not request.allow_cpu,
            volumes={str(result.workspace): WORKSPACE},
            ports={m.container_port: (m.host_ip, m.host_port) for m in mappings},
            working_dir=WORKSPACE,
        )
    )
    ready = True
    if url:
        emit(Note("waiting for JupyterLab to answer ..."))
        ready = dev.wait_for_jupyter(url, engine, result.name)
    resources.keep(result.name)
    return replace(result, jupyter_url=url, jupyter_ready=ready, warnings=tuple(warnings))


def dev_container_name(ref: str) -> str:
    """The dev container of PROFILE (a built-in name, a YAML path, or the container's own name)."""
    if ref.startswith(names.DEV_CONTAINER_PREFIX):
        return ref
    return names.dev_container(Path(ref).stem if ref.endswith((".yaml", ".yml")) else ref)


def dev_down(engine: Engine, ref: str) -> str | None:
    """Stop and remove a profile's dev container (the workspace is untouched); None: there was none."""
    name = dev_container_name(ref)
    found = engine.container(name)
    if found is None or names.LABEL_DEV not in found.labels:
        return None
    engine.stop(name)
    engine.remove_container(name)
    return name


def dev_list(engine: Engine) -> list[dict[str, str | None]]:
    """dlenv's dev containers, as `dev ls` shows them."""
    return [
        {
            "name": c.name,
            "profile": c.labels.get(names.LABEL_PROFILE),
            "status": c.status,
            "image": c.image or None,
            "workspace": c.labels.get(names.LABEL_WORKSPACE),
            "jupyter": c.labels.get(names.LABEL_JUPYTER_URL),
        }
        for c in engine.containers(names.LABEL_DEV)
    ]
