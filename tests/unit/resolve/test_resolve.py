"""The solver: base images and variants from the curated matrix, releases and constraints from
the registry data, conflicts named with the nearest valid alternatives."""

from __future__ import annotations

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from builder.errors import ResolveError
from builder.facts.matrix import CudaEntry, load_matrix
from builder.facts.registry import load_registry
from builder.profile.load import builtin_profile_names, load_profile, parse_profile
from builder.resolve.decide import resolve
from builder.spec import BuildSpec

M = load_matrix()
R = load_registry()


def _resolve(text: str) -> BuildSpec:
    return resolve(parse_profile("name: t\n" + text))


@pytest.mark.parametrize("name", builtin_profile_names())
def test_every_builtin_resolves(name: str) -> None:
    profile, _ = load_profile(name)
    spec = resolve(profile)
    assert spec.profile == name
    assert spec.frameworks


def test_the_required_builtins_exist() -> None:
    assert set(builtin_profile_names()) == {
        "pytorch-cpu",
        "tensorflow-cpu",
        "keras-cpu",
        "jax-cpu",
        "mxnet-cpu",
        "pytorch-cuda",
        "tensorflow-cuda",
        "keras-cuda",
        "jax-cuda",
        "mxnet-cuda",
        "pytorch-rocm",
        "tensorflow-rocm",
        "jax-rocm",
        "workstation-cuda",
        # CUDA from the wheels on plain Debian (no nvidia/cuda base): built and checked in CI.
        "pytorch-cuda-debian",
        "tf-jax-cuda-debian",
        "workstation-cuda-debian",
        # linux/arm64: built and smoke-tested (readiness-checked) in CI under QEMU emulation.
        "pytorch-cpu-arm64",
        "pytorch-cuda-arm64",
        "jax-cuda-arm64",
    }


@pytest.mark.parametrize("name", [n for n in builtin_profile_names() if n.endswith("-cpu")])
def test_cpu_builtins_use_debian_bookworm_python_311(name: str) -> None:
    spec = resolve(load_profile(name)[0])
    assert spec.base_image == "debian:bookworm-slim"
    assert spec.python == "3.11" and spec.python_full == "3.11.2" and spec.glibc == "2.36"


# compat-facts §1.2/§1.3 (and the CUDA 13.2 release notes): tag -> minimum driver.
@pytest.mark.parametrize(
    ("cuda", "tag", "driver"),
    [
        ("11.8", "11.8.0", "520.61.05"),
        ("12.1", "12.1.1", "530.30.02"),
        ("12.2", "12.2.2", "535.104.05"),
        ("12.4", "12.4.1", "550.54.15"),
        ("12.6", "12.6.3", "560.35.05"),
        ("12.8", "12.8.1", "570.124.06"),
        ("12.9", "12.9.1", "575.57.08"),
        ("13.0", "13.0.2", "580.95.05"),
        ("13.1", "13.1.0", "590.44.01"),
        ("13.2", "13.2.1", "595.58.03"),
    ],
)
def test_cuda_tags_and_drivers(cuda: str, tag: str, driver: str) -> None:
    entry = M.toolkit("cuda", cuda)
    assert isinstance(entry, CudaEntry) and entry.tag == tag and entry.driver == driver


def test_cuda_124_has_no_ubuntu2404_image() -> None:
    entry = M.toolkit("cuda", "12.4")
    assert entry is not None and "ubuntu24.04" not in entry.os


@pytest.mark.parametrize(
    ("text", "base", "requirement", "index"),
    [
        # PyPI's own wheel of torch 2.8 is its cu128 build: preferred to the vendor index's copy.
        (
            'accelerator: cuda\ncuda: "12.8"\nframeworks: {pytorch: "2.8"}',
            "nvidia/cuda:12.8.1-base-ubuntu24.04",
            "torch==2.8.0",
            None,
        ),
        # Without `cuda` the newest CUDA torch 2.8 supports: its cu129 build, on the index only.
        (
            'accelerator: cuda\nframeworks: {pytorch: "2.8"}',
            "nvidia/cuda:12.9.1-base-ubuntu24.04",
            "torch==2.8.0+cu129",
            "https://download.pytorch.org/whl/cu129",
        ),
        (
            'accelerator: rocm\nrocm: "6.4"\nframeworks: {pytorch: "2.8"}',
            "rocm/dev-ubuntu-24.04:6.4.1",
            "torch==2.8.0+rocm6.4",
            "https://download.pytorch.org/whl/rocm6.4",
        ),
        (
            'accelerator: cpu\nframeworks: {pytorch: "2.13"}',
            "debian:bookworm-slim",
            "torch==2.13.0+cpu",
            "https://download.pytorch.org/whl/cpu",
        ),
        (
            'accelerator: cuda\ncuda: "12.6"\nos: ubuntu22.04\nframeworks: {pytorch: "2.6"}',
            "nvidia/cuda:12.6.3-base-ubuntu22.04",
            "torch==2.6.0+cu126",
            "https://download.pytorch.org/whl/cu126",
        ),
        # A base newer than every variant of the same major takes the newest variant below it.
        (
            'accelerator: cuda\ncuda: "12.8"\nframeworks: {pytorch: "2.6"}',
            "nvidia/cuda:12.8.1-base-ubuntu24.04",
            "torch==2.6.0+cu126",
            "https://download.pytorch.org/whl/cu126",
        ),
    ],
)
def test_pytorch_base_and_index(text: str, base: str, requirement: str, index: str | None) -> None:
    spec = _resolve(text)
    fw = spec.framework("pytorch")
    assert spec.base_image == base
    assert fw is not None and fw.requirements[0] == requirement and fw.index == index


