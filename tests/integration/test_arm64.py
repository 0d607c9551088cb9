"""linux/arm64 images built and run here for real, under QEMU user emulation (binfmt_misc, F).

scripts/setup-host.sh registers the emulator (scripts/setup-emulation.sh) and makes the arm64
base (scripts/make-base-image.sh --arch arm64); without them these tests fail, never skip.
Every image is removed when its tests end.
"""

from __future__ import annotations

import json
import secrets
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from builder import names
from builder.profile.load import load_profile
from builder.resolve.decide import resolve
from builder.spec import BuildSpec

from .conftest import dlenv

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
ARM64_BASE = "arm64v8/debian:bookworm-slim"


@pytest.fixture(scope="module")
def emulation(docker_client: Any) -> None:
    """arm64 containers run here: the base exists and is arm64, and a container says aarch64."""
    try:
        base = docker_client.images.get(ARM64_BASE)
    except Exception:
        pytest.fail(f"{ARM64_BASE} is missing: run scripts/make-base-image.sh --arch arm64")
    assert base.attrs["Architecture"] == "arm64"
    out = docker_client.containers.run(ARM64_BASE, ["uname", "-m"], remove=True, platform="linux/arm64")
    assert out.decode().strip() == "aarch64", "register QEMU with scripts/setup-emulation.sh"


def _remove(client: Any, spec: BuildSpec) -> None:
    for tag in (
        names.profile_image(spec.profile, spec.platform),
        names.spec_image(spec.profile, spec.digest),
    ):
        try:
            client.images.remove(tag, force=True)
        except Exception:  # already gone
            continue


@pytest.fixture(scope="module")
def torch_arm64(emulation: None, docker_client: Any) -> Iterator[tuple[BuildSpec, str]]:
    """pytorch-cpu-arm64 built once for this module's tests (its system stage serves the rest)."""
    spec = resolve(load_profile("pytorch-cpu-arm64")[0])
    build = dlenv("build", "pytorch-cpu-arm64", "--ca-bundle", CA_BUNDLE, "--progress", "plain", timeout=3000)
    assert build.code == 0, build.stderr[-4000:]
    assert "[Warning] The requested image's platform" not in build.stderr  # emulation noise left out
    try:
        yield spec, names.profile_image(spec.profile, spec.platform)
    finally:
        _remove(docker_client, spec)


def test_arm64_image_trains_the_lstm_under_emulation(
    torch_arm64: tuple[BuildSpec, str], docker_client: Any
) -> None:
    spec, image = torch_arm64
    assert image.endswith(":latest-arm64")  # never the amd64 image's `latest`
    attrs = docker_client.images.get(image).attrs
    assert (
        attrs["Architecture"] == "arm64" and attrs["Config"]["Labels"]["io.dlenv.platform"] == "linux/arm64"
    )
    smoke = dlenv("smoke", image, "--json", timeout=1800)
    assert smoke.code == 0, smoke.stderr[-3000:] + smoke.stdout[-3000:]
    trained = {r["model"]: r for r in smoke.json_lines()}
    assert set(trained) == {"lstm", "lenet"}
    for r in trained.values():
        assert r["ok"] and r["device"] == "cpu" and r["framework_version"].startswith("2.10.0")
        assert r["loss_last"] < 0.5 * r["loss_first"]
    machine = docker_client.containers.run(image, ["uname", "-m"], remove=True, platform="linux/arm64")
    assert machine.decode().strip() == "aarch64"


def test_an_amd64_base_under_an_arm64_name_is_refused(
    torch_arm64: tuple[BuildSpec, str], tmp_path: Path
) -> None:
    """Engine 20.10's classic builder would build on it silently: dlenv refuses (exit 4)."""
    profile = tmp_path / "wrong-base.yaml"
    profile.write_text(
        "name: wrong-base\naccelerator: cpu\nplatform: linux/arm64\nbase_image: debian:bookworm-slim\n"
        'frameworks: {jax: "0.10"}\n'
    )
    build = dlenv("build", str(profile), "--progress", "plain")
    assert build.code == 4, build.stderr[-2000:]
    assert "debian:bookworm-slim in this engine is linux/amd64" in build.stderr
    assert "Traceback" not in build.stderr


