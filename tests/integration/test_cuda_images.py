"""CUDA images built for real and proven as far as a host without a GPU allows.

Each built-in Debian CUDA profile (the frameworks' CUDA wheels from PyPI on debian:bookworm-slim)
is built on the real engine, then `dlenv smoke` runs the CUDA readiness check inside it: every
CUDA library each framework loads at GPU start-up loads, each framework's build information
agrees with the BuildSpec, one CUDA major and one cuDNN are installed, `pip check` is clean.
The negative tests break one image on purpose and expect exit 5 naming the library.

These images weigh 5-11 GB: each is removed (both tags, its layers with them) when its tests end.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from packaging.version import Version

from builder import names
from builder.profile.load import load_profile
from builder.resolve.decide import resolve
from builder.spec import BuildSpec

from .conftest import Run, dlenv

CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"  # the host's, for a TLS-intercepting proxy
PROFILES = ["pytorch-cuda-debian", "tf-jax-cuda-debian", "workstation-cuda-debian"]


@pytest.fixture(scope="module", params=PROFILES)
def cuda_image(request: pytest.FixtureRequest, docker_client: Any) -> Iterator[tuple[BuildSpec, str]]:
    """One profile's image, built once for its tests and removed after them."""
    name = str(request.param)
    spec = resolve(load_profile(name)[0])
    build = dlenv("build", name, "--ca-bundle", CA_BUNDLE, "--progress", "plain", timeout=2400)
    assert build.code == 0, build.stderr[-4000:]
    try:
        yield spec, names.profile_image(spec.profile)
    finally:
        for tag in (names.profile_image(spec.profile), f"dlenv/{spec.profile}:{spec.digest[:12]}"):
            try:
                docker_client.images.remove(tag, force=True)
            except Exception:  # already gone
                continue


def _readiness(run: Run) -> dict[str, dict[str, Any]]:
    return {r["framework"]: r for r in run.json_lines() if r.get("model") == "readiness"}


def _expected_architectures(label: str, framework: str) -> set[str]:
    """The label's architectures (from builder/facts/archs.yaml) as the readiness check names them."""
    data = json.loads(label)[framework]
    return {f"sm_{a.replace('.', '')}" for a in data["sass"]} | {
        f"compute_{a.replace('.', '')}" for a in data["ptx"]
    }


def _cuda_matches(measured: str, expected: str) -> bool:
    """A pinned CUDA ("13.0") exactly; a floor (">=12.1") by its major and at least that."""
    if expected.startswith(">="):
        floor = Version(expected[2:])
        return Version(measured).major == floor.major and Version(measured) >= floor
    return measured == expected


