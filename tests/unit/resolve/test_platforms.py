"""Platforms: the resolver knows, per platform, which releases have wheels (the registry's
aarch64 view), which base images exist, and refuses the rest with alternatives."""

from __future__ import annotations

import pytest
from packaging.version import Version

from builder.errors import ProfileError, ResolveError
from builder.facts.registry import load_registry
from builder.profile.load import parse_profile
from builder.resolve.decide import resolve
from builder.spec import BuildSpec

ARM = "platform: linux/arm64\n"


def _resolve(text: str, platform: str | None = None) -> BuildSpec:
    return resolve(parse_profile("name: t\n" + text), platform=platform)


def test_platform_spellings_and_lists() -> None:
    for spelled in ("arm64", "aarch64", "linux/arm64/v8", "linux/ARM64"):
        assert parse_profile(
            f"name: t\naccelerator: cpu\nframeworks: {{jax: null}}\nplatform: {spelled}\n"
        ).platform == ("linux/arm64",)
    both = parse_profile("name: t\naccelerator: cpu\nframeworks: {jax: null}\nplatform: [amd64, arm64]\n")
    assert both.platform == ("linux/amd64", "linux/arm64")
    with pytest.raises(ProfileError, match="platform"):
        parse_profile("name: t\naccelerator: cpu\nframeworks: {jax: null}\nplatform: linux/riscv64\n")
    with pytest.raises(ProfileError, match="twice"):
        parse_profile("name: t\naccelerator: cpu\nframeworks: {jax: null}\nplatform: [arm64, aarch64]\n")


def test_arm64_cpu_images_start_from_the_per_architecture_base() -> None:
    spec = _resolve(ARM + "accelerator: cpu\nos: debian12\nframeworks: {jax: '0.10'}")
    assert spec.platform == "linux/arm64" and spec.base_image == "arm64v8/debian:bookworm-slim"
    assert spec.labels()["io.dlenv.platform"] == "linux/arm64"
    amd64 = _resolve("accelerator: cpu\nos: debian12\nframeworks: {jax: '0.10'}")
    assert amd64.base_image == "debian:bookworm-slim" and amd64.digest != spec.digest


def test_the_profiles_platform_is_overridden_by_the_argument() -> None:
    spec = _resolve(ARM + "accelerator: cpu\nos: debian12\nframeworks: {jax: '0.10'}", "linux/amd64")
    assert spec.platform == "linux/amd64" and spec.base_image == "debian:bookworm-slim"


def test_torch_on_arm64_cpu_is_pypis_own_wheel_up_to_2_10() -> None:
    # PyPI's aarch64 torch wheels are CPU builds up to 2.10 (nvidia pins marked x86_64 only).
    spec = _resolve(ARM + "accelerator: cpu\nframeworks: {pytorch: null}")
    torch = spec.framework("pytorch")
    assert torch is not None and torch.version == "2.10.0" and torch.requirements[0] == "torch==2.10.0"
    assert torch.index is None  # no vendor index: PyPI serves it
    with pytest.raises(ResolveError) as info:
        _resolve(ARM + "accelerator: cpu\nframeworks: {pytorch: '2.13'}")
    assert "CUDA 13 builds" in str(info.value) and 'set pytorch to "2.10.0"' in (info.value.hint or "")


def test_torch_2_11_and_later_on_arm64_is_a_cuda_13_build() -> None:
    registry = load_registry().on("aarch64")
    wheel = registry.release("torch", "2.13.0")
    assert wheel is not None and str(wheel.cuda_runtime(Version("3.11.2"))) == "13.0"
    spec = _resolve(ARM + "accelerator: cuda\nos: debian12\nframeworks: {pytorch: '2.13'}")
    assert spec.toolkit == "13.0" and spec.base_image == "arm64v8/debian:bookworm-slim"
    assert ("NVIDIA_REQUIRE_CUDA", "cuda>=13.0") in spec.env
    # Thor (sm_110) and GB10 (sm_121, via sm_120) kernels: archs.yaml's linux/arm64 row.
    assert "11.0" in spec.gpu_architectures["pytorch"]["sass"]


def test_nvidia_cuda_bases_are_multi_arch() -> None:
    spec = _resolve(ARM + "accelerator: cuda\nframeworks: {jax: '0.10'}")
    assert spec.base_image.startswith("nvidia/cuda:") and spec.platform == "linux/arm64"


def test_tensorflow_on_arm64_is_cpu_only_with_alternatives() -> None:
    cpu = _resolve(ARM + "accelerator: cpu\nos: debian12\nframeworks: {tensorflow: null}")
    tf = cpu.framework("tensorflow")
    assert tf is not None and tf.requirements == (f"tensorflow=={tf.version}",)  # no tensorflow-cpu wheel
    with pytest.raises(ResolveError) as info:
        _resolve(ARM + "accelerator: cuda\nframeworks: {tensorflow: null}")
    text = str(info.value)
    assert "tensorflow has no CUDA build for linux/arm64" in text and "CPU builds" in text
    assert text.count("has no CUDA build") == 1  # said once, not per release
    hint = info.value.hint or ""
    assert 'set platform to "linux/amd64"' in hint and 'set accelerator to "cpu" (on linux/arm64)' in hint


def test_rocm_on_arm64_is_refused_with_what_to_do() -> None:
    with pytest.raises(ResolveError) as info:
        _resolve(ARM + "accelerator: rocm\nframeworks: {pytorch: null}")
    assert "linux/amd64 only" in str(info.value) and "accelerator cpu" in str(info.value)


def test_mxnet_on_arm64_is_refused_for_cuda_and_cpu() -> None:
    with pytest.raises(ResolveError) as info:
        _resolve(ARM + "accelerator: cuda\nframeworks: {mxnet: null}")
    assert "has no aarch64 wheel" in str(info.value)
    # PyPI has CPU aarch64 wheels of 1.9.x, but they link Arm Performance Libraries they do
    # not ship: an image would build and then fail at `import mxnet`.
    with pytest.raises(ResolveError) as info:
        _resolve(ARM + "accelerator: cpu\nframeworks: {mxnet: null}")
    assert "mxnet has no CPU build for linux/arm64" in str(info.value)
    assert "libarmpl_lp64_mp.so" in str(info.value)
    assert 'set platform to "linux/amd64"' in (info.value.hint or "")
    assert _resolve("accelerator: cpu\nframeworks: {mxnet: null}").framework("mxnet") is not None
