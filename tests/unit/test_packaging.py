"""The wheel ships templates, profiles, matrix and smoke scripts; dlenv works from anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_wheel_is_self_contained(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next((tmp_path / "dist").glob("dlenv-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for required in (
        "builder/_templates/Dockerfile.j2",
        "builder/profile/builtin/pytorch-cpu.yaml",
        "builder/facts/matrix.yaml",
        "builder/facts/registry.json",
        "builder/_smoke/smoke.py",
        "builder/_smoke/dlenv-smoke",
    ):
        assert required in names, required
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}

    def dlenv(*args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "builder", *args],
            cwd=elsewhere,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    located = subprocess.run(
        [sys.executable, "-c", "import builder; print(builder.__file__)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert located.stdout.startswith(str(target))
    assert len(json.loads(dlenv("profiles", "--json"))) == len(
        list((REPO / "builder/profile/builtin").glob("*.yaml"))
    )
    assert "pytorch" in json.loads(dlenv("matrix", "--json"))["frameworks"]
    for name in ("pytorch-cpu", "jax-rocm", "workstation-cuda"):
        assert json.loads(dlenv("validate", name, "--json"))["profile"] == name
        assert dlenv("render", name) == (REPO / "dockerfiles" / f"{name}.Dockerfile").read_text()
