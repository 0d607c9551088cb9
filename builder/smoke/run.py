"""Run an image's baked-in smoke test in a container, through testcontainers.

The container gets the accelerator's device options (runopts) and a name and labels chosen
before it is created (resources), so it is removed on success, failure, timeout, Ctrl-C, and
even when Ctrl-C arrives in the middle of the create call. The runner waits in short polls:
no engine call on this path blocks for long.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from builder import names
from builder.engine import docker_engine as engine
from builder.engine import interrupts
from builder.errors import SmokeFailed
from builder.render import runopts
from builder.spec import RuntimeOptions

if TYPE_CHECKING:
    from docker.models.containers import Container

    from builder.engine.resources import Resources

POLL_SECONDS = 2


@dataclass(frozen=True)
class SmokeResult:
    """One line of the in-image smoke test's JSON (DESIGN.md, Smoke test)."""

    ok: bool
    framework: str
    framework_version: str | None = None
    requested_device: str | None = None
    device: str | None = None
    device_name: str | None = None
    model: str | None = None
    steps: int | None = None
    loss_first: float | None = None
    loss_last: float | None = None
    samples_per_s: float | None = None
    seconds: float | None = None
    matmul_tflops: float | None = None
    matmul_dtype: str | None = None
    matmul_n: int | None = None
    copy_gbps: float | None = None
    copy_mib: int | None = None
    min_tflops: float | None = None
    min_copy_gbps: float | None = None
    peak_device: str | None = None  # set when dlenv judged a fraction of the published peak
    matmul_peak_fraction: float | None = None
    copy_peak_fraction: float | None = None
    note: str | None = None
    error: str | None = None
    traceback: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SmokeResult:
        known = {f.name for f in fields(cls)} - {"extra"}
        args = {k: v for k, v in data.items() if k in known}
        args.setdefault("ok", False)
        args.setdefault("framework", "?")
        return cls(**args, extra={k: v for k, v in data.items() if k not in known})

    def as_json(self) -> dict[str, Any]:
        """The result as the image printed it (unset optional fields left out)."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        data = {
            k: v
            for k, v in data.items()
            if v is not None or k in ("framework_version", "device", "device_name")
        }
        return {**data, **self.extra}


@dataclass(frozen=True)
class SmokeReport:
    image: str
    exit_code: int
    results: tuple[SmokeResult, ...]
    stderr_tail: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and bool(self.results) and all(r.ok for r in self.results)

    def explain(self) -> str:
        """Why the run failed, in one paragraph."""
        if not self.results:
            tail = self.stderr_tail.strip().splitlines()[-8:]
            return f"the smoke test of {self.image} printed no result (exit {self.exit_code}).\n" + "\n".join(
                f"    {line}" for line in tail
            )
        failed = [r for r in self.results if not r.ok]
        if not failed:
            return f"the smoke test of {self.image} exited with {self.exit_code}"
        parts = [f"{r.framework}/{r.model}: {r.error or 'failed'}" for r in failed]
        return f"the smoke test of {self.image} failed: " + "; ".join(parts)


def parse_results(stdout: str) -> tuple[SmokeResult, ...]:
    results = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(data, dict):
                results.append(SmokeResult.from_json(data))
    return tuple(results)


def _start_error(image: str, text: str) -> SmokeFailed:
    return SmokeFailed(
        f"the smoke container for {image} could not start: {text[:400]}", hint=engine.start_failure_hint(text)
    )


def _wait(container: Container, image: str, timeout: int) -> int:
    """Poll for the exit code in short calls, so an interrupt is never stuck behind one."""
    deadline = time.monotonic() + timeout
    while True:
        with engine.answering(f"waiting for the smoke test of {image}"):
            container.reload()
            state = container.attrs.get("State", {})
        if state.get("Status") in ("exited", "dead"):
            return int(state.get("ExitCode", 1))
        if time.monotonic() > deadline:
            raise SmokeFailed(f"the smoke test of {image} did not finish within {timeout} s")
        time.sleep(POLL_SECONDS)


def run_smoke(
    image: str,
    *,
    runtime: RuntimeOptions,
    resources: Resources,
    allow_cpu: bool = False,
    timeout: int = 900,
    args: tuple[str, ...] = (),
    environment: dict[str, str] | None = None,
) -> SmokeReport:
    """Start the image's `dlenv-smoke`, wait for it, collect its JSON lines, remove it."""
    # Ryuk (the reaper) is pulled from Docker Hub; offline engines cannot have it, and
    # `resources` removes our container itself.
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
    from docker.errors import APIError
    from testcontainers.core.container import DockerContainer

    name = resources.container_name("smoke")
    command = [names.SMOKE_COMMAND, *args] + (["--allow-cpu"] if allow_cpu else [])
    kwargs = runopts.sdk_kwargs(runtime, devices=not allow_cpu)
    container = DockerContainer(image, name=name, labels=resources.labels, **kwargs)
    container.with_command(command)
    for key, value in (environment or {}).items():
        container.with_env(key, value)
    try:
        with engine.answering(f"starting the smoke test of {image}"):
            try:
                container.start()
            except APIError as exc:
                raise _start_error(image, str(exc)) from None
        wrapped = container.get_wrapped_container()
        code = _wait(wrapped, image, timeout)
        with engine.answering(f"reading the smoke test's output of {image}"):
            out, err = container.get_logs()
        return SmokeReport(
            image, code, parse_results(out.decode(errors="replace")), err.decode(errors="replace")[-3000:]
        )
    finally:
        # The normal path removes its own container. After a signal the caller's cleanup does
        # it instead, with a fresh client: this one may be stuck in the middle of a request.
        if not interrupts.signals_seen():
            try:
                engine.force_remove(container.get_docker_client().client, name)
                resources.forget(name)
            except Exception:  # noqa: BLE001 - resources.cleanup() retries it
                pass
