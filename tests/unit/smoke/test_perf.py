"""The smoke test's performance step: the script's floors, dlenv's peak fraction, the profile."""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

import pytest

from builder import names, paths
from builder.errors import ProfileError
from builder.facts.matrix import load_matrix
from builder.profile.load import parse_profile
from builder.render.dockerfile import render_dockerfile
from builder.resolve.decide import resolve
from builder.smoke.perf import PerfFloors, judge_peak_fraction
from builder.smoke.report import SmokeReport, SmokeResult

_spec = importlib.util.spec_from_file_location("dlenv_smoke_perf", paths.smoke_scripts_dir() / "smoke.py")
assert _spec and _spec.loader
harness = importlib.util.module_from_spec(_spec)
sys.modules["dlenv_smoke_perf"] = harness
_spec.loader.exec_module(harness)

H100 = "NVIDIA H100 80GB HBM3"


def _measured(
    device: str = "cuda", name: str = H100, tflops: float = 700.0, gbps: float = 3000.0
) -> dict[str, Any]:
    return {"device": device, "device_name": name, "matmul_tflops": tflops, "copy_gbps": gbps, "seconds": 1.0}


def test_script_passes_without_floors_and_fails_below_each() -> None:
    assert harness.perf_verdict("cuda", _measured(), {}, allow_cpu=False) == (True, None)
    ok, why = harness.perf_verdict("cuda", _measured(tflops=50), {"min_tflops": 400.0}, allow_cpu=False)
    assert not ok and "matrix product 50 TFLOP/s < 400" in why and H100 in why
    ok, why = harness.perf_verdict("cuda", _measured(gbps=900), {"min_copy_gbps": 2000.0}, allow_cpu=False)
    assert not ok and "device copy 900 GB/s < 2000" in why


def test_script_never_passes_a_gpu_profile_on_the_cpu_silently() -> None:
    cpu = _measured(device="cpu", name="cpu", tflops=0.2, gbps=40)
    ok, why = harness.perf_verdict("cuda", cpu, {}, allow_cpu=False)
    assert not ok and "no CUDA GPU visible" in why
    # --allow-cpu on a runner without the GPU: accepted, GPU floors not applied (the note says so).
    assert harness.perf_verdict("cuda", cpu, {"min_tflops": 400.0}, allow_cpu=True) == (True, None)


def test_script_perf_report_carries_the_floors(monkeypatch: pytest.MonkeyPatch) -> None:
    class Runner:
        @staticmethod
        def perf(device: str, allow_cpu: bool) -> dict[str, Any]:
            return {**_measured(device="cpu", name="cpu", tflops=0.2, gbps=40), "framework_version": "x"}

    report = harness.run_perf(Runner, "pytorch", "cpu", {"min_tflops": 1.0, "min_copy_gbps": None}, False)
    assert report["model"] == "perf" and report["min_tflops"] == 1.0 and "min_copy_gbps" not in report
    assert report["ok"] is False and "0.2 TFLOP/s < 1" in str(report["error"])


def test_perfstep_reports_rates_from_times() -> None:
    sys.path.insert(0, str(paths.smoke_scripts_dir()))
    try:
        import perfstep
    finally:
        sys.path.pop(0)
    result = perfstep.report(
        version="1",
        device="cuda",
        device_name=H100,
        dtype="bfloat16",
        n=8192,
        matmul_s=0.002,
        copy_mib=1024,
        copy_s=0.001,
        seconds=1.0,
    )
    assert result["matmul_tflops"] == pytest.approx(2 * 8192**3 / 0.002 / 1e12, rel=1e-3)
    assert result["copy_gbps"] == pytest.approx(2 * 2**30 / 0.001 / 1e9, rel=1e-3)
    calls: list[int] = []
    per_call = perfstep.seconds_per_call(lambda: calls.append(1), lambda: None)
    assert per_call > 0 and len(calls) > 3  # warm-up, then batches until the budget is spent


def _report(*results: SmokeResult) -> SmokeReport:
    return SmokeReport("img", 0, results, "")


