"""The builds of a framework release: how it is installed on an accelerator, and on which toolkit.

A build comes from one of the framework's build rules (matrix.yaml) applied to one release
from the registry data: a vendor variant (torch 2.13.0+cu126 from download.pytorch.org), an
extra on PyPI (tensorflow[and-cuda]), a build package (tensorflow-rocm 2.14.0.600), or a
curated wheel location (repo.radeon.com). Which CUDA its libraries are is read from the
registry (the nvidia-cuda-runtime pin or floor), so agreement between frameworks is decided
from their real pins.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from builder.facts.matrix import (
    DEFAULT_PLATFORM,
    Accelerator,
    BuildRule,
    Confidence,
    CudaEntry,
    Framework,
    Matrix,
    RocmEntry,
    Toolkit,
    variant_toolkit,
)
from builder.facts.registry import Registry, Release, marker_env


@dataclass(frozen=True)
class Build:
    framework: str
    release: Release  # the framework package's release on the registry
    variant: str
    requirements: tuple[str, ...]
    accelerator: Accelerator
    cuda: Version | None  # the CUDA of its libraries (major.minor); None: no CUDA libraries
    rocm: str | None  # exact ROCm minor ("6.3") or a major ("7")
    gate: Release  # the release whose wheels decide which Pythons the build installs on
    index: str | None = None
    find_links: str | None = None
    base_flavour: str | None = None
    confidence: Confidence = "V"
    source: str = "pypi"
    rank: int = 0  # its place among the release's builds, in the matrix's order of preference
    library_dirs: tuple[str, ...] = ()  # site-packages folders its own search path misses
    # Its wheels ask for CUDA libraries >= `cuda` (jax, tensorflow), not exactly those (torch):
    # pip then installs the newest of that major, whatever line the image is on.
    cuda_floor: bool = False

    @property
    def version(self) -> Version:
        return self.release.version

    def fits(self, toolkit: Toolkit | None) -> bool:
        """Whether the build runs on a base image with this toolkit (None: a CPU image)."""
        if isinstance(toolkit, CudaEntry):
            if self.accelerator != "cuda":
                return False
            if self.cuda is None:
                return True  # no CUDA libraries of its own (keras)
            base = Version(toolkit.version)
            return base.major == self.cuda.major and base >= self.cuda
        if isinstance(toolkit, RocmEntry):
            if self.accelerator != "rocm":
                return False
            if self.rocm is None:
                return True
            return toolkit.version == self.rocm or toolkit.version.split(".")[0] == self.rocm
        return self.accelerator == "cpu"

    def describe_toolkit(self) -> str:
        if self.cuda is not None:
            return f"CUDA {self.cuda}"
        if self.rocm is not None:
            return f"ROCm {self.rocm}" + (".x" if "." not in self.rocm else "")
        return ""


def _fill(template: str, **values: str) -> str:
    return (
        template.replace("{v}", values.get("v", ""))
        .replace("{variant}", values.get("variant", ""))
        .replace("{rv}", values.get("rv", ""))
        .replace("{rocm}", values.get("rocm", ""))
    )


def _exists(registry: Registry, text: str) -> bool:
    """A requirement is installable from the registry (when the registry knows the package)."""
    try:
        req = Requirement(text)
    except InvalidRequirement:
        return False
    if not registry.knows(req.name):
        return True
    extras = {canonicalize_name(e) for e in req.extras}
    exact = {s.version for s in req.specifier if s.operator == "=="}
    return any(
        req.specifier.contains(r.version, prereleases=True)
        and extras <= r.extras
        and (not r.yanked or str(r.version) in exact)
        for r in registry.releases(req.name)
    )


def _cuda_of(
    registry: Registry, requirements: tuple[str, ...], depth: int = 2
) -> tuple[Version, bool] | None:
    """The CUDA version a build's libraries are for, and whether pinned (following extras into
    plugin packages)."""
    python = Version("3.12.0")  # CUDA pins do not depend on the Python version
    for text in requirements:
        req = Requirement(text)
        extras = frozenset(canonicalize_name(e) for e in req.extras)
        matching = [
            r for r in registry.releases(req.name) if req.specifier.contains(r.version, prereleases=True)
        ]
        if not matching:
            continue
        release = matching[0]
        found = release.cuda_runtime_requirement(python, extras)
        if found is not None:
            return found
        if depth > 0 and extras:
            nested = tuple(
                str(r)
                for r in release.requires
                if r.marker is not None
                and any(r.marker.evaluate(marker_env(python, e, release.machine)) for e in extras)
                and registry.knows(r.name)
            )
            found = _cuda_of(registry, tuple(_without_marker(n) for n in nested), depth - 1)
            if found is not None:
                return found
    return None


def _without_marker(text: str) -> str:
    return text.split(";")[0].strip()


def _gate(registry: Registry, requirements: tuple[str, ...], fallback: Release) -> Release:
    first = Requirement(requirements[0])
    if canonicalize_name(first.name) == fallback.name or not registry.knows(first.name):
        return fallback
    matching = [
        r
        for r in registry.releases(first.name)
        if first.specifier.contains(r.version, prereleases=True) and not r.yanked
    ]
    return matching[0] if matching else fallback


def builds_of(
    matrix: Matrix,
    registry: Registry,
    name: str,
    release: Release,
    accelerator: Accelerator,
    platform: str = DEFAULT_PLATFORM,
) -> list[Build]:
    """Every build of one framework release for an accelerator on a platform, in order of
    preference. `registry` is the view of the platform's machine (Registry.on)."""
    fw = matrix.frameworks[name]
    out: list[Build] = []
    for rule in fw.builds:
        if accelerator not in rule.accelerator or not rule.covers(release.version):
            continue
        if platform not in rule.platforms:
            continue
        if rule.vendor:
            out += _vendor_builds(fw, name, rule, release, accelerator)
        elif rule.suffix_of:
            out += _suffix_builds(registry, name, rule, release)
        elif rule.releases is not None:
            out += _listed_builds(registry, name, rule, release)
        else:
            out += _pypi_builds(fw, registry, name, rule, release, accelerator)
    return [replace(build, rank=i) for i, build in enumerate(out)]


