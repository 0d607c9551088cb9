"""Performance floors of the smoke test's perf check, as a fraction of a GPU's published peak.

Absolute floors (TFLOP/s, GB/s) travel into the container and the image's own script applies
them. A fraction of the peak needs the peaks, which are compatibility data (matrix.yaml
`gpu_peaks`, with sources): dlenv judges it here, after the run, from the device name the
framework reported. A device without a published peak fails the floor rather than passing it
unjudged: a performance gate that silently does nothing is worse than none.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from builder.facts.matrix import Matrix, load_matrix
from builder.smoke.report import SmokeReport, SmokeResult


@dataclass(frozen=True)
class PerfFloors:
    """What the perf check must reach; None: no floor."""

    min_tflops: float | None = None
    min_copy_gbps: float | None = None
    min_peak_fraction: float | None = None

    def script_args(self) -> tuple[str, ...]:
        """The absolute floors as arguments of the image's smoke script (they override its ENV)."""
        args: list[str] = []
        if self.min_tflops:
            args += ["--min-tflops", f"{self.min_tflops:g}"]
        if self.min_copy_gbps:
            args += ["--min-copy-gbps", f"{self.min_copy_gbps:g}"]
        return tuple(args)

    def merged(self, override: PerfFloors) -> PerfFloors:
        """These floors with the set fields of `override` (the command line) winning."""
        return PerfFloors(
            override.min_tflops or self.min_tflops,
            override.min_copy_gbps or self.min_copy_gbps,
            override.min_peak_fraction or self.min_peak_fraction,
        )


NO_FLOORS = PerfFloors()


def _judged(result: SmokeResult, fraction: float, matrix: Matrix) -> SmokeResult:
    if not result.ok or result.model != "perf":
        return result
    if result.device == "cpu" and result.requested_device not in (None, "cpu"):
        return result  # --allow-cpu fallback: the GPU floors do not apply (the note says so)
    peak = matrix.gpu_peak(result.device_name or "") if result.device != "cpu" else None
    if peak is None:
        what = "the CPU" if result.device == "cpu" else repr(result.device_name)
        return dataclasses.replace(
            result,
            ok=False,
            error=f"no published peak for {what} (matrix.yaml gpu_peaks), so a floor of "
            f"{fraction:g} x peak cannot be judged; set min_tflops / min_copy_gbps instead",
        )
    tflops, gbps = result.matmul_tflops or 0.0, result.copy_gbps or 0.0
    judged = dataclasses.replace(
        result,
        peak_device=peak.name,
        matmul_peak_fraction=round(tflops / peak.bf16_tflops, 4),
        copy_peak_fraction=round(gbps / peak.memory_gbps, 4),
    )
    below = []
    if tflops < fraction * peak.bf16_tflops:
        below.append(f"matrix product {tflops:.4g} TFLOP/s < {fraction:g} x {peak.bf16_tflops:g}")
    if gbps < fraction * peak.memory_gbps:
        below.append(f"device copy {gbps:.4g} GB/s < {fraction:g} x {peak.memory_gbps:g}")
    if below:
        return dataclasses.replace(
            judged, ok=False, error=f"below {fraction:g} of the {peak.name}'s peak: " + "; ".join(below)
        )
    return judged


def judge_peak_fraction(report: SmokeReport, fraction: float | None) -> SmokeReport:
    """The report with each perf result held to `fraction` of its device's published peak."""
    if not fraction:
        return report
    matrix = load_matrix()
    return dataclasses.replace(report, results=tuple(_judged(r, fraction, matrix) for r in report.results))
