"""Commands that drive the engine: build and smoke (one core call each, progress rendered here)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from builder.cli.common import (
    CaBundleOpt,
    InputsOpt,
    JsonOpt,
    PipFromHostOpt,
    PlatformOpt,
    ProfileArg,
    Progress,
    ProgressOpt,
    app,
    check_ca_bundle,
    check_inputs,
    engine_opener,
    guarded,
    load,
    open_engine,
    out,
    platforms_of,
    resolve_ref,
    show_smoke,
    warn,
)
from builder.errors import ProfileError, SmokeFailed, UsageError

if TYPE_CHECKING:
    from builder.engine.protocol import Engine
    from builder.engine.resources import Resources
    from builder.spec import BuildSpec

AllowCpuOpt = Annotated[
    bool, typer.Option("--allow-cpu", help="Accept a CPU run on a runner without a GPU (the JSON says so).")
]


@app.command()
@guarded
def build(
    profile: ProfileArg,
    tag: Annotated[list[str] | None, typer.Option("--tag", "-t", help="Image tag (repeatable).")] = None,
    base_image: Annotated[str | None, typer.Option("--base-image", help="Override FROM.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Build without the layer cache.")] = False,
    progress: ProgressOpt = "auto",
    smoke: Annotated[bool, typer.Option("--smoke", help="Smoke-test the image after building.")] = False,
    allow_cpu: AllowCpuOpt = False,
    ca_bundle: CaBundleOpt = None,
    keep_ca: Annotated[
        bool,
        typer.Option(
            "--keep-ca", help="Also install the CA in the image (apt at build time, everything at run time)."
        ),
    ] = False,
    pip_from_host: PipFromHostOpt = False,
    inputs: InputsOpt = "auto",
    locked: Annotated[
        bool,
        typer.Option(
            "--locked",
            help="Install exactly the lock: FROM its "
            "digest, every wheel hash-checked (exit 1 when the lock "
            "is missing or stale).",
        ),
    ] = False,
    lock_file: Annotated[
        Path | None,
        typer.Option("--lock", help="With --locked: the lock file (default <profile>.dlenv.lock)."),
    ] = None,
    push_ref: Annotated[
        str | None,
        typer.Option(
            "--push",
            help="Push the built (and smoke-tested) image to REF; prints REPO@sha256:... "
            "(for several platforms: one image index).",
        ),
    ] = None,
    platform: PlatformOpt = None,
) -> None:
    """Build a profile's image through the Docker SDK (one per platform), optionally
    smoke-testing and pushing it."""
    from builder import pipeline
    from builder.engine.resources import Resources
    from builder.inputs.prepare import BuildOptions
    from builder.profile.schema import is_image_ref
    from builder.resolve.decide import resolve

    show = Progress(progress)
    check_ca_bundle(ca_bundle)
    check_inputs(inputs)
    if base_image is not None and not is_image_ref(base_image):
        raise UsageError(f"--base-image: {base_image!r} is not an image reference")
    if lock_file is not None and not locked:
        raise UsageError("--lock goes with --locked")
    if push_ref is not None:
        from builder.pin.push import parse_reference

        parse_reference(push_ref)
    prof, path = load(profile)
    if base_image is not None:  # the profile's own override, applied before resolving
        prof = prof.model_copy(update={"base_image": base_image})
    specs = [resolve(prof, platform=p) for p in platforms_of(prof, platform)]
    options = BuildOptions(ca_bundle=ca_bundle, keep_ca=keep_ca, pip_from_host=pip_from_host, inputs=inputs)
    engine = open_engine()
    built: dict[str, str] = {}  # platform -> image ID
    with Resources(engine_opener()).cleaned_up() as resources:
        for spec in specs:
            warn(spec)
            lock = None
            if locked:
                from builder.pin.lockfile import fresh_lock, lock_target

                locked_by = lock_target(profile, lock_file, spec.platform)
                lock = fresh_lock(spec, locked_by.path, locked_by.lock_command)
            tags = _tags_for(spec, list(tag or []), several=len(specs) > 1)
            with show.live():
                result = pipeline.build_image(
                    engine,
                    spec,
                    options,
                    profile_dir=path.parent,
                    tags=tags,
                    resources=resources,
                    emit=show,
                    no_cache=no_cache,
                    lock=lock,
                )
            built[spec.platform] = result.image_id
            if push_ref is None:
                out.print(result.image_id)
            if smoke:
                target = pipeline.smoke_target_for(result.tags[0], result.spec)
                report = pipeline.smoke(engine, target, resources=resources, allow_cpu=allow_cpu, emit=show)
                show_smoke(report, json_out=False)
                if not report.ok:
                    raise SmokeFailed(report.explain())
        if push_ref is not None:
            out.print(_push_built(engine, built, push_ref, resources, show))


def _tags_for(spec: BuildSpec, asked: list[str], *, several: bool) -> list[str]:
    """--tag as given for one platform; with several, each platform's with its suffix."""
    from builder import names, pipeline

    if not asked:
        return pipeline.default_tags(spec)
    if not several:
        return asked
    arch = "-" + spec.platform.split("/")[1]
    return [f"{t}{arch}" if ":" in t.rsplit("/", 1)[-1] else f"{t}:latest{arch}" for t in asked] + [
        names.spec_image(spec.profile, spec.digest)
    ]


