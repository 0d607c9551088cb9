"""The console lines of recorded readiness results (tests/fixtures/smoke: real `dlenv smoke
--json` output of the Debian CUDA images built in CI)."""

from __future__ import annotations

import pytest

from builder.cli.common import _smoke_text
from builder.smoke.report import SmokeReport, parse_results
from tests.paths import FIXTURES

RECORDED = FIXTURES / "smoke"


@pytest.mark.parametrize(
    ("name", "framework_line", "image_line"),
    [
        (
            "pytorch-cuda-debian",
            "pytorch 2.13.0+cu130 readiness: CUDA 13.0, cuDNN 9.20.0, sm_75 sm_80 sm_86 sm_90 sm_100 sm_120; "
            "26 libraries loaded (no GPU: libraries and build info only)",
            "image  readiness: CUDA major 13, cuDNN 9.20.0.48; pip check clean",
        ),
        (
            "tf-jax-cuda-debian",
            "tensorflow 2.21.0 readiness: CUDA 12.5, cuDNN 9.28.0, sm_60 sm_70 sm_80 sm_89 compute_90; "
            "19 libraries loaded (no GPU: libraries and build info only)",
            "image  readiness: CUDA major 12, cuDNN 9.28.0.42; pip check clean",
        ),
        (
            "workstation-cuda-debian",
            "pytorch 2.10.0+cu128 readiness: CUDA 12.8, cuDNN 9.10.2, sm_70 sm_75 sm_80 sm_86 sm_90 sm_100 "
            "sm_120; 26 libraries loaded (no GPU: libraries and build info only)",
            "image  readiness: CUDA major 12, cuDNN 9.10.2.21; pip check clean",
        ),
    ],
)
def test_recorded_readiness_reads_as_one_line_each(name: str, framework_line: str, image_line: str) -> None:
    results = parse_results((RECORDED / f"{name}.jsonl").read_text())
    report = SmokeReport(f"dlenv/{name}:latest", 0, results, "")
    assert report.ok
    lines = [_smoke_text(r) for r in results]
    assert framework_line in lines and image_line in lines
    assert any("no NVIDIA GPU here" in line for line in lines)
