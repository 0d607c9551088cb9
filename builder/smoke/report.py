"""What a smoke test reports: one result per framework and model, and the run's verdict."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class SmokeResult:
    """One line of the in-image smoke test's JSON (docs/design.md, Smoke test)."""

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
    gpu_attached: bool = False  # the container got the GPU (False: CPU image, or no GPU here)

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
