"""`dlenv validate --resolve`: uv resolves for the image's platform against the real PyPI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import dlenv

SETS = {
    "tensorflow-keras": 'accelerator: cpu\nframeworks: {tensorflow: "2.21", keras: "3.15"}\n',
    "jax-keras": 'accelerator: cpu\nframeworks: {keras: {version: "3.15", backend: jax}}\n',
    # The workstation's TensorFlow/JAX/Keras CUDA set, for ubuntu24.04 / Python 3.12.
    "workstation-tf-jax-keras": "accelerator: cuda\nos: ubuntu24.04\nframeworks:\n"
    '  tensorflow: "2.21"\n  keras: {version: "3.15", backend: jax}\n'
    '  jax: "0.10"\n',
}


@pytest.mark.parametrize("name", sorted(SETS))
def test_real_resolver_agrees(name: str, tmp_path: Path) -> None:
    profile = tmp_path / f"{name}.yaml"
    profile.write_text(f"name: {name}\n" + SETS[name])
    run = dlenv("validate", str(profile), "--resolve", "--json")
    assert run.code == 0, run.stderr[-3000:]
    data = json.loads(run.stdout)
    resolved = data["resolution"]["packages"]
    for fw in data["frameworks"]:
        for req in fw["requirements"]:
            package = req.split("[")[0].split("==")[0].split("<")[0]
            if "==" in req:
                assert resolved[package] == req.split("==")[1].split("+")[0], req
    if name.startswith("workstation"):
        # One CUDA major: the CUDA 12 library wheels, none of CUDA 13.
        assert any(p.endswith("-cu12") for p in resolved)
        assert not any(p.endswith("-cu13") for p in resolved)
        assert "uv" in data["resolution"]["tool"]


def test_conflicting_pair_fails_with_exit_2_naming_both(tmp_path: Path) -> None:
    profile = tmp_path / "clash.yaml"
    profile.write_text(
        'name: clash\naccelerator: cpu\nframeworks: {tensorflow: "2.21"}\npackages: ["keras==3.10.0"]\n'
    )
    run = dlenv("validate", str(profile), "--resolve")
    assert run.code == 2, run.stderr
    assert "tensorflow" in run.stderr and "keras" in run.stderr
    assert "Traceback" not in run.stderr


def test_unreachable_index_exits_6(tmp_path: Path) -> None:
    profile = tmp_path / "offline.yaml"
    profile.write_text(
        'name: offline\naccelerator: cpu\nframeworks: {jax: "0.10"}\n'
        'pip: {index_url: "http://127.0.0.1:9/simple"}\n'
    )
    run = dlenv("validate", str(profile), "--resolve")
    assert run.code == 6, run.stderr
    assert "could not be reached" in run.stderr and "Traceback" not in run.stderr
