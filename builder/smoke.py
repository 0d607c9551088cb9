"""Run an image's baked-in smoke test in a container, through testcontainers.

The container gets the accelerator's device options (CUDA: a GPU device request; ROCm:
/dev/kfd, /dev/dri, video/render groups, seccomp) and is always removed, on success,
failure, timeout or Ctrl-C.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from builder.errors import SmokeFailed


@dataclass(frozen=True)
class SmokeReport:
    image: str
    exit_code: int
    results: list[dict[str, Any]]
    stderr_tail: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and bool(self.results) and all(r.get("ok") for r in self.results)


def container_kwargs(accelerator: str, runtime: dict[str, Any], allow_cpu: bool) -> dict[str, Any]:
    """docker SDK create() options for the accelerator (none when a CPU run is allowed)."""
    kwargs: dict[str, Any] = {"shm_size": runtime.get("shm_size", "2g")}
    if allow_cpu and accelerator != "cpu":
        return kwargs
    if runtime.get("gpus"):
        from docker.types import DeviceRequest

        kwargs["device_requests"] = [DeviceRequest(count=-1, capabilities=[["gpu"]])]
    if runtime.get("devices"):
        kwargs["devices"] = [f"{d}:{d}:rwm" for d in runtime["devices"]]
    if runtime.get("group_add"):
        kwargs["group_add"] = list(runtime["group_add"])
    if runtime.get("security_opt"):
        kwargs["security_opt"] = list(runtime["security_opt"])
    return kwargs


def parse_results(stdout: str) -> list[dict[str, Any]]:
    results = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                results.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return results


def run_smoke(
    image: str,
    *,
    accelerator: str,
    runtime: dict[str, Any],
    allow_cpu: bool = False,
    timeout: int = 900,
    args: tuple[str, ...] = (),
) -> SmokeReport:
    """Start the image's `dlenv-smoke`, wait for it, collect its JSON lines, remove it."""
    # Ryuk (the reaper) is pulled from Docker Hub; offline engines cannot have it, and we
    # remove our container ourselves in `finally`.
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
    import requests
    from docker.errors import APIError, DockerException
    from testcontainers.core.container import DockerContainer

    command = ["dlenv-smoke", *args] + (["--allow-cpu"] if allow_cpu else [])
    container = DockerContainer(image).with_command(command)
    container.with_kwargs(**container_kwargs(accelerator, runtime, allow_cpu))
    try:
        try:
            container.start()
        except APIError as exc:
            text = str(exc)
            hint = None
            if "could not select device driver" in text:
                hint = ("No GPU runtime: install the NVIDIA container toolkit and run "
                        "`nvidia-ctk runtime configure --runtime=docker`, or use --allow-cpu.")
            elif "/dev/kfd" in text or "/dev/dri" in text:
                hint = "No AMD GPU device nodes on this host (/dev/kfd, /dev/dri); or use --allow-cpu."
            raise SmokeFailed(f"the smoke container for {image} could not start: {text[:400]}",
                              hint=hint) from None
        wrapped = container.get_wrapped_container()
        try:
            status = wrapped.wait(timeout=timeout)
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
            raise SmokeFailed(f"the smoke test of {image} did not finish within {timeout} s") from None
        out, err = container.get_logs()
        return SmokeReport(image, int(status.get("StatusCode", 1)),
                           parse_results(out.decode(errors="replace")),
                           err.decode(errors="replace")[-3000:])
    finally:
        try:
            container.stop()  # stop() force-removes the container (and its volumes)
        except DockerException:
            pass


def explain_failure(report: SmokeReport) -> str:
    """Why a smoke run failed, in one paragraph."""
    if not report.results:
        tail = report.stderr_tail.strip().splitlines()[-8:]
        return (f"the smoke test of {report.image} printed no result (exit {report.exit_code}).\n"
                + "\n".join(f"    {line}" for line in tail))
    failed = [r for r in report.results if not r.get("ok")]
    parts = [f"{r.get('framework')}/{r.get('model')}: {r.get('error', 'failed')}" for r in failed]
    return f"the smoke test of {report.image} failed: " + "; ".join(parts)