def _perf(name: str = H100, tflops: float = 700.0, gbps: float = 3000.0, device: str = "cuda") -> SmokeResult:
    return SmokeResult(
        ok=True,
        framework="pytorch",
        requested_device=device,
        device=device,
        device_name=name,
        model="perf",
        matmul_tflops=tflops,
        copy_gbps=gbps,
    )


def test_peak_fraction_is_judged_against_the_named_device() -> None:
    peak = load_matrix().gpu_peak(H100)
    assert peak is not None and peak.name == "NVIDIA H100 SXM5"
    judged = judge_peak_fraction(_report(_perf()), 0.5).results[0]
    assert judged.ok and judged.peak_device == "NVIDIA H100 SXM5"
    assert judged.matmul_peak_fraction == pytest.approx(700 / peak.bf16_tflops, abs=1e-3)
    slow = judge_peak_fraction(_report(_perf(tflops=100)), 0.5).results[0]
    assert not slow.ok and "below 0.5 of the NVIDIA H100 SXM5's peak" in str(slow.error)


@pytest.mark.parametrize(
    ("name", "expected"), [("NVIDIA H100 PCIe", "NVIDIA H100 PCIe"), ("NVIDIA H200", "NVIDIA H200")]
)
def test_specific_rows_win(name: str, expected: str) -> None:
    peak = load_matrix().gpu_peak(name)
    assert peak is not None and peak.name == expected


def test_unknown_devices_and_the_cpu_fail_the_fraction_instead_of_passing_unjudged() -> None:
    unknown = judge_peak_fraction(_report(_perf(name="Some Future GPU")), 0.5).results[0]
    assert not unknown.ok and "no published peak for 'Some Future GPU'" in str(unknown.error)
    cpu = judge_peak_fraction(_report(_perf(name="cpu", device="cpu")), 0.5).results[0]
    assert not cpu.ok and "no published peak for the CPU" in str(cpu.error)


def test_fraction_leaves_training_results_and_allow_cpu_fallbacks_alone() -> None:
    training = SmokeResult(ok=True, framework="pytorch", model="lstm", device="cuda", device_name=H100)
    fallback = SmokeResult(
        ok=True, framework="pytorch", model="perf", requested_device="cuda", device="cpu", device_name="cpu"
    )
    assert judge_peak_fraction(_report(training, fallback), 0.9).results == (training, fallback)
    assert judge_peak_fraction(_report(_perf(tflops=1)), None).results[0].ok  # no floor, no judgement


def test_command_line_floors_win_and_reach_the_script_as_arguments() -> None:
    profile = PerfFloors(min_tflops=100.0, min_peak_fraction=0.4)
    merged = profile.merged(PerfFloors(min_copy_gbps=500.0, min_peak_fraction=0.6))
    assert merged == PerfFloors(100.0, 500.0, 0.6)
    assert PerfFloors(min_tflops=2.5, min_copy_gbps=1000.0).script_args() == (
        "--min-tflops",
        "2.5",
        "--min-copy-gbps",
        "1000",
    )


PROFILE = "name: t\naccelerator: cuda\nframeworks: {pytorch: null}\n"


def test_profile_floors_are_baked_into_the_image() -> None:
    spec = resolve(
        parse_profile(PROFILE + "smoke: {min_tflops: 400, min_copy_gbps: 2500, min_peak_fraction: 0.4}")
    )
    text = render_dockerfile(spec)
    assert "ENV DLENV_SMOKE_MIN_TFLOPS=400 DLENV_SMOKE_MIN_COPY_GBPS=2500" in text
    assert f'{names.LABEL_SMOKE_PEAK_FRACTION}="0.4"' in text
    assert "DLENV_SMOKE_MODELS=lstm,lenet,perf" in text
    plain = render_dockerfile(resolve(parse_profile(PROFILE)))
    assert "DLENV_SMOKE_MIN" not in plain and names.LABEL_SMOKE_PEAK_FRACTION not in plain


@pytest.mark.parametrize(
    "bad",
    ["min_tflops: 0", "min_tflops: -5", 'min_tflops: "400"', "min_tflops: true", "min_peak_fraction: 1.5"],
)
def test_bad_floors_are_profile_errors(bad: str) -> None:
    with pytest.raises(ProfileError, match="smoke.min_"):
        parse_profile(PROFILE + f"smoke: {{{bad}}}")
