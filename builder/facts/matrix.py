"""The curated compatibility matrix: typed access to builder/facts/matrix.yaml.

The knowledge is data; this module only loads and validates it, and answers lookups. What the
package registry can tell lives in builder/facts/registry.json (builder.facts.registry).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Literal

import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version
from pydantic import BaseModel, ConfigDict, Field, field_validator

from builder import paths

Confidence = Literal["V", "S", "U"]
Accelerator = Literal["cpu", "cuda", "rocm"]
Platform = Literal["linux/amd64", "linux/arm64"]
PLATFORMS: tuple[Platform, ...] = ("linux/amd64", "linux/arm64")
DEFAULT_PLATFORM: Platform = "linux/amd64"
# The machine (uname -m, as wheel tags and markers spell it) of each platform.
MACHINE: dict[str, str] = {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}
_CUDA_VARIANT = re.compile(r"^cu(\d+)(\d)$")
_ROCM_VARIANT = re.compile(r"^rocm(\d+)\.(\d+)(?:\.\d+)?$")


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str
    date: str
    confidence: Confidence


class OsEntry(_Row):
    name: str
    image: str
    python: str  # the full version the OS ships, e.g. 3.11.2
    glibc: str
    venv_package: str
    # No nvidia/cuda tags exist for it: CUDA images start from `image` and take CUDA and cuDNN
    # from the framework wheels (and set NVIDIA's container variables themselves).
    cuda_from_wheels: bool = False
    # The base of each other platform, by its per-architecture name (arm64v8/debian): the
    # classic builder keeps one image per name, so a multi-arch tag pulled for arm64 would
    # replace the amd64 one.
    images: dict[str, str] = Field(default_factory=dict)

    @field_validator("images")
    @classmethod
    def _known_platforms(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - set(PLATFORMS)
        if unknown:
            raise ValueError(f"unknown platforms {sorted(unknown)}; known: {', '.join(PLATFORMS)}")
        return value

    def image_for(self, platform: str) -> str | None:
        """The base image of this OS for a platform (`image` is linux/amd64's)."""
        return self.image if platform == DEFAULT_PLATFORM else self.images.get(platform)

    @property
    def python_minor(self) -> str:
        v = Version(self.python)
        return f"{v.major}.{v.minor}"


class CudaEntry(_Row):
    version: str
    tag: str
    driver: str
    min_cc: str
    max_cc: str | None = None  # the newest architecture the toolkit can compile for
    os: tuple[str, ...]
    flavours: tuple[str, ...]
    platforms: tuple[Platform, ...] = (DEFAULT_PLATFORM,)  # nvidia/cuda's tags are multi-arch

    def image(self, os_name: str, flavour: str) -> str:
        return f"nvidia/cuda:{self.tag}-{flavour}-{os_name}"


class RocmEntry(_Row):
    version: str
    tag: str
    os: tuple[str, ...]
    gfx: tuple[str, ...]
    platforms: tuple[Platform, ...] = (DEFAULT_PLATFORM,)

    def image(self, os_name: str) -> str:
        distro = os_name.replace("ubuntu", "ubuntu-")
        return f"rocm/dev-{distro}:{self.tag}"


Toolkit = CudaEntry | RocmEntry


class GfxOverride(_Row):
    """An unlisted GPU target that runs as a listed one with HSA_OVERRIDE_GFX_VERSION."""

    gfx: str
    runs_as: str
    hsa_override: str


class GpuPeak(_Row):
    """A GPU's published peaks: dense bf16 tensor TFLOP/s and memory bandwidth."""

    match: str  # regular expression searched in the device name a framework reports
    name: str
    bf16_tflops: float
    memory_gbps: float


class BuildRule(BaseModel):
    """How a framework release is installed on an accelerator (see matrix.yaml, frameworks)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    accelerator: tuple[Accelerator, ...]
    requirements: tuple[str, ...]
    index: str | None = None
    find_links: str | None = None
    vendor: bool = False
    suffix_of: str | None = None
    versions: str | None = None
    cuda: str | None = None
    rocm: str | None = None
    releases: dict[str, tuple[str, ...]] | None = None
    base_flavour: str | None = None
    source: str = "pypi"
    date: str | None = None
    confidence: Confidence = "V"
    platforms: tuple[Platform, ...] = PLATFORMS  # where the build exists
    # Why it exists on no other platform (said when a profile asks for one).
    elsewhere: str | None = None
    # A CPU build from PyPI's default wheel: only where that wheel carries no CUDA libraries.
    cpu_only: bool = False

    @field_validator("accelerator", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value

    def covers(self, release: Version) -> bool:
        return self.versions is None or SpecifierSet(self.versions).contains(release)


class VendorLine(_Row):
    """The wheel variants a vendor index publishes for one release line (major.minor)."""

    line: str
    cuda: tuple[str, ...] = ()
    rocm: tuple[str, ...] = ()


def variant_toolkit(variant: str) -> tuple[Accelerator, str] | None:
    """cu126 -> ("cuda", "12.6"), rocm6.2.4 -> ("rocm", "6.2"), cpu -> None."""
    if match := _CUDA_VARIANT.match(variant):
        return "cuda", f"{match.group(1)}.{match.group(2)}"
    if match := _ROCM_VARIANT.match(variant):
        return "rocm", f"{match.group(1)}.{match.group(2)}"
    return None


class LibraryFix(_Row):
    """Library folders a build's own search path misses (an upstream packaging defect), added to
    the image's LD_LIBRARY_PATH. Paths are relative to the environment's site-packages."""

    build: str  # the build rule's name
    versions: str  # the releases it affects (a PEP 440 specifier)
    dirs: tuple[str, ...]
    why: str

    def applies(self, rule: str, release: Version) -> bool:
        return rule == self.build and SpecifierSet(self.versions).contains(release)


class Framework(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    package: str
    import_name: str = Field(alias="import")
    since: str
    builds: tuple[BuildRule, ...]
    vendor_lines: tuple[VendorLine, ...] = ()
    companions: tuple[str, ...] = ()
    retired: str | None = None
    accelerators: tuple[Accelerator, ...] = ("cpu", "cuda", "rocm")
    extra_requirements: tuple[str, ...] = ()
    apt: tuple[str, ...] = ()
    backends: dict[str, str] = Field(default_factory=dict)
    default_backend: str | None = None
    min_backend: dict[str, str] = Field(default_factory=dict)
    library_fixes: tuple[LibraryFix, ...] = ()

    def library_dirs(self, rule: str, release: Version) -> tuple[str, ...]:
        return tuple(d for fix in self.library_fixes if fix.applies(rule, release) for d in fix.dirs)

    def vendor_line(self, release: Version) -> VendorLine | None:
        line = f"{release.major}.{release.minor}"
        return next((v for v in self.vendor_lines if v.line == line), None)


class RuntimeEntry(_Row):
    """Container options an accelerator needs at run time."""

    gpus: bool
    devices: tuple[str, ...]
    group_add: tuple[str, ...]
    security_opt: tuple[str, ...]
    shm_size: str


class RegistryPackage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    framework: str
    since: str


class RegistryScope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    index: str
    packages: dict[str, RegistryPackage]
    families: tuple[str, ...] = ()  # name patterns whose untracked members refresh reports


class Matrix(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_: int = Field(alias="schema")
    updated: str
    sources: dict[str, str]
    registry: RegistryScope
    os: tuple[OsEntry, ...]
    default_os: dict[Accelerator, tuple[str, ...]]
    cuda: tuple[CudaEntry, ...]
    cuda_family_driver: dict[str, str]
    # The first CUDA toolkit that compiles for an architecture (source cuda-archs).
    cuda_first_targets: dict[str, str] = Field(default_factory=dict)
    rocm: tuple[RocmEntry, ...]
    rocm_gfx_overrides: tuple[GfxOverride, ...] = ()
    gpu_peaks: tuple[GpuPeak, ...] = ()
    frameworks: dict[str, Framework]
    runtime: dict[Accelerator, RuntimeEntry]

    def gpu_peak(self, device_name: str) -> GpuPeak | None:
        """The published peaks of the GPU a framework names (the first row that matches)."""
        return next((p for p in self.gpu_peaks if re.search(p.match, device_name)), None)

    def cuda_targets(self, toolkit: CudaEntry, cc: str) -> bool:
        """Whether a CUDA toolkit compiles for a compute capability."""
        version, wanted = Version(toolkit.version), Version(cc)
        if wanted < Version(toolkit.min_cc) or (toolkit.max_cc and wanted > Version(toolkit.max_cc)):
            return False
        first = self.cuda_first_targets.get(cc)
        return first is None or Version(first) <= version

    def gfx_override(self, gfx: str) -> GfxOverride | None:
        return next((o for o in self.rocm_gfx_overrides if o.gfx == gfx), None)

    def os_entry(self, name: str) -> OsEntry | None:
        return next((o for o in self.os if o.name == name), None)

    def toolkit_entries(self, accelerator: Accelerator) -> tuple[Toolkit, ...]:
        if accelerator == "cuda":
            return self.cuda
        if accelerator == "rocm":
            return self.rocm
        return ()

    def toolkit(self, accelerator: Accelerator, version: str) -> Toolkit | None:
        return next((t for t in self.toolkit_entries(accelerator) if t.version == version), None)

    def framework_of_backend(self, backend: str) -> str | None:
        return self.frameworks["keras"].backends.get(backend) if "keras" in self.frameworks else None


@cache
def load_matrix() -> Matrix:
    """Load and validate the packaged matrix (cached: it never changes within a process)."""
    # The C loader (libyaml) parses the matrix ~7x faster; it is trusted package data.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with paths.matrix_file().open(encoding="utf-8") as fh:
        return Matrix.model_validate(yaml.load(fh, Loader=loader))  # a safe loader