def test_readiness_without_a_gpu(cuda_image: tuple[BuildSpec, str], docker_client: Any) -> None:
    spec, image = cuda_image
    config = docker_client.images.get(image).attrs["Config"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["NVIDIA_REQUIRE_CUDA"] == f"cuda>={spec.toolkit}"
    assert env["NVIDIA_VISIBLE_DEVICES"] == "all" and env["NVIDIA_DRIVER_CAPABILITIES"] == "compute,utility"

    smoke = dlenv("smoke", image, "--json")
    assert smoke.code == 0, smoke.stderr[-3000:] + smoke.stdout[-6000:]
    ready = _readiness(smoke)
    assert set(ready) == {f.name for f in spec.frameworks} | {"image"}
    labels = config["Labels"]
    for fw in spec.frameworks:
        line = ready[fw.name]
        assert line["ok"] is True and not line["problems"], line
        assert str(line["framework_version"]).startswith(fw.version)
        assert line["cudnn"], line
        if fw.cuda_libraries:  # keras has none of its own: its backend's line says
            assert _cuda_matches(line["cuda"], fw.cuda_libraries), (fw.name, line["cuda"], fw.cuda_libraries)
            # What archs.yaml says (the label) is what the framework's binaries hold.
            expected = _expected_architectures(labels[names.LABEL_GPU_ARCHS], fw.name)
            assert set(line["architectures"]) == expected, (fw.name, line["architectures"])
        # Every library it loads at GPU start-up loaded; what failed needs the driver alone.
        required = [lib for lib in line["libraries"] if lib.get("required")]
        unloaded = [lib["soname"] for lib in required if not lib["loaded"]]
        assert required and set(unloaded) <= set(line["driver_only_failures"]), line["libraries_missing"]
        assert set(line["driver_only_failures"]) <= {
            "libcuda.so.1",
            "libcaffe2_nvrtc.so",
            "libcudnn_engines_runtime_compiled.so.9",
            "cuptiGetVersion",  # CUPTI 13 asks the driver for its version
        }
    whole = ready["image"]
    assert whole["ok"] is True, whole
    assert len(whole["cuda_majors"]) == 1 and len(whole["cudnn_versions"]) == 1
    assert whole["pip_check"]["ok"] is True and whole["file_conflicts"]["count"] == 0
    # No CUDA library twice from NVIDIA's wheels (triton bundles its own CUPTI: a warning).
    for soname, copies in whole["duplicate_sonames"].items():
        owners = [owner for copy in copies for owner in copy["owners"] if not owner.startswith("nvidia-")]
        assert owners == ["triton"], (soname, copies)
    note = [r for r in smoke.json_lines() if r.get("model") == "training"]
    assert len(note) == 1 and "no NVIDIA GPU here" in note[0]["note"]


# tf-jax: TensorFlow trains beside Keras-on-JAX (tf.keras follows KERAS_BACKEND; see smoke.py).
@pytest.mark.parametrize("cuda_image", ["pytorch-cuda-debian", "tf-jax-cuda-debian"], indirect=True)
def test_allow_cpu_trains_the_cuda_build_on_the_cpu(cuda_image: tuple[BuildSpec, str]) -> None:
    spec, image = cuda_image
    smoke = dlenv("smoke", image, "--json", "--allow-cpu")
    assert smoke.code == 0, smoke.stderr[-3000:] + smoke.stdout[-3000:]
    trained = [r for r in smoke.json_lines() if r.get("model") in ("lstm", "lenet")]
    assert {(r["framework"], r["model"]) for r in trained} == {
        (f, m) for f in spec.smoke.frameworks for m in ("lstm", "lenet")
    }
    for r in trained:
        assert r["ok"] and r["device"] == "cpu" and "NOT tested" in r["note"]
        assert r["loss_last"] < 0.5 * r["loss_first"]


# Each fault, in the profile whose image it breaks, and the words the failure must name.
FAULTS = {
    "pytorch-cuda-debian": (
        "USER root\nRUN rm /opt/venv/lib/python3.11/site-packages/nvidia/cu13/lib/libcublasLt.so.13\n",
        "pytorch",
        "libcublasLt.so.13",
    ),
    # TensorFlow 2.21's wheel misses the cusolver folder in its own search path; dlenv's
    # library fix (LD_LIBRARY_PATH) is what makes it ready. Without it:
    "tf-jax-cuda-debian": ("ENV LD_LIBRARY_PATH=\n", "tensorflow", "libcusolver.so.11"),
}


@pytest.mark.parametrize("cuda_image", sorted(FAULTS), indirect=True)
def test_a_broken_image_fails_naming_library_and_framework(
    cuda_image: tuple[BuildSpec, str], docker_client: Any
) -> None:
    spec, image = cuda_image
    fault, framework, library = FAULTS[spec.profile]
    broken = "dlenv-test/broken-cuda:1"
    dockerfile = f"FROM {image}\n{fault}USER 1000\n"
    docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=broken, rm=True)
    try:
        smoke = dlenv("smoke", broken, "--json")
    finally:
        docker_client.images.remove(broken, force=True)
    assert smoke.code == 5, smoke.stderr[-3000:]
    line = _readiness(smoke)[framework]
    assert line["ok"] is False and library in line["error"], line["error"]
    assert library in smoke.stderr and framework in smoke.stderr
    assert "Traceback" not in smoke.stderr
