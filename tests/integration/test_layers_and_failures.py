"""Layer caching and every failure path, against the real engine."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import dlenv, step_output

BASE = 'name: {name}\naccelerator: cpu\nos: debian12\nframeworks: {{pytorch: "2.13"}}\n'


def _derived(client: Any, base: str, tag: str, lines: list[str]) -> str:
    dockerfile = "\n".join([f"FROM {base}", *lines]) + "\n"
    client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
    return tag


def test_changing_extras_reuses_the_framework_layer(tmp_path: Path, docker_client: Any) -> None:
    profile = tmp_path / "cache-probe.yaml"
    profile.write_text(BASE.format(name="cache-probe") + "packages: [six]\n")
    first = dlenv("build", str(profile), "--pip-from-host", "--progress", "plain")
    assert first.code == 0, first.stderr[-3000:]
    # A requirement unique to this run, so no earlier run's extras layer can be reused.
    unique = f"idna!=0.0.{int(time.time())}"
    profile.write_text(BASE.format(name="cache-probe") + f'packages: [six, "{unique}"]\n')
    second = dlenv("build", str(profile), "--pip-from-host", "--progress", "json")
    assert second.code == 0, second.stderr[-3000:]
    assert "Using cache" in step_output(second.stderr, "python3 -m venv")
    assert "Using cache" not in step_output(second.stderr, "constraints.txt")
    out = docker_client.containers.run(
        "dlenv/cache-probe:latest", ["python", "-c", "import six, idna, torch; print('ok')"], remove=True
    )
    assert out.strip() == b"ok"
    docker_client.images.remove("dlenv/cache-probe:latest", force=True)


def test_engine_unreachable_exits_3(tmp_path: Path) -> None:
    run = dlenv("build", "pytorch-cpu", env={"DOCKER_HOST": f"unix://{tmp_path}/no.sock"})
    assert run.code == 3
    assert "cannot be reached" in run.stderr and "DOCKER_HOST" in run.stderr
    assert "Traceback" not in run.stderr


def test_failed_step_exits_4_and_tags_nothing(tmp_path: Path, docker_client: Any) -> None:
    profile = tmp_path / "broken-apt.yaml"
    profile.write_text(BASE.format(name="broken-apt") + "apt: [dlenv-no-such-package]\n")
    run = dlenv("build", str(profile), "--progress", "plain")
    assert run.code == 4
    assert "The build failed at Step" in run.stderr
    assert "dlenv-no-such-package" in run.stderr
    assert "Traceback" not in run.stderr
    assert not docker_client.images.list(name="dlenv/broken-apt")


def test_missing_base_image_exits_4_with_fix() -> None:
    run = dlenv("build", "pytorch-cpu", "--base-image", "dlenv-test/missing-base:1")
    assert run.code == 4
    assert "cannot be pulled" in run.stderr and "make-base-image.sh" in run.stderr


def test_smoke_import_error_exits_5(docker_client: Any, pytorch_cpu: str) -> None:
    image = _derived(
        docker_client,
        pytorch_cpu,
        "dlenv-test/broken-torch:1",
        ["USER root", "RUN rm /opt/venv/lib/python3.11/site-packages/torch/__init__.py", "USER 1000:1000"],
    )
    try:
        run = dlenv("smoke", image)
        assert run.code == 5
        assert "import failed" in run.stderr
        assert not docker_client.containers.list(all=True, filters={"ancestor": image})
    finally:
        docker_client.images.remove(image, force=True)


def test_cuda_label_on_a_cpu_build_fails_readiness(docker_client: Any, pytorch_cpu: str) -> None:
    """An image that claims CUDA but holds torch's CPU wheel: on a host without a GPU the
    smoke test falls back to the readiness check, which must see through the label."""
    runtime = json.dumps({"gpus": True, "devices": [], "group_add": [], "security_opt": [], "shm_size": "1g"})
    image = _derived(
        docker_client,
        pytorch_cpu,
        "dlenv-test/fake-cuda:1",
        [
            "ENV DLENV_SMOKE_DEVICE=cuda DLENV_SMOKE_MODELS=lstm DLENV_SMOKE_STEPS=60",
            f"LABEL io.dlenv.accelerator=cuda io.dlenv.runtime='{runtime}'",
        ],
    )
    try:
        run = dlenv("smoke", image)
        assert run.code == 5
        assert "not a CUDA build" in run.stderr and "pytorch/readiness" in run.stderr
        # --allow-cpu lets a CUDA build train on the CPU; it does not excuse a CPU build
        # that claims CUDA (test_cuda_images proves the allowed path on real CUDA builds).
        allowed = dlenv("smoke", image, "--allow-cpu", "--json")
        assert allowed.code == 5 and "not a CUDA build" in allowed.stderr
        trained = [r for r in allowed.json_lines() if r.get("model") == "lstm"]
        assert trained and trained[0]["device"] == "cpu" and "NOT tested" in trained[0]["note"]
        assert not docker_client.containers.list(all=True, filters={"ancestor": image})
    finally:
        docker_client.images.remove(image, force=True)


def test_smoke_of_unbuilt_profile_is_input_error() -> None:
    run = dlenv("smoke", "pytorch-rocm")
    assert run.code == 2 and "has not been built" in run.stderr


@pytest.mark.parametrize("ref", ["no/such-image:1"])
def test_smoke_of_unknown_image_is_input_error(ref: str) -> None:
    run = dlenv("smoke", ref)
    assert run.code == 2 and "neither a local image nor a profile" in run.stderr
