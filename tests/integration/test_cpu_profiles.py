"""Build and smoke-test all five CPU profiles for real, on the real engine."""

from __future__ import annotations

import json
from typing import Any

import pytest

from builder.profile.load import load_profile
from builder.resolve.decide import resolve

from .conftest import dlenv, layer_paths

CPU_PROFILES = ["pytorch-cpu", "tensorflow-cpu", "keras-cpu", "jax-cpu", "mxnet-cpu"]


@pytest.mark.parametrize("name", CPU_PROFILES)
def test_build_and_smoke(name: str, docker_client: Any) -> None:
    spec = resolve(load_profile(name)[0])
    build = dlenv("build", name, "--pip-from-host", "--progress", "plain")
    assert build.code == 0, build.stderr[-4000:]
    image_id = build.stdout.strip().splitlines()[-1]
    image = docker_client.images.get(f"dlenv/{name}:latest")
    assert image.id == image_id
    assert image.labels["io.dlenv.spec-digest"] == spec.digest

    smoke = dlenv("smoke", name, "--json")
    assert smoke.code == 0, smoke.stderr[-3000:] + smoke.stdout[-3000:]
    results = smoke.json_lines()
    expected = {(f, m) for f in spec.smoke.frameworks for m in spec.smoke.models}
    assert {(r["framework"], r["model"]) for r in results} == expected
    versions = {f.name: f.version for f in spec.frameworks}
    for r in results:
        assert r["ok"] is True and r["device"] == "cpu"
        assert str(r["framework_version"]).startswith(versions[r["framework"]])
        if r["model"] == "perf":  # the performance step: fp32 matrix product and a copy, timed
            assert r["matmul_dtype"] == "float32" and r["matmul_tflops"] > 0 and r["copy_gbps"] > 0
        else:
            assert r["loss_last"] < 0.5 * r["loss_first"]
            assert r["samples_per_s"] > 0

    # No smoke container is left behind.
    assert not docker_client.containers.list(all=True, filters={"ancestor": f"dlenv/{name}:latest"})


def test_image_is_usable_without_dlenv(docker_client: Any, pytorch_cpu: str) -> None:
    """Plain `docker run IMAGE dlenv-smoke` as another tool runs it (testcontainers here): the
    non-root user, no build inputs in the image, the smoke test baked in."""
    from testcontainers.core.container import DockerContainer

    script = "id -u; test ! -e /opt/dlenv-build && echo clean; dlenv-smoke --model lstm --steps 60"
    with DockerContainer(pytorch_cpu).with_command(["bash", "-c", script]) as container:
        code = container.get_wrapped_container().wait(timeout=600)["StatusCode"]
        out = container.get_logs()[0].decode()
    lines = out.splitlines()
    assert code == 0, out
    assert lines[0] == "1000" and lines[1] == "clean"
    assert '"ok": true' in lines[-1]
    # Build-only inputs (pip.conf, CA bundle, wheelhouse, uv) are in no layer of the image.
    assert_no_build_inputs(layer_paths(docker_client, pytorch_cpu))


def assert_no_build_inputs(paths: set[str]) -> None:
    paths = {p.removeprefix("./") for p in paths}
    assert any(p.startswith("opt/venv/lib/") for p in paths), "the scan saw the environment"
    leaked = [
        p
        for p in paths
        if any(s in p for s in ("dlenv-build", "dlenv-lock", "dlenv-extras", "uv.toml", "/wheels/"))
        or p.endswith(("/ca.pem", "opt/pip.conf"))
        or (p.endswith(".whl") and not p.startswith("usr/share/python-wheels/"))  # Debian's own
    ]
    assert not leaked, leaked[:20]


def test_performance_floors_fail_with_the_numbers(docker_client: Any, pytorch_cpu: str) -> None:
    """A floor no CPU reaches: exit 5 naming the measured and the required figure."""
    run = dlenv("smoke", "pytorch-cpu", "--json", "--min-tflops", "100000")
    assert run.code == 5, run.stderr[-2000:]
    perf = next(r for r in run.json_lines() if r["model"] == "perf")
    assert perf["ok"] is False and perf["min_tflops"] == 100000
    assert f"{perf['matmul_tflops']:.4g} TFLOP/s < 100000" in perf["error"]
    assert "below the performance floor" in run.stderr and "Traceback" not in run.stderr
    assert all(r["ok"] for r in run.json_lines() if r["model"] != "perf")  # training still passed

    fraction = dlenv("smoke", "pytorch-cpu", "--min-peak-fraction", "0.5")
    assert fraction.code == 5 and "no published peak for the CPU" in fraction.stderr

    # The image applies its own floors without dlenv: plain docker run, floor from the ENV.
    container = docker_client.containers.run(
        pytorch_cpu,
        ["dlenv-smoke", "--model", "perf"],
        environment={"DLENV_SMOKE_MIN_COPY_GBPS": "1000000"},
        detach=True,
    )
    try:
        assert container.wait(timeout=300)["StatusCode"] == 1
        line = json.loads(container.logs(stderr=False).decode().strip().splitlines()[-1])
        assert line["ok"] is False and "GB/s < 1e+06" in line["error"]
    finally:
        container.remove(force=True)
