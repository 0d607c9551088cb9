"""Resolver tables checked against ../shared/reference/compat-facts.md, and conflict handling."""

from __future__ import annotations

import pytest

from builder.errors import ResolveError
from builder.matrix import load_matrix
from builder.profile import builtin_profile_names, load_profile, parse_profile
from builder.resolve import resolve

M = load_matrix()


def _resolve(text: str):  # type: ignore[no-untyped-def]
    return resolve(parse_profile(text))


@pytest.mark.parametrize("name", builtin_profile_names())
def test_every_builtin_resolves(name: str) -> None:
    profile, _ = load_profile(name)
    spec = resolve(profile)
    assert spec.profile == name
    assert spec.frameworks


def test_the_required_builtins_exist() -> None:
    assert set(builtin_profile_names()) == {
        "pytorch-cpu", "tensorflow-cpu", "keras-cpu", "jax-cpu", "mxnet-cpu", "pytorch-cuda",
        "tensorflow-cuda", "keras-cuda", "jax-cuda", "mxnet-cuda", "pytorch-rocm",
        "tensorflow-rocm", "jax-rocm", "workstation-cuda"}


@pytest.mark.parametrize("name", [n for n in builtin_profile_names() if n.endswith("-cpu")])
def test_cpu_builtins_use_debian_bookworm_python_311(name: str) -> None:
    spec = resolve(load_profile(name)[0])
    assert spec.base_image == "debian:bookworm-slim"
    assert spec.python == "3.11"


# compat-facts §1.2/§1.3: CUDA tag -> minimum driver, and which Ubuntu releases have images.
@pytest.mark.parametrize(("cuda", "tag", "driver"), [
    ("11.8", "11.8.0", "520.61.05"), ("12.1", "12.1.1", "530.30.02"),
    ("12.4", "12.4.1", "550.54.15"), ("12.6", "12.6.3", "560.35.05"),
    ("12.8", "12.8.1", "570.124.06"), ("12.9", "12.9.1", "575.57.08"),
    ("13.0", "13.0.2", "580.95.05"), ("13.1", "13.1.0", "590.44.01"),
])
def test_cuda_tags_and_drivers(cuda: str, tag: str, driver: str) -> None:
    entry = M.toolkit("cuda", cuda)
    assert entry is not None and entry.tag == tag and entry.driver == driver  # type: ignore[union-attr]


def test_cuda_124_has_no_ubuntu2404_image() -> None:
    assert "ubuntu24.04" not in M.toolkit("cuda", "12.4").os  # type: ignore[union-attr]


# compat-facts §3.2: torch release -> CUDA and ROCm variants.
@pytest.mark.parametrize(("torch", "cuda", "rocm"), [
    ("2.4.1", {"11.8", "12.1", "12.4"}, {"6.0", "6.1"}),
    ("2.6.0", {"11.8", "12.4", "12.6"}, {"6.1", "6.2"}),
    ("2.7.1", {"11.8", "12.6", "12.8"}, {"6.2", "6.3"}),
    ("2.8.0", {"12.6", "12.8", "12.9"}, {"6.3", "6.4"}),
    ("2.10.0", {"12.6", "12.8", "13.0"}, {"7.0", "7.1"}),
    ("2.13.0", {"12.6", "13.0"}, {"7.1", "7.2"}),
])
def test_torch_variants(torch: str, cuda: set[str], rocm: set[str]) -> None:
    release = next(r for r in M.frameworks["pytorch"].releases if r.version == torch)
    assert set(release.cuda) == cuda
    assert set(release.rocm) == rocm


def test_torchvision_pairing_rule() -> None:
    """torchvision = 0.(torch minor + 15).x for torch 2.x."""
    for release in M.frameworks["pytorch"].releases:
        if "torchvision" not in release.companions:
            continue
        minor = int(release.version.split(".")[1])
        assert release.companions["torchvision"].startswith(f"0.{minor + 15}.")


@pytest.mark.parametrize(("text", "base", "requirement", "index"), [
    ("accelerator: cuda\ncuda: \"12.8\"\nframeworks: {pytorch: \"2.8\"}",
     "nvidia/cuda:12.8.1-base-ubuntu24.04", "torch==2.8.0+cu128", "https://download.pytorch.org/whl/cu128"),
    ("accelerator: rocm\nrocm: \"6.4\"\nframeworks: {pytorch: \"2.8\"}",
     "rocm/dev-ubuntu-24.04:6.4.1", "torch==2.8.0+rocm6.4", "https://download.pytorch.org/whl/rocm6.4"),
    ("accelerator: cpu\nframeworks: {pytorch: \"2.13\"}",
     "debian:bookworm-slim", "torch==2.13.0+cpu", "https://download.pytorch.org/whl/cpu"),
    ("accelerator: cuda\ncuda: \"12.6\"\nos: ubuntu22.04\nframeworks: {pytorch: \"2.6\"}",
     "nvidia/cuda:12.6.3-base-ubuntu22.04", "torch==2.6.0+cu126", "https://download.pytorch.org/whl/cu126"),
])
def test_pytorch_base_and_index(text: str, base: str, requirement: str, index: str) -> None:
    spec = _resolve("name: t\n" + text)
    fw = spec.framework("pytorch")
    assert spec.base_image == base
    assert fw is not None and fw.requirements[0] == requirement and fw.index == index


def test_tensorflow_cuda_uses_and_cuda_extra_and_tested_cuda() -> None:
    spec = _resolve("name: t\naccelerator: cuda\nframeworks: {tensorflow: \"2.21\"}")
    fw = spec.framework("tensorflow")
    assert fw is not None and fw.requirements == ("tensorflow[and-cuda]==2.21.0",)
    assert spec.toolkit in {"12.5", "12.6", "12.8", "12.9"}


