"""What the registry data makes dlenv know, class by class (issue: compatibility knowledge from
the registry). Expectations are computed from the recorded registry data and the curated vendor
rows, never typed in by hand."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from builder import paths
from builder.errors import ResolveError
from builder.facts.matrix import load_matrix
from builder.facts.registry import load_registry
from builder.profile.load import parse_profile
from builder.resolve.decide import resolve
from builder.spec import BuildSpec

M = load_matrix()
R = load_registry()
RAW = json.loads(paths.registry_file().read_text())
CPU_OSES = {o.name: o for o in M.os}
SCOPE = {"pytorch": "2.1", "tensorflow": "2.12", "jax": "0.4.30", "keras": "3.0", "mxnet": "1.9"}


def _resolve(text: str) -> BuildSpec:
    return resolve(parse_profile("name: t\n" + text))


def _own_wheel_for(package: str, version: str, python: str) -> bool:
    """From the raw recorded data: a wheel of this release installs on this Python."""
    raw = RAW["packages"][package][version]
    minor = Version(python)
    short = Version(f"{minor.major}.{minor.minor}")
    if raw["requires_python"] and not SpecifierSet(raw["requires_python"]).contains(minor):
        return False
    return any(
        SpecifierSet("" if spec == "*" else spec).contains(short)
        for spec, _, machine in raw["wheels"]
        if machine in ("x86_64", "any")
    )


def _releases() -> Iterator[tuple[str, str]]:
    for name, since in SCOPE.items():
        package = M.frameworks[name].package
        for version, raw in RAW["packages"][package].items():
            if Version(version) >= Version(since) and not raw["yanked"]:
                yield name, version


RELEASES = sorted(_releases())


@pytest.mark.parametrize(("framework", "version"), RELEASES, ids=[f"{f}-{v}" for f, v in RELEASES])
def test_every_release_is_an_exact_pin_on_a_cpu_profile_whose_python_it_supports(
    framework: str, version: str
) -> None:
    accepted = []
    for os_name, entry in CPU_OSES.items():
        text = f'accelerator: cpu\nos: {os_name}\nframeworks: {{{framework}: "{version}"}}'
        own = _own_wheel_for(M.frameworks[framework].package, version, entry.python)
        try:
            spec = _resolve(text)
        except ResolveError as exc:
            message = str(exc)
            # Refused with the reason: the Python range, or the wheel that is missing.
            assert "Python" in message and ("needs Python" in message or "no wheel" in message), message
            continue
        assert own, f"{framework} {version} has no wheel for {entry.python} yet was accepted"
        assert spec.frameworks[0].version == version
        accepted.append(os_name)
    wanted = [
        o for o, e in CPU_OSES.items() if _own_wheel_for(M.frameworks[framework].package, version, e.python)
    ]
    # Accepted everywhere its own wheels allow, unless a dependency has no wheel there (mxnet's
    # numpy<1.24, jax's jaxlib): then the refusal above named that wheel.
    assert accepted or not wanted, f"{framework} {version}: refused on every CPU OS"


@pytest.mark.parametrize(("framework", "version"), [("tensorflow", "2.15.0.post1"), ("jax", "0.9.0.1")])
def test_post_and_four_part_releases_are_pins(framework: str, version: str) -> None:
    spec = _resolve(f'accelerator: cpu\nos: debian12\nframeworks: {{{framework}: "{version}"}}')
    assert spec.frameworks[0].version == version


def test_minor_pin_takes_the_newest_patch_that_fits() -> None:
    spec = _resolve('accelerator: cpu\nos: debian12\nframeworks: {pytorch: "2.7"}')
    patches = [r.version for r in R.releases("torch") if (r.version.major, r.version.minor) == (2, 7)]
    assert Version(spec.frameworks[0].version) == max(patches)


# -- class 2: whole lines that were missing ----------------------------------------------------
@pytest.mark.parametrize("line", ["3.0", "3.1", "3.2", "3.4", "3.5", "3.9", "3.11"])
def test_every_keras_3_line_resolves(line: str) -> None:
    spec = _resolve(f'accelerator: cpu\nos: debian12\nframeworks: {{keras: "{line}"}}')
    assert spec.frameworks[0].version.startswith(line + ".")


def test_jax_after_010_on_python_312_images() -> None:
    newest = max(r.version for r in R.releases("jax") if not r.yanked)
    assert newest > Version("0.10.99")
    spec = _resolve("accelerator: cpu\nos: ubuntu24.04\nframeworks: {jax: null}")
    assert Version(spec.frameworks[0].version) == newest


def test_cuda_132_with_torch_cu132_and_cuda_122_exist() -> None:
    spec = _resolve('accelerator: cuda\ncuda: "13.2"\nframeworks: {pytorch: "2.12"}')
    assert spec.frameworks[0].requirements[0].endswith("+cu132")
    assert spec.base_image.startswith("nvidia/cuda:13.2.")
    assert _resolve('accelerator: cuda\ncuda: "12.2"\nframeworks: {jax: "0.4.30"}').base_image.startswith(
        "nvidia/cuda:12.2.2-"
    )


def test_tensorflow_rocm_570_builds_for_rocm_57() -> None:
    builds = [v for v in RAW["packages"]["tensorflow-rocm"] if v.endswith(".570")]
    assert builds
    for build in builds:
        tf = ".".join(build.split(".")[:3])
        spec = _resolve(f'accelerator: rocm\nrocm: "5.7"\nframeworks: {{tensorflow: "{tf}"}}')
        assert spec.frameworks[0].requirements == (f"tensorflow-rocm=={build}",)


# -- class 3: Python ranges read from the wheels -----------------------------------------------
def test_torch_215_has_no_python_310_wheel_so_ubuntu2204_is_refused() -> None:
    assert not _own_wheel_for("torch", "2.15.0", "3.10.12")
    with pytest.raises(ResolveError, match="needs Python|no wheel for Python 3.10"):
        _resolve('accelerator: cuda\nos: ubuntu22.04\nframeworks: {pytorch: "2.15.0"}')


# -- class 4: variants that do not exist are never rendered -------------------------------------
def test_only_real_tensorflow_rocm_builds_are_rendered() -> None:
    spec = _resolve('accelerator: rocm\nrocm: "6.0"\nframeworks: {tensorflow: "2.14"}')
    req = spec.frameworks[0].requirements[0]
    assert req.split("==")[1] in RAW["packages"]["tensorflow-rocm"]


def test_torch_214_is_not_built_for_rocm_71() -> None:
    line = M.frameworks["pytorch"].vendor_line(Version("2.14.0"))
    assert line is not None and "rocm7.1" not in line.rocm
    with pytest.raises(ResolveError, match="pytorch 2.14.1 has ROCm builds for rocm 7.2"):
        _resolve('accelerator: rocm\nrocm: "7.1"\nframeworks: {pytorch: "2.14"}')


# -- class 5: constraints the packages declare -------------------------------------------------
def test_keras_pin_holds_tensorflow_to_releases_that_allow_it() -> None:
    spec = _resolve('accelerator: cpu\nos: debian12\nframeworks: {keras: "3.10"}')
    tf = spec.framework("tensorflow")
    assert tf is not None
    keras = Version(spec.frameworks[0].version)
    newer_tf = [r for r in R.releases("tensorflow-cpu") if r.version > Version(tf.version)]
    for release in newer_tf:  # every newer TensorFlow's own keras floor excludes this Keras
        floor = next(r for r in release.requires if r.name == "keras")
        assert not floor.specifier.contains(keras), release.version


def test_mxnet_numpy_pin_refuses_new_tensorflow() -> None:
    with pytest.raises(ResolveError) as info:
        _resolve('accelerator: cpu\nos: debian12\nframeworks: {mxnet: "1.9.1", tensorflow: "2.18"}')
    assert "numpy" in str(info.value)


def test_jax_with_numpy_2_and_tensorflow_216_do_not_share_an_image() -> None:
    # The first jax whose own Requires-Dist needs NumPy 2; TensorFlow 2.16 requires numpy<2 (and
    # an ml_dtypes of its time): the message names one package both require, from each side.
    jax = min(
        r.version
        for r in R.releases("jax")
        if any(q.name == "numpy" and not q.specifier.contains("1.26.4") for q in r.requires)
    )
    with pytest.raises(ResolveError) as info:
        _resolve(f'accelerator: cpu\nos: debian12\nframeworks: {{jax: "{jax}", tensorflow: "2.16"}}')
    message = str(info.value)
    required_by_jax = {
        canonicalize_name(m) for m in re.findall(rf"jax {jax} requires ([A-Za-z0-9_.-]+?)[<>=~!]", message)
    }
    required_by_tf = {
        canonicalize_name(m)
        for m in re.findall(r"tensorflow\S* 2\.16\.\d requires ([A-Za-z0-9_.-]+?)[<>=~!]", message)
    }
    assert required_by_jax & required_by_tf & {"numpy", "ml-dtypes"}, message
    assert 'set jax to "' in message and 'set tensorflow to "' in message


# -- class 6: CUDA libraries of multi-framework images ------------------------------------------
def test_tensorflow_219_and_torch_27_cu126_pins_clash() -> None:
    torch = R.release("torch", "2.7.1")
    tf = R.release("tensorflow", "2.19.0")
    assert torch is not None and tf is not None
    assert torch.cuda_runtime(Version("3.12.3")) == Version("12.6")  # PyPI's 2.7.1 is the cu126 build
    with pytest.raises(ResolveError) as info:
        _resolve('accelerator: cuda\ncuda: "12.6"\nframeworks: {pytorch: "2.7.1", tensorflow: "2.19.0"}')
    assert "nvidia-" in str(info.value)


def test_two_cuda_majors_never_share_an_image() -> None:
    with pytest.raises(ResolveError) as info:
        _resolve('accelerator: cuda\ncuda: "13.0"\nframeworks: {pytorch: "2.13", tensorflow: "2.21"}')
    assert "CUDA" in str(info.value)


# -- class 7: Keras backends as Keras spells them -----------------------------------------------
def test_keras_backends_are_keras_own_names() -> None:
    assert set(M.frameworks["keras"].backends) == {"tensorflow", "jax", "torch"}
