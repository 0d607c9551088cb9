"""Run an image's baked-in smoke test in a container, through the engine seam.

The container gets the accelerator's device options and a name and labels chosen before it is
created (engine.resources), so it is removed on success, failure, timeout, Ctrl-C, and even
when Ctrl-C arrives in the middle of the create call.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from builder import defaults, names
from builder.engine.protocol import RunRequest
from builder.engine.run_once import TimedOut, run_to_end
from builder.errors import ContainerStartFailed, SmokeFailed
from builder.smoke.report import SmokeReport, parse_results
from builder.spec import RuntimeOptions

if TYPE_CHECKING:
    from builder.engine.protocol import Engine
    from builder.engine.resources import Resources

# What the engine says when a container asks for a GPU and no NVIDIA toolkit is installed.
NO_GPU_SUPPORT = "could not select device driver"


def run_smoke(
    engine: Engine,
    image: str,
    *,
    runtime: RuntimeOptions,
    resources: Resources,
    allow_cpu: bool = False,
    timeout: int = defaults.SMOKE_TIMEOUT,
    args: tuple[str, ...] = (),
    environment: dict[str, str] | None = None,
    platform: str | None = None,
) -> SmokeReport:
    """Start the image's `dlenv-smoke`, wait for it, collect its JSON lines, remove it."""
    name = resources.container_name("smoke")
    command = (names.SMOKE_COMMAND, *args, *(["--allow-cpu"] if allow_cpu else []))
    request = RunRequest(
        image=image,
        command=command,
        name=name,
        labels=resources.labels,
        runtime=runtime,
        devices=not allow_cpu,
        environment=environment or {},
        platform=platform,
    )
    gpu_attached = request.devices and runtime.gpus
    try:
        try:
            finished = run_to_end(engine, request, timeout)
        except ContainerStartFailed as exc:
            if not (gpu_attached and NO_GPU_SUPPORT in exc.message):
                raise
            # An engine without NVIDIA's container toolkit (a CI runner, a laptop): the image's
            # smoke script then runs the CUDA readiness check, which needs no GPU.
            resources.forget(name)
            name = resources.container_name("smoke")
            request = replace(request, name=name, devices=False)
            gpu_attached = False
            finished = run_to_end(engine, request, timeout)
    except ContainerStartFailed as exc:
        raise SmokeFailed(
            f"the smoke container for {image} could not start: {exc.message.split(': ', 1)[-1]}",
            hint=exc.hint,
        ) from None
    except TimedOut:
        raise SmokeFailed(f"the smoke test of {image} did not finish within {timeout} s") from None
    resources.forget(name)
    results = parse_results(finished.stdout)
    return SmokeReport(image, finished.exit_code, results, finished.stderr[-3000:], gpu_attached=gpu_attached)