def _build(
    name: str,
    rule: BuildRule,
    release: Release,
    accelerator: Accelerator,
    requirements: tuple[str, ...],
    gate: Release,
    **kw: object,
) -> Build:
    args: dict[str, object] = {
        "base_flavour": rule.base_flavour,
        "confidence": rule.confidence,
        "source": rule.source,
        "cuda": None,
        "rocm": None,
        "variant": rule.name,
        "index": None,
        "find_links": None,
        "library_dirs": (),
    }
    args.update(kw)
    return Build(
        framework=name,
        release=release,
        requirements=requirements,
        accelerator=accelerator,
        gate=gate,
        **args,  # type: ignore[arg-type]
    )


def _vendor_builds(
    fw: Framework, name: str, rule: BuildRule, release: Release, accelerator: Accelerator
) -> list[Build]:
    line = fw.vendor_line(release.version)
    if line is None:
        return []
    variants = {"cpu": ("cpu",), "cuda": tuple(reversed(line.cuda)), "rocm": tuple(reversed(line.rocm))}[
        accelerator
    ]
    out = []
    for variant in variants:
        toolkit = variant_toolkit(variant)
        requirements = tuple(_fill(t, v=str(release.version), variant=variant) for t in rule.requirements)
        out.append(
            _build(
                name,
                rule,
                release,
                accelerator,
                requirements,
                release,
                variant=variant,
                index=_fill(rule.index or "", variant=variant) or None,
                cuda=Version(toolkit[1]) if toolkit and toolkit[0] == "cuda" else None,
                rocm=toolkit[1] if toolkit and toolkit[0] == "rocm" else None,
                confidence=line.confidence,
                source=line.source,
            )
        )
    return out


def _suffix_builds(registry: Registry, name: str, rule: BuildRule, release: Release) -> list[Build]:
    """tensorflow-rocm X.Y.Z.NNN: TensorFlow X.Y.Z for ROCm N.N."""
    assert rule.suffix_of is not None
    out = []
    for build_release in registry.releases(rule.suffix_of):
        parts = build_release.version.release
        if len(parts) != 4 or Version(".".join(map(str, parts[:3]))) != release.version:
            continue
        digits = str(parts[3])
        if len(digits) != 3 or build_release.yanked:
            continue
        rocm = f"{digits[0]}.{digits[1]}"
        rv = str(build_release.version)
        out.append(
            _build(
                name,
                rule,
                release,
                "rocm",
                tuple(_fill(t, v=str(release.version), rv=rv) for t in rule.requirements),
                build_release,
                variant=f"{rule.name} {rv}",
                rocm=rocm,
            )
        )
    return sorted(out, key=lambda b: b.gate.version, reverse=True)


def _listed_builds(registry: Registry, name: str, rule: BuildRule, release: Release) -> list[Build]:
    assert rule.releases is not None
    out = []
    for rocm in rule.releases.get(str(release.version), ()):
        requirements = tuple(_fill(t, v=str(release.version)) for t in rule.requirements)
        out.append(
            _build(
                name,
                rule,
                release,
                "rocm",
                requirements,
                release,
                rocm=rocm,
                find_links=_fill(rule.find_links or "", rocm=rocm) or None,
            )
        )
    return out


def _pypi_builds(
    fw: Framework, registry: Registry, name: str, rule: BuildRule, release: Release, accelerator: Accelerator
) -> list[Build]:
    requirements = tuple(_fill(t, v=str(release.version)) for t in rule.requirements)
    if not all(_exists(registry, r) for r in requirements):
        return []
    cuda: Version | None = None
    floor = False
    if rule.cpu_only and _cuda_of(registry, requirements) is not None:
        return []  # on this machine PyPI's wheel of that release is a CUDA build
    if accelerator == "cuda":
        try:
            found = (Version(rule.cuda), True) if rule.cuda else _cuda_of(registry, requirements)
        except InvalidVersion:
            found = None
        if found is not None:
            cuda, floor = found[0], not found[1]
        if cuda is None and rule.accelerator == ("cuda",):
            return []  # a CUDA build whose CUDA cannot be told
    return [
        _build(
            name,
            rule,
            release,
            accelerator,
            requirements,
            _gate(registry, requirements, release),
            cuda=cuda,
            rocm=rule.rocm if accelerator == "rocm" else None,
            library_dirs=fw.library_dirs(rule.name, release.version),
            cuda_floor=floor,
        )
    ]
