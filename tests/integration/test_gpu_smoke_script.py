"""scripts/gpu-smoke.sh, the GPU run without Docker (docs/gpu-run.md), run for real here.

This machine has no GPU: the full run is the CPU dry run of a small profile (jax-cpu: a real
venv, the image's requirements, the image's smoke scripts), the GPU mode is run up to its
preflight with a stand-in nvidia-smi, and the plan of a CUDA profile is compared with what
its rendered Dockerfile installs and sets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from builder.profile.load import load_profile
from builder.resolve.decide import resolve
from tests.paths import REPO

from .conftest import dlenv

SCRIPT = REPO / "scripts" / "gpu-smoke.sh"


def gpu_smoke(
    *args: str, env: dict[str, str] | None = None, timeout: int = 900
) -> subprocess.CompletedProcess[str]:
    """The script as a user runs it, with this interpreter's dlenv (any current folder)."""
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        env={**os.environ, "DLENV_PYTHON": sys.executable, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_cpu_dry_run_of_a_small_profile(tmp_path: Path) -> None:
    out, work = tmp_path / "out", tmp_path / "work"
    run = gpu_smoke("jax-cpu", "--cpu-dry-run", "--out", str(out), "--work", str(work))
    assert run.returncode == 0, run.stderr[-4000:]
    spec = resolve(load_profile("jax-cpu")[0])
    results = lines_of(out / "results.jsonl")
    assert {(r["framework"], r["model"]) for r in results} == {
        (f, m) for f in spec.smoke.frameworks for m in spec.smoke.models
    }
    for r in results:
        assert r["ok"] is True and r["device"] == "cpu", r
        assert r["framework_version"] == spec.framework("jax").version  # type: ignore[union-attr]
        if r["model"] == "perf":
            assert r["matmul_tflops"] > 0 and r["copy_gbps"] > 0
        else:
            assert r["loss_last"] < 0.5 * r["loss_first"]
    # The raw lines of the image's script are kept too; results.jsonl is what was judged.
    assert len(lines_of(out / "smoke.jsonl")) == len(results)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ok"] is True and summary["mode"] == "cpu-dry-run" and summary["failed"] == []
    timings = json.loads((out / "timings.json").read_text())
    assert {"plan", "venv", "install", "smoke", "total"} <= set(timings)
    assert summary["bytes"]["wheel_bytes"] > 10_000_000  # jax and jaxlib, from the index
    assert summary["bytes"]["venv_bytes"] > summary["bytes"]["wheel_bytes"]
    freeze = (out / "pip-freeze.txt").read_text().splitlines()
    assert f"jax=={spec.framework('jax').version}" in freeze  # type: ignore[union-attr]
    assert (out / "frameworks.txt").read_text().split() == spec.framework_requirements()
    assert (out / "nvidia-smi.txt").is_file() and (out / "host.txt").is_file()
    assert (work / "smoke" / "smoke.py").read_bytes() == (
        REPO / "dockerfiles/dlenv/smoke/smoke.py"
    ).read_bytes()
    assert "passed" in run.stderr


def test_a_bad_profile_is_a_clear_error(tmp_path: Path) -> None:
    run = gpu_smoke("no-such-profile", "--cpu-dry-run", "--out", str(tmp_path / "out"), timeout=120)
    assert run.returncode == 2
    assert "'no-such-profile' is neither a profile file nor a built-in profile" in run.stderr
    assert "pytorch-cuda-debian" in run.stderr  # the built-ins are listed
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "out").exists()

    broken = tmp_path / "broken.yaml"
    broken.write_text("name: broken\naccelerator: cuda\nframeworks: {pytorch: '1.0'}\n")
    run = gpu_smoke(str(broken), "--cpu-dry-run", "--out", str(tmp_path / "out"), timeout=120)
    assert run.returncode == 2 and "gpu-smoke: error:" in run.stderr and "pytorch" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["jax-cpu"], "is a CPU profile: there is nothing for a GPU to prove"),
        (["pytorch-rocm", "--cpu-dry-run"], "is a ROCm profile"),
        (["--steps", "x"], "--steps: x is not a positive number"),
        (["--bogus"], "unknown option --bogus"),
        (["--lock", "x.lock"], "--lock goes with --locked"),
        (["--min-peak-fraction", "2"], "--min-peak-fraction: 2 is not between 0 and 1"),
    ],
)
def test_refusals(args: list[str], message: str, tmp_path: Path) -> None:
    run = gpu_smoke(*args, "--out", str(tmp_path / "out"), timeout=120)
    assert run.returncode == 2, run.stderr
    assert message in run.stderr
    assert not (tmp_path / "out").exists()