def test_tensorflow_cuda_uses_and_cuda_and_a_base_at_least_as_new_as_its_libraries() -> None:
    spec = _resolve('accelerator: cuda\nframeworks: {tensorflow: "2.21"}')
    fw = spec.framework("tensorflow")
    assert fw is not None and fw.requirements == ("tensorflow[and-cuda]==2.21.0",)
    # The CUDA of the [and-cuda] libraries, read from TensorFlow's own Requires-Dist: a floor
    # (nvidia-cuda-runtime-cu12>=12.5.82,<13), so pip installs the newest CUDA 12 libraries.
    runtime = R.release("tensorflow", "2.21.0").cuda_runtime(Version("3.12.3"), frozenset({"and-cuda"}))  # type: ignore[union-attr]
    assert fw.cuda_libraries == f">={runtime}"
    assert spec.toolkit is not None and Version(spec.toolkit) >= runtime  # type: ignore[operator]
    assert Version(spec.toolkit).major == runtime.major  # type: ignore[union-attr]


def test_jax_cuda13_on_cuda13_and_cuda12_on_cuda12() -> None:
    assert _resolve('accelerator: cuda\ncuda: "13.0"\nframeworks: {jax: "0.10"}').frameworks[
        0
    ].requirements == ("jax[cuda13]==0.10.2",)
    assert _resolve('accelerator: cuda\ncuda: "12.8"\nframeworks: {jax: "0.10"}').frameworks[
        0
    ].requirements == ("jax[cuda12]==0.10.2",)


def test_jax_python_floor_picks_the_newest_jax_for_python_310() -> None:
    spec = _resolve("accelerator: cpu\nos: ubuntu22.04\nframeworks: {jax: null}")
    assert spec.python == "3.10"
    version = Version(spec.frameworks[0].version)
    newer = [r for r in R.releases("jax") if r.version > version and not r.yanked]
    # Every newer jax needs a newer Python (by its own or its jaxlib's Requires-Python).
    assert newer and all(
        not r.python_ok(Version("3.10.12"))
        or not any(j.python_ok(Version("3.10.12")) for j in R.releases("jaxlib") if j.version == r.version)
        for r in newer
    )


def test_default_skips_unverified_builds_and_pins_may_use_them() -> None:
    # torch 2.15's vendor variants are unverified (U): by default only its PyPI wheel, whose
    # pins the registry knows, or a release with verified variants is chosen.
    unpinned = _resolve("accelerator: cuda\nframeworks: {pytorch: null}")
    fw = unpinned.frameworks[0]
    line = M.frameworks["pytorch"].vendor_line(Version(fw.version))
    assert fw.confidence == "V" and (fw.variant == "pypi" or (line is not None and line.confidence != "U"))
    assert not any("unverified" in w for w in unpinned.warnings)
    pinned = _resolve('accelerator: cuda\ncuda: "12.6"\nframeworks: {pytorch: "2.15.0"}')
    assert pinned.frameworks[0].version == "2.15.0" and pinned.frameworks[0].variant == "cu126"
    assert any("unverified" in w for w in pinned.warnings)


def test_cuda_omitted_means_newest_supported() -> None:
    spec = _resolve('accelerator: cuda\nframeworks: {pytorch: "2.8"}')
    assert spec.toolkit == "12.9"  # 2.8 publishes cu126, cu128 and cu129, no CUDA 13 build


