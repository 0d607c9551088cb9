"""The core pipeline: build a spec into an image, then prove it. Typed results, progress events.

`dlenv build pytorch-cpu --smoke` is: resolve (resolve/decide.py) -> build_image() -> smoke().
The CLI and any other front end (a CI runner, a Kubernetes job) call these functions with an
Engine (engine/protocol.py), a Resources registry (what to remove on failure or Ctrl-C) and an
Emit callback; nothing here prints, exits or imports Typer.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from builder import defaults, names
from builder.engine.protocol import BuildContainer, BuildLayer, BuiltImage
from builder.errors import BuildFailed, CheckFailed
from builder.events import BuildFinished, BuildStarted, Emit, Note, SmokeStarted, ignore
from builder.inputs.installer import choose_installer
from builder.inputs.prepare import BuildOptions, apply_options, has_credentials, prepare_build
from builder.inputs.server import InputServer, choose_delivery
from builder.render.layout import INPUTS_PORT, Layout
from builder.smoke.perf import NO_FLOORS, PerfFloors, judge_peak_fraction
from builder.smoke.report import SmokeReport
from builder.smoke.run import run_smoke
from builder.spec import BuildSpec, RuntimeOptions

if TYPE_CHECKING:
    from builder.engine.protocol import Engine
    from builder.engine.resources import Resources
    from builder.pin.lockfile import LockFile


@dataclass(frozen=True)
class BuildResult:
    image_id: str
    tags: tuple[str, ...]
    spec: BuildSpec  # as built: the build options' pip sources folded in
    seconds: float
    size_bytes: int


@dataclass(frozen=True)
class SmokeTarget:
    """What the smoke runner needs to know about an image."""

    image: str
    accelerator: str
    runtime: RuntimeOptions
    timeout: int
    floors: PerfFloors = NO_FLOORS  # the image applies its own absolute floors (ENV)
    platform: str = "linux/amd64"  # another one runs under emulation (QEMU, binfmt_misc)


def default_tags(spec: BuildSpec) -> list[str]:
    return [names.profile_image(spec.profile, spec.platform), names.spec_image(spec.profile, spec.digest)]


def build_image(
    engine: Engine,
    spec: BuildSpec,
    options: BuildOptions,
    *,
    profile_dir: Path,
    tags: list[str],
    resources: Resources,
    emit: Emit = ignore,
    no_cache: bool = False,
    lock: LockFile | None = None,
) -> BuildResult:
    """Prepare the context, build untagged, then tag: a failed or interrupted build tags nothing.

    With a lock: FROM the pinned base (a local-only base must still have the locked image ID),
    every wheel hash-checked, the installed set compared with the lock inside the build.
    """
    if lock is not None:
        check_locked_base(engine, lock)
    check_base_platform(engine, spec)
    facts = engine.info()
    credentials = has_credentials(apply_options(spec, options)[0])
    delivery, why = choose_delivery(options.inputs, facts, credentials)
    installer, uv = choose_installer(facts, spec.platform)
    emit(Note(why + ("; frameworks installed with uv" if installer == "uv" else "")))
    with contextlib.ExitStack() as stack:  # the input server lives exactly as long as the build
        server = stack.enter_context(InputServer()) if delivery == "served" else None
        layout = Layout(delivery, installer, server.port if server else INPUTS_PORT)
        prepared = prepare_build(
            spec, options, profile_dir, lock.installs() if lock else None, layout=layout, uv_binary=uv
        )
        for note in prepared.notes:
            emit(Note(note))
        if server is not None:
            server.serve(prepared.bundles, prepared.wheels)
        served = sum(len(b.data) for b in prepared.bundles) + sum(len(w) for w in prepared.wheels.values())
        sent = len(prepared.context) + served
        emit(BuildStarted(tags[0], prepared.spec.base_image, sent, engine.address))
        started = time.monotonic()
        since = time.time() - 2  # the engine's clock in whole seconds; a little slack
        image_id = ""
        step_containers: list[str] = []
        for event in engine.build(
            prepared.context,
            no_cache=no_cache,
            base_image=prepared.spec.base_image,
            extra_hosts=server.extra_hosts if server else None,
            platform=spec.platform,
        ):
            if isinstance(event, BuildContainer):
                resources.container(event.container_id)
                step_containers.append(event.container_id)
            elif isinstance(event, BuildLayer):
                resources.build_parent(event.image_id, since)
            elif isinstance(event, BuiltImage):
                image_id = event.image_id
            else:
                emit(event)
    resources.build_done()
    for container in step_containers:  # the builder removed them itself (rm=True)
        resources.forget(container)
    if not image_id:
        raise BuildFailed("the build produced no image")
    for ref in tags:
        resources.tag(ref)
        engine.tag(image_id, ref)
    for ref in tags:
        resources.keep(ref)
    seconds = time.monotonic() - started
    built = engine.image(image_id)
    if built is not None and built.platform != spec.platform:
        raise BuildFailed(  # the classic builder takes the platform from FROM, whatever was asked
            f"The engine built a {built.platform} image, not the {spec.platform} the profile asks for."
        )
    size = built.size if built else 0
    emit(BuildFinished(tuple(tags), seconds, size))
    return BuildResult(image_id, tuple(tags), prepared.spec, seconds, size)


def check_base_platform(engine: Engine, spec: BuildSpec) -> None:
    """The base must be of the image's platform: the classic builder (engine 20.10) would build
    silently on a base of another one, and keeps one image per name (so no second platform of
    the same tag can sit beside it)."""
    base = engine.image(spec.base_image)
    if base is None or base.platform.startswith(spec.platform):
        return  # missing: the engine pulls the platform's image
    make = (
        " (scripts/make-base-image.sh --arch arm64 makes arm64v8/debian:bookworm-slim with debootstrap)"
        if spec.platform == "linux/arm64"
        else ""
    )
    raise BuildFailed(
        f"The base image {spec.base_image} in this engine is {base.platform}, but the profile "
        f"builds for {spec.platform}.",
        hint=f"Pull or load the {spec.platform} image under that name{make}, or pass --base-image "
        f"with one; for this host's platform build with --platform {base.platform}.",
    )


def check_locked_base(engine: Engine, lock: LockFile) -> None:
    """A base pinned by image ID (no registry digest) must still be that image in this engine."""
    if lock.base.digest:
        return
    if not lock.base.image_id:
        raise CheckFailed(
            f"the lock does not pin the base image {lock.base.ref} (it was made "
            "where no engine could see it)",
            hint="Re-lock where the base image is pulled or loaded: dlenv lock PROFILE",
        )
    found = engine.image(lock.base.ref)
    current = found.id if found else None
    if current != lock.base.image_id:
        raise CheckFailed(
            f"the base image {lock.base.ref} is {current or 'missing'} in this engine, "
            f"but the lock pins {lock.base.image_id}",
            hint="Load the locked base image, or re-lock: dlenv lock PROFILE --upgrade",
        )


def smoke_target_for(image: str, spec: BuildSpec) -> SmokeTarget:
    """The smoke target of an image just built from `spec` (no label round trip)."""
    floors = PerfFloors(spec.smoke.min_tflops, spec.smoke.min_copy_gbps, spec.smoke.min_peak_fraction)
    return SmokeTarget(image, spec.accelerator, spec.runtime, spec.smoke.timeout, floors, spec.platform)


def smoke_target_from_labels(engine: Engine, image: str) -> SmokeTarget:
    """The smoke target of an existing image, from the labels dlenv put on it."""
    found = engine.image(image)
    labels = dict(found.labels) if found else {}
    accelerator = labels.get(names.LABEL_ACCELERATOR, "cpu")
    raw = labels.get(names.LABEL_RUNTIME)
    if raw:
        runtime = RuntimeOptions.model_validate(json.loads(raw))
    else:  # not built by dlenv: the accelerator's usual options
        from builder.facts.matrix import load_matrix

        known = load_matrix().runtime
        if accelerator not in known:
            accelerator = "cpu"
        runtime = RuntimeOptions.of(next(e for name, e in known.items() if name == accelerator))
    timeout = int(labels.get(names.LABEL_SMOKE_TIMEOUT, defaults.SMOKE_TIMEOUT))
    fraction = labels.get(names.LABEL_SMOKE_PEAK_FRACTION)
    floors = PerfFloors(min_peak_fraction=float(fraction or 0) or None)
    platform = found.platform if found else "linux/amd64"
    return SmokeTarget(image, accelerator, runtime, timeout, floors, platform)


def smoke(
    engine: Engine,
    target: SmokeTarget,
    *,
    resources: Resources,
    allow_cpu: bool = False,
    timeout: int | None = None,
    emit: Emit = ignore,
    args: tuple[str, ...] = (),
    floors: PerfFloors = NO_FLOORS,
) -> SmokeReport:
    """Train inside the image on its accelerator and time it; the report says whether it passed.

    `floors` (the command line's) win over the target's; absolute ones go to the image's script,
    a fraction of the device's peak is judged here.
    """
    emit(SmokeStarted(target.image, target.accelerator, allow_cpu))
    wanted = target.floors.merged(floors)
    report = run_smoke(
        engine,
        target.image,
        runtime=target.runtime,
        resources=resources,
        allow_cpu=allow_cpu,
        timeout=timeout or target.timeout,
        args=(*args, *floors.script_args()),
        platform=target.platform if target.platform != "linux/amd64" else None,
    )
    return judge_peak_fraction(report, wanted.min_peak_fraction)