def _push_built(engine: Engine, built: dict[str, str], ref: str, resources: Resources, show: Progress) -> str:
    """Push one image, or an index of one image per platform; the REPO@sha256 to deploy by."""
    if len(built) == 1:
        from builder.pin.push import push

        return push(engine, next(iter(built.values())), ref, resources=resources, emit=show).pinned
    from builder.pin.index import push_index

    return push_index(engine, built, ref, resources=resources, emit=show).pinned


def _require_kernels(engine: Engine, image: str) -> None:
    """A host GPU the image has no kernels for is told before any container starts (exit 5)."""
    from builder.host.kernels import preflight
    from builder.host.probe import collect_nvidia

    found = engine.image(image)
    problems = preflight(dict(found.labels) if found else {}, collect_nvidia())
    if problems:
        raise SmokeFailed(
            f"{image} cannot run on this host's GPU: " + "; ".join(problems) + ".",
            hint="Rebuild with the GPU named in the profile (`gpus:`), or --allow-cpu for a CPU run.",
        )


@app.command("smoke")
@guarded
def smoke_cmd(
    image_or_profile: Annotated[str, typer.Argument(help="An image, or a profile (its built image).")],
    json_out: JsonOpt = False,
    allow_cpu: AllowCpuOpt = False,
    timeout: Annotated[int | None, typer.Option("--timeout", help="Seconds before giving up.")] = None,
    min_tflops: Annotated[
        float | None, typer.Option("--min-tflops", help="Fail when the matrix product is slower (TFLOP/s).")
    ] = None,
    min_copy_gbps: Annotated[
        float | None, typer.Option("--min-copy-gbps", help="Fail when the device copy is slower (GB/s).")
    ] = None,
    min_peak_fraction: Annotated[
        float | None,
        typer.Option("--min-peak-fraction", help="Fail below this fraction of the GPU's published peaks."),
    ] = None,
) -> None:
    """Run an image's smoke test: train an LSTM and LeNet-5 on its accelerator, time a matrix
    product and a device copy."""
    from builder import names, pipeline
    from builder.engine.resources import Resources
    from builder.profile.load import profile_source
    from builder.smoke.perf import PerfFloors

    for option, value, top in (
        ("--min-tflops", min_tflops, 1e6),
        ("--min-copy-gbps", min_copy_gbps, 1e6),
        ("--min-peak-fraction", min_peak_fraction, 1.0),
    ):
        if value is not None and not 0 < value <= top:
            raise UsageError(f"{option} must be above 0 and at most {top:g}, not {value:g}")
    floors = PerfFloors(min_tflops, min_copy_gbps, min_peak_fraction)
    engine = open_engine()
    image = image_or_profile
    if engine.image(image) is None:
        try:
            profile_source(image)
        except ProfileError:
            raise ProfileError(f"{image!r} is neither a local image nor a profile") from None
        spec, _ = resolve_ref(image)
        image = names.profile_image(spec.profile, spec.platform)
        if engine.image(image) is None:
            raise ProfileError(f"{image} has not been built; run `dlenv build {image_or_profile}`")
    target = pipeline.smoke_target_from_labels(engine, image)
    if target.accelerator == "cuda" and not allow_cpu and engine.address.startswith("unix://"):
        _require_kernels(engine, image)
    with Resources(engine_opener()).cleaned_up() as resources:
        report = pipeline.smoke(
            engine,
            target,
            resources=resources,
            allow_cpu=allow_cpu,
            timeout=timeout,
            emit=Progress("plain"),
            floors=floors,
        )
    show_smoke(report, json_out=json_out)
    if not report.ok:
        raise SmokeFailed(report.explain())
