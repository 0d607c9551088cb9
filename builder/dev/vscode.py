"""VS Code: a dev container definition (`.devcontainer/devcontainer.json`) for a profile.

Two kinds, both accepted by the Dev Containers CLI (`devcontainer up`, what VS Code runs):

* build (the default): devcontainer.json builds the Dockerfile beside it. That is the staged
  form of `dlenv build` (builder/render/layout.py), so the site's build inputs (`--ca-bundle`,
  `--pip-from-host`: pip.conf, CA bundle, wheelhouse) sit in `dlenv/build/` and reach only the
  `frameworks` build stage, never the image; with a lock it is the locked, hash-checked build.
  Credentials in an index URL are refused here: they would be written to disk.
* image (`--image`): dlenv builds (or reuses) the dev image `dlenv dev up` runs, with the
  site's inputs handled as `dlenv build` handles them, and the definition names that image by
  its ID, so VS Code opens exactly that image. Nothing but devcontainer.json is written.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from builder import names
from builder.dev import container as dev
from builder.errors import UsageError
from builder.events import Emit, Note, ignore
from builder.image_paths import CONTEXT_BUILD, VENV, WORKSPACE
from builder.render import runopts

if TYPE_CHECKING:
    from builder.engine.protocol import Engine
    from builder.engine.resources import Resources
    from builder.inputs.prepare import BuildOptions
    from builder.pin.lockfile import LockFile
    from builder.profile.schema import Profile
    from builder.spec import BuildSpec

DEFINITION = "devcontainer.json"
# Distributions that give the image a Jupyter kernel (ipykernel); the first three also a server.
_JUPYTER_SERVERS = frozenset({"jupyter", "jupyterlab", "notebook"})
_JUPYTER_KERNELS = _JUPYTER_SERVERS | {"ipykernel"}


@dataclass(frozen=True)
class Definition:
    """What `dlenv dev vscode` writes: files by path below the folder, which are executable,
    and what the user should know (notes) and where it points (image ID in image mode)."""

    files: dict[str, bytes]
    executables: frozenset[str] = frozenset()
    notes: tuple[str, ...] = ()
    image: str | None = None


def _requirement_names(spec: BuildSpec) -> set[str]:
    found = set()
    for requirement in spec.packages:
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
        if match:
            found.add(re.sub(r"[-_.]+", "-", match.group(0)).lower())
    return found


def jupyter_kernel(spec: BuildSpec) -> bool:
    """Whether the image has a Jupyter kernel: the profile's packages install one."""
    return bool(_requirement_names(spec) & _JUPYTER_KERNELS)


def devcontainer_json(spec: BuildSpec, *, image: str | None = None) -> str:
    """The definition: build the Dockerfile beside it, or (image mode) run `image` as it is.

    The Jupyter extension and port 8888 only where the profile installs Jupyter. GPUs: the
    NVIDIA request is `hostRequirements.gpu`, which the Dev Containers CLI turns into
    `--gpus all` where it finds the NVIDIA runtime; AMD's devices are run arguments (the CLI
    checks `hostRequirements.gpu` against the NVIDIA runtime only).
    """
    runtime = spec.runtime.model_copy(update={"gpus": False})
    names_installed = _requirement_names(spec)
    extensions = ["ms-python.python"] + (["ms-toolsai.jupyter"] if jupyter_kernel(spec) else [])
    data: dict[str, Any] = {"name": f"dlenv {spec.profile}"}
    if image is None:
        data["build"] = {"dockerfile": "Dockerfile", "context": "."}
    else:
        data["image"] = image
    data |= {
        "runArgs": runopts.cli_args(runtime),
        "remoteUser": spec.user.name,
        "containerUser": spec.user.name,
        # Image mode: the dev image already has the user's UID; a derived image would not be
        # the image `dlenv dev up` runs.
        "updateRemoteUserUID": image is None,
        "workspaceMount": f"source=${{localWorkspaceFolder}},target={WORKSPACE},type=bind",
        "workspaceFolder": WORKSPACE,
    }
    if names_installed & _JUPYTER_SERVERS:
        data["forwardPorts"] = [dev.JUPYTER_PORT]
    data |= {
        "overrideCommand": True,
        "customizations": {
            "vscode": {
                "extensions": extensions,
                "settings": {"python.defaultInterpreterPath": f"{VENV}/bin/python"},
            }
        },
    }
    if spec.runtime.gpus:
        data["hostRequirements"] = {"gpu": True}
    return json.dumps(data, indent=2) + "\n"


def _refuse_credentials(spec: BuildSpec, options: BuildOptions) -> None:
    from builder.inputs.prepare import apply_options, has_credentials

    if has_credentials(apply_options(spec, options)[0]):
        raise UsageError(
            "an index URL carries credentials, and a dev container definition that builds "
            "its own image would write them into its folder (dlenv/build/pip.conf)",
            hint="Use --image: dlenv builds the dev image (credentials stay in a build stage "
            "that the image leaves behind) and the definition only names that image.",
        )


