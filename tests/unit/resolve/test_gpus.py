"""Which GPUs a build runs on: the GPU table, the architectures data, and their use in resolving."""

from __future__ import annotations

import pytest
from packaging.version import Version

from builder.errors import ResolveError
from builder.facts.gpus import Architectures, load_gpu_facts
from builder.facts.registry import load_registry
from builder.profile.load import parse_profile
from builder.resolve.decide import resolve
from builder.spec import BuildSpec

G = load_gpu_facts()


def _resolve(text: str) -> BuildSpec:
    return resolve(parse_profile("name: t\naccelerator: cuda\n" + text))


@pytest.mark.parametrize(
    ("gpu", "cc"),
    [
        ("a100", "8.0"), ("h100", "9.0"), ("h200", "9.0"), ("b200", "10.0"), ("gb200", "10.0"),
        ("l4", "8.9"), ("l40s", "8.9"), ("rtx-3090", "8.6"), ("rtx-4090", "8.9"), ("rtx-5090", "12.0"),
        ("gb10", "12.1"), ("p100", "6.0"), ("gtx-1080", "6.1"), ("v100", "7.0"), ("t4", "7.5"),
        ("jetson-orin", "8.7"),
    ],
)  # fmt: skip
def test_the_gpu_table_knows_the_gpus_teams_buy(gpu: str, cc: str) -> None:
    found = G.gpu(gpu)
    assert found is not None and found.cc == cc and found.source and found.date


@pytest.mark.parametrize(
    ("reported", "gpu"),
    [
        ("NVIDIA H100 80GB HBM3", "h100-sxm"),
        ("NVIDIA H100 PCIe", "h100-pcie"),
        ("NVIDIA GH200 480GB", "gh200"),  # not the H200
        ("NVIDIA H200", "h200"),
        ("NVIDIA GeForce RTX 4090", "rtx-4090"),
        ("NVIDIA L40S", "l40s"),  # not the L40
        ("Tesla T4", "t4"),
        ("NVIDIA A100-SXM4-80GB", "a100"),
        ("NVIDIA GB10", "gb10"),
    ],
)
def test_nvidia_smi_names_map_to_their_row(reported: str, gpu: str) -> None:
    found = G.from_name(reported)
    assert found is not None and found.id == gpu


def _archs(sass: tuple[str, ...], ptx: tuple[str, ...] = ()) -> Architectures:
    return Architectures(
        framework="x", releases=">=0", sass=sass, ptx=ptx, source="test", date="", confidence="V"
    )


def test_sass_runs_within_its_major_ptx_upwards_and_embedded_parts_need_their_own() -> None:
    ampere = _archs(("8.0",))
    assert ampere.runs(G.gpu("rtx-3090")) == "sass"  # type: ignore[arg-type]  # 8.6 runs sm_80
    assert ampere.runs(G.gpu("h100")) is None  # type: ignore[arg-type]  # another major
    assert ampere.runs(G.gpu("jetson-orin")) is None  # type: ignore[arg-type]  # 8.7: Tegra
    assert _archs(("8.7",)).runs(G.gpu("jetson-orin")) == "sass"  # type: ignore[arg-type]
    hopper_ptx = _archs(("8.0",), ("9.0",))
    assert hopper_ptx.runs(G.gpu("rtx-5090")) == "ptx"  # type: ignore[arg-type]
    assert hopper_ptx.runs(G.gpu("v100")) is None  # type: ignore[arg-type]


def test_every_architectures_row_is_sourced_and_names_a_known_framework() -> None:
    frameworks = {a.framework for a in G.architectures}
    assert frameworks == {"pytorch", "tensorflow", "jax", "mxnet"}
    for row in G.architectures:
        assert row.source and row.date and row.confidence in ("V", "S", "U")
        assert all(Version(c) >= Version("3.5") for c in (*row.sass, *row.ptx))


def test_every_pypi_torch_cuda_build_has_its_architectures_on_record() -> None:
    """The data covers what the registry says torch's PyPI wheels are (x86_64, 2.1 on)."""
    for release in load_registry().releases("torch"):
        cuda = release.cuda_runtime(Version("3.12.3"))
        if release.version < Version("2.1") or cuda is None:
            continue
        assert G.architectures_of("pytorch", release.version, cuda, "linux/amd64"), (release.version, cuda)


def test_a_blackwell_gpu_refuses_torch_without_cuda_12_8_builds_and_names_the_way_out() -> None:
    with pytest.raises(ResolveError) as info:
        _resolve('gpus: [rtx-5090]\nframeworks: {pytorch: "2.6"}')
    text = str(info.value)
    assert "RTX 5090 (sm_120) needs pytorch >= 2.7 with CUDA >= 12.8 builds" in text
    assert "has no kernels for RTX 5090 (sm_120)" in text and 'set pytorch to "' in text
    neighbour = _resolve('gpus: [rtx-5090]\nframeworks: {pytorch: "2.7"}')
    fw = neighbour.frameworks[0]
    assert fw.cuda_libraries == "12.8" and "12.0" in neighbour.gpu_architectures["pytorch"]["sass"]


def test_a_pascal_gpu_refuses_cuda_13_builds() -> None:
    with pytest.raises(ResolveError) as info:
        _resolve('cuda: "13.0"\ngpus: [p100]\nframeworks: {pytorch: "2.13"}')
    assert "has no kernels for Tesla P100-PCIE-16GB (sm_60)" in str(info.value)
    assert 'set cuda to "12.6"' in str(info.value)
    neighbour = _resolve('cuda: "12.6"\ngpus: [p100]\nframeworks: {pytorch: "2.13"}')
    assert "6.0" in neighbour.gpu_architectures["pytorch"]["sass"]


def test_compute_capabilities_stand_for_gpus() -> None:
    spec = _resolve('gpus: ["12.0", "9.0"]\nframeworks: {pytorch: "2.13"}')
    assert spec.gpus == ("compute capability 12.0 (sm_120)", "compute capability 9.0 (sm_90)")


def test_an_unknown_gpu_is_named_with_the_closest_ids() -> None:
    with pytest.raises(ResolveError, match="did you mean rtx-5090"):
        _resolve("gpus: [rtx-5909]\nframeworks: {pytorch: null}")


def test_asking_for_a_cuda_line_and_getting_an_older_one_is_said() -> None:
    spec = _resolve('cuda: "12.8"\nframeworks: {pytorch: "2.13.0"}')
    assert spec.frameworks[0].variant == "cu126"
    assert (
        "pytorch 2.13.0 (cu126) runs its CUDA 12.6 libraries on the CUDA 12.8 you asked for, through "
        "minor-version compatibility; it has no kernels for Blackwell (sm_100, sm_120), "
        "which CUDA 12.8 targets."
    ) in spec.warnings
    exact = _resolve('cuda: "13.2"\nframeworks: {pytorch: "2.13.0"}')
    assert not [w for w in exact.warnings if "minor-version" in w]


def test_the_image_label_carries_each_frameworks_architectures() -> None:
    import json

    spec = _resolve('cuda: "12.8"\nframeworks: {pytorch: "2.10", tensorflow: "2.20", jax: "0.10"}')
    label = json.loads(spec.labels()["io.dlenv.gpu-archs"])
    assert set(label) == {"pytorch", "tensorflow", "jax"}
    assert label["tensorflow"]["ptx"] == ["9.0"] and "12.0" in label["pytorch"]["sass"]
