"""The compatibility matrix: typed access to builder/data/matrix.yaml.

The knowledge is data; this module only loads and validates it, and answers lookups.
"""

from __future__ import annotations

from functools import cache
from typing import Literal

import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version
from pydantic import BaseModel, ConfigDict, Field

from builder import paths

Confidence = Literal["V", "S", "U"]
Accelerator = Literal["cpu", "cuda", "rocm"]


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str
    date: str
    confidence: Confidence


class OsEntry(_Row):
    name: str
    image: str
    python: str
    venv_package: str


class CudaEntry(_Row):
    version: str
    tag: str
    driver: str
    min_cc: str
    os: tuple[str, ...]
    flavours: tuple[str, ...]

    def image(self, os_name: str, flavour: str) -> str:
        return f"nvidia/cuda:{self.tag}-{flavour}-{os_name}"


class RocmEntry(_Row):
    version: str
    tag: str
    os: tuple[str, ...]
    gfx: tuple[str, ...]

    def image(self, os_name: str) -> str:
        distro = os_name.replace("ubuntu", "ubuntu-")
        return f"rocm/dev-{distro}:{self.tag}"


class Variant(BaseModel):
    """How one build of a framework is installed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requirements: tuple[str, ...]
    index: str | None = None
    find_links: str | None = None
    cudnn: str | None = None
    base_flavour: str | None = None


class Release(_Row):
    version: str
    python: str
    cpu: str | None = None
    cuda: dict[str, str] | Literal["any"] = Field(default_factory=dict)
    rocm: dict[str, str] | Literal["any"] = Field(default_factory=dict)
    companions: dict[str, str] = Field(default_factory=dict)
    min_backend: dict[str, str] = Field(default_factory=dict)

    @property
    def parsed(self) -> Version:
        return Version(self.version)

    def supports_python(self, python: str) -> bool:
        return Version(python) in SpecifierSet(self.python)

    def variant_name(self, accelerator: Accelerator, toolkit: str | None) -> str | None:
        """The variant for this accelerator and toolkit minor, or None when unsupported."""
        if accelerator == "cpu":
            return self.cpu
        table = self.cuda if accelerator == "cuda" else self.rocm
        if table == "any":
            return self.cpu
        return table.get(toolkit or "")

    def toolkits(self, accelerator: Accelerator) -> tuple[str, ...] | Literal["any"]:
        table = self.cuda if accelerator == "cuda" else self.rocm
        return table if table == "any" else tuple(table)


class GfxOverride(_Row):
    """An unlisted GPU target that runs as a listed one with HSA_OVERRIDE_GFX_VERSION."""

    gfx: str
    runs_as: str
    hsa_override: str


class Framework(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    package: str
    import_name: str = Field(alias="import")
    variants: dict[str, Variant]
    releases: tuple[Release, ...]
    retired: str | None = None
    accelerators: tuple[Accelerator, ...] = ("cpu", "cuda", "rocm")
    extra_requirements: tuple[str, ...] = ()
    apt: tuple[str, ...] = ()
    backends: tuple[str, ...] = ()
    default_backend: str | None = None

    def newest_first(self) -> list[Release]:
        return sorted(self.releases, key=lambda r: r.parsed, reverse=True)


class RuntimeEntry(_Row):
    """Container options an accelerator needs at run time."""

    gpus: bool
    devices: tuple[str, ...]
    group_add: tuple[str, ...]
    security_opt: tuple[str, ...]
    shm_size: str


class Matrix(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_: int = Field(alias="schema")
    updated: str
    sources: dict[str, str]
    os: tuple[OsEntry, ...]
    default_os: dict[Accelerator, tuple[str, ...]]
    cuda: tuple[CudaEntry, ...]
    cuda_family_driver: dict[str, str]
    rocm: tuple[RocmEntry, ...]
    rocm_gfx_overrides: tuple[GfxOverride, ...] = ()
    frameworks: dict[str, Framework]
    runtime: dict[Accelerator, RuntimeEntry]

    def gfx_override(self, gfx: str) -> GfxOverride | None:
        return next((o for o in self.rocm_gfx_overrides if o.gfx == gfx), None)

    def os_entry(self, name: str) -> OsEntry | None:
        return next((o for o in self.os if o.name == name), None)

    def toolkit_entries(self, accelerator: Accelerator) -> tuple[CudaEntry | RocmEntry, ...]:
        if accelerator == "cuda":
            return self.cuda
        if accelerator == "rocm":
            return self.rocm
        return ()

    def toolkit(self, accelerator: Accelerator, version: str) -> CudaEntry | RocmEntry | None:
        return next((t for t in self.toolkit_entries(accelerator) if t.version == version), None)


@cache
def load_matrix() -> Matrix:
    """Load and validate the packaged matrix (cached: it never changes within a process)."""
    # The C loader (libyaml) parses the matrix ~7x faster; it is trusted package data.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with paths.matrix_file().open(encoding="utf-8") as fh:
        return Matrix.model_validate(yaml.load(fh, Loader=loader))  # noqa: S506 - a safe loader