def test_plan_of_a_cuda_profile_is_what_its_image_installs_and_sets(tmp_path: Path) -> None:
    """tf-jax-cuda-debian: the requirement lines of the Dockerfile's pip install, its ENV lines,
    its library fix on LD_LIBRARY_PATH (in the venv), and of the caller's LD_LIBRARY_PATH only
    the folder that holds the driver."""
    driver, toolkit = tmp_path / "driver", tmp_path / "toolkit"
    driver.mkdir()
    toolkit.mkdir()
    (driver / "libcuda.so.1").write_bytes(b"")
    (toolkit / "libcudart.so.12").write_bytes(b"")
    out, work = tmp_path / "out", tmp_path / "work"
    run = gpu_smoke(
        "tf-jax-cuda-debian",
        "--plan-only",
        "--out",
        str(out),
        "--work",
        str(work),
        env={"LD_LIBRARY_PATH": f"{toolkit}:{driver}", "PYTHONPATH": "/elsewhere"},
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    dockerfile = dlenv("render", "tf-jax-cuda-debian").stdout
    spec = json.loads(dlenv("validate", "tf-jax-cuda-debian", "--json").stdout)
    requirements = (out / "frameworks.txt").read_text().split()
    assert requirements == [r for f in spec["frameworks"] for r in f["requirements"]]
    for requirement in requirements:
        assert f"      '{requirement}'" in dockerfile or f"      {requirement} " in dockerfile
    env = dict(line.split("=", 1) for line in (out / "runtime.env").read_text().splitlines())
    for key, value in spec["env"]:
        assert f'ENV {key}="{value}"' in dockerfile
        assert env[key] == value
    assert env["KERAS_BACKEND"] == "jax"
    site = work / "venv" / "lib" / f"python{spec['python']}" / "site-packages"
    assert env["LD_LIBRARY_PATH"] == f"{site}/nvidia/cusolver/lib:{driver}"
    assert spec["library_path"] == ["/opt/venv/lib/python3.11/site-packages/nvidia/cusolver/lib"]
    assert env["PATH"].startswith(f"{work / 'venv'}/bin:") and "PYTHONPATH" not in env
    assert env["DLENV_SMOKE_FRAMEWORKS"] == "tensorflow,jax,keras"
    plan = json.loads((out / "plan.json").read_text())
    assert plan["floors"]["min_peak_fraction"] == 0.3
    assert not (work / "venv").exists()  # the plan installs nothing


def fake_nvidia_smi(folder: Path, driver: str, name: str = "NVIDIA H200", cc: str = "9.0") -> Path:
    script = folder / "nvidia-smi"
    script.write_text(
        "#!/bin/sh\n"
        'case "$*" in\n'
        "  *--query-gpu*) echo 'name, driver_version, memory.total [MiB], compute_cap';"
        f" echo '{name}, {driver}, 143771 MiB, {cc}' ;;\n"
        "  *) echo 'stand-in nvidia-smi -q' ;;\n"
        "esac\n"
    )
    script.chmod(0o755)
    return script


def test_gpu_mode_stops_before_installing_on_a_host_it_cannot_prove(tmp_path: Path) -> None:
    """No GPU, a driver older than the profile's CUDA needs, or a GPU whose peak is unknown to
    judge the perf floor by: exit 5 before any download, with dlenv doctor's verdict and a
    summary."""
    out, work = tmp_path / "out", tmp_path / "work"
    run = gpu_smoke(
        "pytorch-cuda-debian",
        "--out",
        str(out),
        "--work",
        str(work),
        env={"NVIDIA_SMI": str(tmp_path / "missing" / "nvidia-smi")},
        timeout=120,
    )
    assert run.returncode == 5, run.stderr
    assert "no NVIDIA GPU here" in run.stderr and "--cpu-dry-run" in run.stderr
    assert not (work / "venv").exists()

    smi = fake_nvidia_smi(tmp_path, "535.104.05")
    run = gpu_smoke(
        "pytorch-cuda-debian",
        "--out",
        str(out),
        "--work",
        str(work),
        env={"NVIDIA_SMI": str(smi)},
        timeout=120,
    )
    assert run.returncode == 5, run.stderr
    assert "driver 535.104.05 is older than" in run.stderr
    checks = {c["name"]: c for c in json.loads((out / "preflight.json").read_text())}
    assert checks["nvidia-driver"]["status"] == "fail" and checks["gpu0"]["status"] == "ok"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ok"] is False and summary["failed_steps"] == ["gpu-preflight"]
    assert (out / "nvidia-smi.txt").read_text().strip() == "stand-in nvidia-smi -q"
    assert not (work / "venv").exists()

    smi = fake_nvidia_smi(tmp_path, "580.95.05", name="NVIDIA L4", cc="8.9")
    run = gpu_smoke(
        "pytorch-cuda-debian",
        "--out",
        str(out),
        "--work",
        str(work),
        env={"NVIDIA_SMI": str(smi)},
        timeout=120,
    )
    assert run.returncode == 5, run.stderr
    assert "NVIDIA L4 has no published peak" in run.stderr and "--min-peak-fraction 0" in run.stderr
    assert not (work / "venv").exists()


def test_locked_dry_run_with_pip(tmp_path: Path) -> None:
    """--locked installs exactly the lock's hash-pinned wheels and checks the installed set, as
    `dlenv build --locked` does; pip stands in for uv where a host has none."""
    lock = tmp_path / "jax-cpu.dlenv.lock"
    made = dlenv("lock", "jax-cpu", "--lock", str(lock))
    assert made.code == 0, made.stderr
    out, work = tmp_path / "out", tmp_path / "work"
    run = gpu_smoke(
        "jax-cpu",
        "--cpu-dry-run",
        "--locked",
        "--lock",
        str(lock),
        "--installer",
        "pip",
        "--models",
        "lstm",
        "--out",
        str(out),
        "--work",
        str(work),
    )
    assert run.returncode == 0, run.stderr[-4000:]
    plan = json.loads((out / "plan.json").read_text())
    assert plan["locked"]["file"] == str(lock)
    assert all("--hash=sha256:" in line for line in (out / "frameworks.txt").read_text().splitlines())
    assert "installed set matches the lock" in (out / "logs" / "check-installed.out").read_text()
    assert "installer: pip" in (out / "host.txt").read_text()
    assert [(r["framework"], r["model"], r["ok"]) for r in lines_of(out / "results.jsonl")] == [
        ("jax", "lstm", True)
    ]
