"""Build and smoke-test all five CPU profiles for real, on the real engine."""

from __future__ import annotations

from typing import Any

import pytest

from builder.profile import load_profile
from builder.resolve import resolve

from .conftest import dlenv

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
        assert r["loss_last"] < 0.5 * r["loss_first"]
        assert str(r["framework_version"]).startswith(versions[r["framework"]])
        assert r["samples_per_s"] > 0

    # No smoke container is left behind.
    assert not docker_client.containers.list(all=True, filters={"ancestor": f"dlenv/{name}:latest"})


def test_image_is_usable_without_dlenv(docker_client: Any, pytorch_cpu: str) -> None:
    """Plain `docker run IMAGE dlenv-smoke`, non-root user, no build inputs in the image."""
    image = pytorch_cpu
    out = docker_client.containers.run(
        image,
        [
            "bash",
            "-c",
            "id -u; test ! -e /opt/dlenv-build && echo clean; dlenv-smoke --model lstm --steps 60",
        ],
        remove=True,
    ).decode()
    lines = out.splitlines()
    assert lines[0] == "1000" and lines[1] == "clean"
    assert '"ok": true' in lines[-1]
    # Build-only inputs (pip.conf with credentials, CA bundle, wheelhouse) stay in the build
    # stage: no layer of the image was created from them.
    history = " ".join(str(h.get("CreatedBy", "")) for h in docker_client.api.history(image))
    assert "COPY --from=frameworks" in history or "/opt/venv" in history
    assert "dlenv-build" not in history and "pip.conf" not in history