def build_definition(
    spec: BuildSpec, options: BuildOptions, profile_dir: Path, lock: LockFile | None = None
) -> Definition:
    """devcontainer.json + the staged Dockerfile and its context (site inputs in a build stage)."""
    from builder.inputs.prepare import prepare_build
    from builder.render.layout import Layout

    if options.keep_ca:
        raise UsageError("--keep-ca is not offered here: the definition keeps the CA out of the image")
    _refuse_credentials(spec, options)
    prepared = prepare_build(
        spec, options, profile_dir, lock.installs() if lock else None, layout=Layout("staged", "pip")
    )
    files: dict[str, bytes] = {DEFINITION: devcontainer_json(spec).encode()}
    executables = set()
    with tarfile.open(fileobj=io.BytesIO(prepared.context), mode="r:") as tar:
        for member in tar.getmembers():
            extracted = tar.extractfile(member) if member.isfile() else None
            if extracted is not None:
                files[member.name] = extracted.read()
                if member.mode & 0o111:
                    executables.add(member.name)
    notes = list(prepared.notes)
    if lock is not None:
        notes.append(f"locked: every wheel hash-checked, lock {lock.lock_digest[:19]}")
        if not lock.base.digest:
            notes.append(
                f"the lock pins {lock.base.ref} by its image ID in this engine only; the "
                "definition builds FROM whatever that name is where VS Code runs"
            )
    site_inputs = [r for r in files if r.startswith(f"{CONTEXT_BUILD}/") and not r.endswith("/pip.conf")]
    if site_inputs or options.pip_from_host:
        notes.append(
            "site build inputs (pip settings, CA, wheelhouse) are in dlenv/build/: only the "
            "definition's build stage sees them, the image does not"
        )
    return Definition(files, frozenset(executables), tuple(notes))


@dataclass(frozen=True)
class ImageRequest:
    """Image mode: the dev image of `dlenv dev up` for this user, built if missing."""

    profile: Profile
    profile_dir: Path
    options: BuildOptions
    uid: int | None = None
    gid: int | None = None
    lock: LockFile | None = None


def dev_image_tag(spec: BuildSpec, lock: LockFile | None) -> str:
    """`dev up`'s tag; a locked dev image carries the lock's digest too (never mistaken for it)."""
    tag = names.dev_image(spec.profile, spec.digest)
    return tag + (f"-lock-{lock.lock_digest.removeprefix('sha256:')[:12]}" if lock else "")


def image_definition(
    engine: Engine, request: ImageRequest, *, resources: Resources, emit: Emit = ignore
) -> Definition:
    """Build (or reuse) the dev image and name it by ID in devcontainer.json."""
    from builder import pipeline
    from builder.resolve.decide import resolve

    uid, gid = dev.dev_ids(request.profile, request.uid, request.gid)
    spec = resolve(dev.dev_profile(request.profile, uid, gid, jupyter=False))
    tag = dev_image_tag(spec, request.lock)
    found = engine.image(tag)
    notes = []
    if found is not None:
        image_id = found.id
        notes.append(f"reusing {tag} ({image_id[:19]})")
    else:
        result = pipeline.build_image(
            engine,
            spec,
            request.options,
            profile_dir=request.profile_dir,
            tags=[tag],
            resources=resources,
            emit=emit,
            lock=request.lock,
        )
        image_id = result.image_id
    emit(Note(f"the definition runs {tag} by its ID {image_id[:19]}, as the user {uid}:{gid}"))
    definition = devcontainer_json(spec, image=image_id).encode()
    return Definition({DEFINITION: definition}, notes=tuple(notes), image=image_id)


def lock_for(ref: str, spec: BuildSpec, locked: bool | None, lock_file: Path | None) -> LockFile | None:
    """The lock the definition builds from: --locked demands it, --unlocked ignores it, and by
    default the profile's lock is used when it exists (a stale one stops, exit 1)."""
    from builder.errors import CheckFailed
    from builder.pin.lockfile import fresh_lock, lock_target

    if locked is False:
        if lock_file is not None:
            raise UsageError("--lock goes with --locked (or no lock option), not --unlocked")
        return None
    path = lock_target(ref, lock_file).path
    if locked is None and lock_file is None and not path.is_file():
        return None
    try:
        return fresh_lock(spec, path)
    except CheckFailed as exc:
        if locked:
            raise
        raise CheckFailed(
            exc.message + " The definition builds from a profile's lock when there is one.",
            hint=(exc.hint or "Re-lock") + "; or pass --unlocked to write an unlocked definition.",
        ) from None


def clashes(folder: Path, definition: Definition) -> list[str]:
    """The files in `folder` that the definition would change (never overwritten unasked)."""
    return [
        rel
        for rel, data in definition.files.items()
        if (folder / rel).is_file() and (folder / rel).read_bytes() != data
    ]


def write(folder: Path, definition: Definition) -> Path:
    """Write the definition's files below `folder`; returns devcontainer.json's path."""
    for rel, data in sorted(definition.files.items()):
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        target.chmod(0o755 if rel in definition.executables else 0o644)
    return folder / DEFINITION