def test_two_platforms_push_one_index_and_each_host_pulls_its_own(
    torch_arm64: tuple[BuildSpec, str], docker_client: Any, tmp_path: Path, registry: str
) -> None:
    name = f"ci-multi-{secrets.token_hex(3)}"
    profile = tmp_path / f"{name}.yaml"
    profile.write_text(
        f"name: {name}\naccelerator: cpu\nos: debian12\nplatform: [linux/amd64, linux/arm64]\n"
        'frameworks: {jax: "0.10"}\n'
    )
    ref = f"{registry}/team/{name}:1"
    build = dlenv(
        "build", str(profile), "--ca-bundle", CA_BUNDLE, "--progress", "plain", "--push", ref, timeout=3000
    )
    specs = [resolve(load_profile(str(profile))[0], platform=p) for p in ("linux/amd64", "linux/arm64")]
    try:
        assert build.code == 0, build.stderr[-4000:]
        pinned = build.stdout.strip().splitlines()[-1]
        assert pinned.startswith(f"{registry}/team/{name}@sha256:")
        # The registry holds one index listing both platforms.
        request = urllib.request.Request(
            f"http://{registry}/v2/team/{name}/manifests/{pinned.split('@')[1]}",
            headers={"Accept": "application/vnd.docker.distribution.manifest.list.v2+json"},
        )
        index = json.loads(urllib.request.urlopen(request, timeout=10).read())  # loopback registry
        listed = {(m["platform"]["os"], m["platform"]["architecture"]) for m in index["manifests"]}
        assert listed == {("linux", "amd64"), ("linux", "arm64")}
        # Each platform pulled back by the index digest is that platform's image. (Engine 20.10
        # keeps one image per digest reference: pull, check, remove, then the other.)
        for platform, arch in (("linux/arm64", "arm64"), ("linux/amd64", "amd64")):
            pulled = docker_client.images.pull(pinned, platform=platform)
            assert pulled.attrs["Architecture"] == arch
            assert pulled.labels["io.dlenv.platform"] == platform
            docker_client.images.remove(pinned, force=True)
    finally:
        for spec in specs:
            _remove(docker_client, spec)


def test_a_two_platform_profile_locks_each_platform_apart(tmp_path: Path, docker_client: Any) -> None:
    """One lock per platform, resolved by uv for that platform from this host; --check per platform."""
    profile = tmp_path / "both.yaml"
    profile.write_text(
        "name: both\naccelerator: cpu\nos: debian12\nplatform: [linux/amd64, linux/arm64]\n"
        'frameworks: {jax: "0.10"}\n'
    )
    run = dlenv("lock", str(profile), "--ca-bundle", CA_BUNDLE)
    assert run.code == 0, run.stderr[-3000:]
    amd64, arm64 = tmp_path / "both.dlenv.lock", tmp_path / "both.arm64.dlenv.lock"
    assert run.stdout.split() == [str(amd64), str(arm64)]
    for path, machine, base in ((amd64, "x86_64", "debian:bookworm-slim"), (arm64, "aarch64", ARM64_BASE)):
        data = tomllib.loads(path.read_text())
        assert data["inputs"]["platform"] == f"{machine}-manylinux_2_36"
        assert data["base"]["ref"] == base
        jaxlib = next(p for p in data["frameworks"] if p["name"] == "jaxlib")
        assert all(machine in w["name"] for w in jaxlib["wheels"]), jaxlib["wheels"]
    assert dlenv("lock", str(profile), "--check").code == 0
    arm64.unlink()
    missing = dlenv("lock", str(profile), "--check", "--platform", "linux/arm64")
    assert missing.code == 1 and "--platform linux/arm64" in missing.stderr
    assert dlenv("lock", str(profile), "--check", "--platform", "linux/amd64").code == 0


def test_an_arm64_cuda_image_passes_the_readiness_check_under_emulation(
    torch_arm64: tuple[BuildSpec, str], docker_client: Any
) -> None:
    """jax[cuda13] from PyPI's aarch64 (sbsa) wheels: what a GH200/GB200/GB10 host runs. (torch's
    aarch64 CUDA build segfaults at import under Debian 12's QEMU 7.2; JAX's starts.)"""
    spec = resolve(load_profile("jax-cuda-arm64")[0])
    build = dlenv("build", "jax-cuda-arm64", "--ca-bundle", CA_BUNDLE, "--progress", "plain", timeout=3000)
    try:
        assert build.code == 0, build.stderr[-4000:]
        image = names.profile_image(spec.profile, spec.platform)
        smoke = dlenv("smoke", image, "--json", timeout=1800)
        assert smoke.code == 0, smoke.stderr[-3000:] + smoke.stdout[-3000:]
        ready = {r["framework"]: r for r in smoke.json_lines() if r.get("model") == "readiness"}
        jax = ready["jax"]
        assert jax["ok"] and jax["cuda"] == "13.0" and jax["cudnn"]
        label = json.loads(docker_client.images.get(image).labels["io.dlenv.gpu-archs"])["jax"]
        expected = {f"sm_{a.replace('.', '')}" for a in label["sass"]} | {
            f"compute_{a.replace('.', '')}" for a in label["ptx"]
        }
        assert set(jax["architectures"]) == expected  # archs.yaml's linux/arm64 row, measured
        assert "sm_110" in jax["architectures"]  # Jetson Thor
        assert ready["image"]["ok"] and list(ready["image"]["cuda_majors"]) == ["13"]
    finally:
        _remove(docker_client, spec)