def test_tensorflow_rocm_from_pypi_is_the_600_build() -> None:
    spec = _resolve("name: t\naccelerator: rocm\nrocm: \"6.0\"\nframeworks: {tensorflow: \"2.14\"}")
    fw = spec.framework("tensorflow")
    assert fw is not None and fw.requirements == ("tensorflow-rocm==2.14.1.600",) or \
        fw is not None and fw.requirements[0].startswith("tensorflow-rocm==2.14")


def test_jax_cuda13_on_cuda13_and_cuda12_on_cuda12() -> None:
    assert _resolve("name: t\naccelerator: cuda\ncuda: \"13.0\"\nframeworks: {jax: \"0.10\"}"
                    ).frameworks[0].requirements == ("jax[cuda13]==0.10.2",)
    assert _resolve("name: t\naccelerator: cuda\ncuda: \"12.8\"\nframeworks: {jax: \"0.10\"}"
                    ).frameworks[0].requirements == ("jax[cuda12]==0.10.2",)


def test_jax_python_floor_picks_older_jax_on_python_310() -> None:
    spec = _resolve("name: t\naccelerator: cpu\nos: ubuntu22.04\nframeworks: {jax: null}")
    assert spec.python == "3.10"
    assert spec.frameworks[0].version == "0.6.2"  # 0.7+ needs Python >= 3.11 (compat-facts §5)


def test_default_picks_newest_verified_release() -> None:
    spec = _resolve("name: t\naccelerator: cpu\nframeworks: {pytorch: null}")
    assert spec.frameworks[0].version == "2.13.0"  # 2.14/2.15 rows are unverified (U)


def test_unverified_row_used_when_pinned_with_warning() -> None:
    spec = _resolve("name: t\naccelerator: cpu\nframeworks: {pytorch: \"2.15\"}")
    assert spec.frameworks[0].version == "2.15.0"
    assert any("unverified" in w for w in spec.warnings)


def test_cuda_omitted_means_newest_supported() -> None:
    spec = _resolve("name: t\naccelerator: cuda\nframeworks: {pytorch: \"2.8\"}")
    assert spec.toolkit == "12.9"


def test_keras_adds_its_backend() -> None:
    spec = _resolve("name: t\naccelerator: cpu\nframeworks: {keras: {version: \"3.15\", backend: jax}}")
    names = [f.name for f in spec.frameworks]
    assert names == ["keras", "jax"]
    assert spec.framework("jax").implicit  # type: ignore[union-attr]
    assert ("KERAS_BACKEND", "jax") in spec.env


def test_keras_torch_backend_env_name() -> None:
    spec = _resolve("name: t\naccelerator: cpu\nframeworks: {keras: {backend: pytorch}}")
    assert ("KERAS_BACKEND", "torch") in spec.env


def test_mxnet_is_marked_retired_and_uses_cuda11_cudnn8() -> None:
    spec = resolve(load_profile("mxnet-cuda")[0])
    assert spec.base_image == "nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04"
    assert any("retired" in w for w in spec.warnings)
    assert "numpy<1.24" in spec.frameworks[0].requirements


def test_workstation_frameworks_agree_on_cudnn() -> None:
    spec = resolve(load_profile("workstation-cuda")[0])
    assert {f.name for f in spec.frameworks} == {"pytorch", "tensorflow", "keras", "jax"}
    assert spec.toolkit == "12.6"


def test_conflict_names_reason_and_alternatives() -> None:
    with pytest.raises(ResolveError) as info:
        _resolve("name: t\naccelerator: cuda\ncuda: \"12.8\"\nframeworks: {tensorflow: \"2.17\"}")
    text = str(info.value)
    assert "tensorflow 2.17.1 has CUDA builds for cuda 12.3, 12.4 only, not 12.8" in text
    assert "set tensorflow to \"2.21.0\"" in text
    assert "set cuda to \"12.4\"" in text


def test_multi_framework_conflict_offers_separate_images() -> None:
    with pytest.raises(ResolveError) as info:
        _resolve("name: t\naccelerator: cuda\nframeworks: {mxnet: \"1.9.1\", pytorch: \"2.13\"}")
    text = str(info.value)
    assert "separate image" in text
    assert "mxnet 1.9.1 has CUDA builds for cuda 11.8 only" in text


def test_every_row_has_source_and_date() -> None:
    rows = [*M.os, *M.cuda, *M.rocm, *M.runtime.values()]
    rows += [r for fw in M.frameworks.values() for r in fw.releases]
    for row in rows:
        assert row.source in M.sources, row
        assert len(row.date) == 10 and row.date.startswith("20"), row


def test_spec_digest_ignores_where_pip_fetches_from() -> None:
    a = _resolve("name: t\naccelerator: cpu\nframeworks: {pytorch: \"2.13\"}")
    b = a.model_copy(update={"pip": a.pip.model_copy(update={"index_url": "https://m/simple",
                                                             "vendor_indexes": False})})
    assert a.digest == b.digest


def test_spec_digest_is_stable_and_sensitive() -> None:
    a = _resolve("name: t\naccelerator: cpu\nframeworks: {pytorch: \"2.13\"}")
    b = _resolve("name: t\naccelerator: cpu\nframeworks: {pytorch: \"2.13\"}")
    c = _resolve("name: t\naccelerator: cpu\nframeworks: {pytorch: \"2.13\"}\npackages: [six]")
    assert a.digest == b.digest != c.digest