def test_keras_adds_its_backend_under_keras_own_name() -> None:
    spec = _resolve('accelerator: cpu\nframeworks: {keras: {version: "3.15", backend: jax}}')
    assert [f.name for f in spec.frameworks] == ["keras", "jax"]
    assert spec.framework("jax").implicit  # type: ignore[union-attr]
    assert ("KERAS_BACKEND", "jax") in spec.env


@pytest.mark.parametrize("backend", ["torch", "pytorch"])
def test_keras_torch_backend_accepts_the_pytorch_alias(backend: str) -> None:
    spec = _resolve(f"accelerator: cpu\nframeworks: {{keras: {{backend: {backend}}}}}")
    assert ("KERAS_BACKEND", "torch") in spec.env
    assert spec.framework("pytorch") is not None


def test_mxnet_is_marked_retired_and_uses_cuda11_cudnn8() -> None:
    spec = resolve(load_profile("mxnet-cuda")[0])
    assert spec.base_image == "nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04"
    assert any("retired" in w for w in spec.warnings)
    assert "numpy<1.24" in spec.frameworks[0].requirements


def test_workstation_frameworks_share_one_cuda_major() -> None:
    spec = resolve(load_profile("workstation-cuda")[0])
    assert {f.name for f in spec.frameworks} == {"pytorch", "tensorflow", "keras", "jax"}
    majors = {Version(f.cuda_libraries.lstrip(">=")).major for f in spec.frameworks if f.cuda_libraries}
    assert majors == {12}
    assert spec.toolkit is not None and Version(spec.toolkit).major == 12


def test_conflict_names_reason_and_alternatives() -> None:
    with pytest.raises(ResolveError) as info:
        _resolve('accelerator: cuda\ncuda: "13.0"\nframeworks: {tensorflow: "2.17"}')
    text = str(info.value)
    assert (
        "tensorflow 2.17.1 has CUDA builds for cuda 12.3 (or newer of the same major) only, not 13.0"
    ) in text
    assert 'set tensorflow to "2.21.0"' not in text  # TensorFlow has no CUDA 13 build at all
    assert 'set cuda to "12.3"' in text  # the CUDA TensorFlow 2.17's wheels carry


def test_multi_framework_conflict_offers_separate_images() -> None:
    with pytest.raises(ResolveError) as info:
        _resolve('accelerator: cuda\nframeworks: {mxnet: "1.9.1", pytorch: "2.13"}')
    text = str(info.value)
    assert "separate image" in text
    assert "mxnet 1.9.1 has CUDA builds for cuda 11.2, 11.7" in text


def test_every_curated_row_has_source_and_date() -> None:
    rows = [*M.os, *M.cuda, *M.rocm, *M.runtime.values(), *M.rocm_gfx_overrides]
    rows += [line for fw in M.frameworks.values() for line in fw.vendor_lines]
    for row in rows:
        assert row.source in M.sources, row
        assert len(row.date) == 10 and row.date.startswith("20"), row
    for fw in M.frameworks.values():
        for rule in fw.builds:
            assert rule.source in M.sources, rule


def test_spec_digest_ignores_where_pip_fetches_from() -> None:
    a = _resolve('accelerator: cpu\nframeworks: {pytorch: "2.13"}')
    b = a.model_copy(
        update={"pip": a.pip.model_copy(update={"index_url": "https://m/simple", "vendor_indexes": False})}
    )
    assert a.digest == b.digest


def test_spec_digest_is_stable_and_sensitive() -> None:
    a = _resolve('accelerator: cpu\nframeworks: {pytorch: "2.13"}')
    b = _resolve('accelerator: cpu\nframeworks: {pytorch: "2.13"}')
    c = _resolve('accelerator: cpu\nframeworks: {pytorch: "2.13"}\npackages: [six]')
    assert a.digest == b.digest != c.digest


def test_companion_is_the_release_made_for_the_framework() -> None:
    spec = _resolve('accelerator: cpu\nframeworks: {pytorch: {version: "2.13", companions: [torchvision]}}')
    torch = spec.framework("pytorch")
    assert torch is not None
    vision = next(r for r in torch.requirements if r.startswith("torchvision=="))
    assert vision.endswith("+cpu")
    release = R.release("torchvision", vision.split("==")[1].split("+")[0])
    assert release is not None
    pin = next(r for r in release.requires if r.name == "torch")
    assert pin.specifier.contains(Version("2.13.0"))


def test_requirements_are_valid_pep508() -> None:
    for name in builtin_profile_names():
        for fw in resolve(load_profile(name)[0]).frameworks:
            for req in fw.requirements:
                Requirement(req)
