"""`dlenv matrix refresh` on recorded registry answers (tests/fixtures/registry, see record.py)."""

from __future__ import annotations

import json

import pytest
from packaging.version import Version

from builder.facts.pypi import IndexFile
from builder.facts.refresh import ScopeEntry, dumps, refresh, wheel_support
from builder.facts.registry import Registry
from tests.paths import FIXTURES

FIXTURES = FIXTURES / "registry"
# The packages the fixtures were recorded for (record.py reads the same file).
SCOPE = {name: ScopeEntry(**e) for name, e in json.loads((FIXTURES / "scope.json").read_text()).items()}


class Replay:
    """The recorded answers of the index; a project that was not recorded is an error."""

    def __init__(self) -> None:
        self.metadata_reads: list[str] = []

    def project(self, name: str) -> list[IndexFile]:
        data = json.loads((FIXTURES / "projects" / f"{name}.json").read_text())
        return [IndexFile(**f) for f in data]

    def metadata(self, file: IndexFile) -> str:
        self.metadata_reads.append(file.filename)
        return (FIXTURES / "metadata" / f"{file.filename}.metadata").read_text()


@pytest.fixture(scope="module")
def data() -> dict:  # type: ignore[type-arg]
    return refresh(Replay(), SCOPE, workers=2)


def test_output_is_deterministic(data: dict) -> None:  # type: ignore[type-arg]
    again = refresh(Replay(), dict(reversed(list(SCOPE.items()))), workers=1)
    assert dumps(data) == dumps(again)


def test_python_versions_come_from_the_wheel_tags(data: dict) -> None:  # type: ignore[type-arg]
    registry = Registry(json.loads(dumps(data)))
    torch_215 = registry.release("torch", "2.15.0")
    assert torch_215 is not None
    assert "3.10" not in torch_215.python_versions() and "3.11" in torch_215.python_versions()
    why = torch_215.why_not(Version("3.10.12"), Version("2.35"))
    assert why is not None and "Python" in why


def test_one_metadata_read_per_release_and_machine_and_extras_recorded(data: dict) -> None:  # type: ignore[type-arg]
    replay = Replay()
    refresh(replay, {"tensorflow": SCOPE["tensorflow"]}, workers=1)
    # One read for x86_64, one for the aarch64 wheel (recorded apart only where it differs).
    assert sorted(replay.metadata_reads) == [
        "tensorflow-2.21.0-cp313-cp313-manylinux_2_27_aarch64.whl",
        "tensorflow-2.21.0-cp313-cp313-manylinux_2_27_x86_64.whl",
    ]
    tf = data["packages"]["tensorflow"]["2.21.0"]
    assert "and-cuda" in tf["extras"]
    assert any(r.startswith("keras>=") for r in tf["requires"])
    assert any(r.startswith("nvidia-cudnn-cu12") for r in tf["requires"])


def test_aarch64_wheels_are_recorded_beside_x86_64(data: dict) -> None:  # type: ignore[type-arg]
    registry = Registry(json.loads(dumps(data)))
    machines = {w[2] for w in data["packages"]["torch"]["2.15.0"]["wheels"]}
    assert machines == {"x86_64", "aarch64"}
    arm = registry.on("aarch64").release("torch", "2.15.0")
    x86 = registry.release("torch", "2.15.0")
    assert arm is not None and x86 is not None and arm.machine == "aarch64"
    assert arm.installs_on(Version("3.12.3"), Version("2.39")) and x86.installs_on(
        Version("3.12.3"), Version("2.39")
    )
    # torch 2.15's aarch64 wheel is a CUDA build too: its pins apply on aarch64 (no x86_64 marker).
    assert arm.cuda_runtime(Version("3.12.3")) == x86.cuda_runtime(Version("3.12.3")) == Version("13.2")
    assert registry.on("aarch64") is registry.on("aarch64") and registry.on("x86_64") is registry
    keras = registry.on("aarch64").release("keras", "3.13.0")
    assert keras is not None and keras.installs_on(Version("3.11.2"), Version("2.36"))  # a pure wheel


def test_yanked_releases_are_marked(data: dict) -> None:  # type: ignore[type-arg]
    jax = data["packages"]["jax"]
    assert jax["0.4.32"]["yanked"] is True and jax["0.4.31"]["yanked"] is False


def test_shared_dependencies_are_recorded_with_their_releases(data: dict) -> None:  # type: ignore[type-arg]
    deps = data["dependencies"]
    assert "numpy" in deps and "ml-dtypes" in deps  # needed by two frameworks each
    assert any(name.startswith("nvidia-") for name in deps)  # CUDA libraries
    assert all(release["wheels"] for table in deps.values() for release in table.values())


def test_build_package_versions_are_kept_whole(data: dict) -> None:  # type: ignore[type-arg]
    assert list(data["packages"]["tensorflow-rocm"]) == ["2.14.0.600"]


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("torch-2.15.0-cp311-cp311-manylinux_2_28_x86_64.whl", [("==3.11", "2.28", "x86_64")]),
        ("torch-2.15.0-cp311-cp311-manylinux_2_28_aarch64.whl", [("==3.11", "2.28", "aarch64")]),
        ("mxnet-1.9.1-py3-none-manylinux2014_aarch64.whl", [("*", "2.17", "aarch64")]),
        ("keras-3.13.0-py3-none-any.whl", [("*", "0", "any")]),
        ("protobuf-7.36.2-cp310-abi3-manylinux2014_x86_64.whl", [(">=3.10", "2.17", "x86_64")]),
        ("torch-2.15.0-cp313-cp313t-manylinux_2_28_x86_64.whl", []),  # free-threaded: not used
        ("torch-2.15.0-cp312-none-macosx_11_0_arm64.whl", []),
        ("torch-2.15.0-cp312-none-win_arm64.whl", []),
    ],
)
def test_wheel_support(filename: str, expected: list[tuple[str, str, str]]) -> None:
    assert wheel_support(filename) == expected


def test_refresh_reports_family_members_it_does_not_track() -> None:
    from builder.facts.matrix import load_matrix
    from builder.facts.pypi import _anchor_texts
    from builder.facts.refresh import untracked_members

    # A PEP 503 root page as a mirror serves it (PyPI's JSON root has the same names).
    page = (
        '<!DOCTYPE html><html><body><a href="jax/">jax</a>\n'
        '<a href="jax-cuda14-plugin/">jax-cuda14-plugin</a>'
        '<a href="jax-cuda12-plugin/">jax_cuda12_plugin</a><a href="mxnet-cu130/">mxnet-cu130</a>'
        '<a href="tensorflow-datasets/">tensorflow-datasets</a><a href="Tensorflow-GPU/">Tensorflow-GPU</a>'
        "</body></html>"
    )
    names = _anchor_texts(page)
    assert names[:2] == ["jax", "jax-cuda14-plugin"]
    registry = load_matrix().registry
    assert untracked_members(names, registry.packages, registry.families) == [
        "jax-cuda14-plugin",
        "mxnet-cu130",
        "tensorflow-gpu",
    ]  # tracked ones (jax_cuda12_plugin) and other families (tensorflow-datasets) are not listed
