"""doctor on this very host (no GPU): ready for pytorch-cpu, not for pytorch-cuda."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from .conftest import dlenv


def test_cpu_profile_ready(docker_client: Any) -> None:
    run = dlenv("doctor", "--profile", "pytorch-cpu", "--json")
    assert run.code == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert report["ready"] is True
    assert {c["name"]: c["status"] for c in report["checks"]}["docker"] == "ok"
    assert report["host"]["cpu"]["cores"] >= 1


def test_cuda_profile_blocked_by_missing_driver(docker_client: Any) -> None:
    run = dlenv("doctor", "--profile", "pytorch-cuda")
    assert run.code == 1
    assert "nvidia-driver" in run.stdout and "NVIDIA driver" in run.stdout
    assert "fix:" in run.stdout and "Traceback" not in run.stderr


def test_suggest_writes_a_valid_cpu_profile(tmp_path: Path, docker_client: Any) -> None:
    target = tmp_path / "suggested.yaml"
    run = dlenv("doctor", "--suggest", str(target))
    assert run.code == 0, run.stderr
    suggested = yaml.safe_load(target.read_text())
    assert suggested["accelerator"] == "cpu"
    assert dlenv("validate", str(target)).code == 0
    again = dlenv("doctor", "--suggest", str(target))
    assert again.code == 2 and "--force" in again.stderr


def test_probe_on_cpu_profile(docker_client: Any) -> None:
    run = dlenv("doctor", "--profile", "pytorch-cpu", "--probe", "--json")
    assert run.code == 0, run.stdout + run.stderr
    probe = next(c for c in json.loads(run.stdout)["checks"] if c["name"] == "probe")
    assert probe["status"] == "ok"
