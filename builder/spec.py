"""BuildSpec: every decision the resolver made, frozen and serialisable.

Templates, the build context, the engine and the smoke runner receive only this object.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from builder import names
from builder.facts.matrix import Accelerator, RuntimeEntry


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResolvedFramework(_Frozen):
    name: str
    version: str
    variant: str
    import_name: str
    requirements: tuple[str, ...]
    index: str | None = None
    find_links: str | None = None
    implicit: bool = False
    confidence: str
    source: str
    # The CUDA its wheels' libraries are for: "13.0" pinned exactly (torch), ">=12.5" a floor
    # (tensorflow, jax: pip installs the newest libraries of that major).
    cuda_libraries: str | None = None
    library_dirs: tuple[str, ...] = ()  # site-packages folders added to LD_LIBRARY_PATH


class PipSources(_Frozen):
    """Where pip looks during the build; credentials never reach the final image."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    vendor_indexes: bool = True
    ca_bundle: bool = False
    keep_ca: bool = False


class RuntimeOptions(_Frozen):
    """How a container of this image is started (docker SDK, compose, devcontainer)."""

    gpus: bool
    devices: tuple[str, ...]
    group_add: tuple[str, ...]
    security_opt: tuple[str, ...]
    shm_size: str

    @classmethod
    def of(cls, entry: RuntimeEntry) -> RuntimeOptions:
        """The matrix's run options for an accelerator, without their source columns."""
        return cls(
            gpus=entry.gpus,
            devices=entry.devices,
            group_add=entry.group_add,
            security_opt=entry.security_opt,
            shm_size=entry.shm_size,
        )


class UserSpec(_Frozen):
    name: str
    uid: int
    gid: int


class SmokeSpec(_Frozen):
    device: Accelerator
    frameworks: tuple[str, ...]
    models: tuple[str, ...]
    steps: int
    timeout: int
    min_tflops: float | None = None
    min_copy_gbps: float | None = None
    min_peak_fraction: float | None = None  # judged by dlenv, which knows the peaks (matrix)


class BuildSpec(_Frozen):
    profile: str
    accelerator: Accelerator
    toolkit: str | None
    toolkit_tag: str | None
    min_driver: str | None
    gfx_targets: tuple[str, ...]
    os: str
    python: str  # major.minor
    python_full: str  # the OS's interpreter, e.g. 3.11.2 (what uv resolves for)
    glibc: str
    base_image: str
    base_image_overridden: bool
    frameworks: tuple[ResolvedFramework, ...]
    keras_backend: str | None
    system_apt: tuple[str, ...]
    apt: tuple[str, ...]
    packages: tuple[str, ...]
    pip: PipSources
    env: tuple[tuple[str, str], ...]
    library_path: tuple[str, ...] = ()  # prepended to LD_LIBRARY_PATH (upstream wheels' gaps)
    gpus: tuple[str, ...] = ()  # the GPUs the profile named ("RTX 5090 (sm_120)")
    # Per framework, the SASS and PTX compute capabilities its wheels carry (facts/archs.yaml).
    gpu_architectures: dict[str, dict[str, list[str]]] = Field(default_factory=dict)
    user: UserSpec
    runtime: RuntimeOptions
    smoke: SmokeSpec
    warnings: tuple[str, ...]
    matrix_updated: str
    registry_as_of: str = ""
    platform: str = "linux/amd64"  # the image's OS/architecture, as docker spells it

    @property
    def tag(self) -> str:
        """The default image tag: dlenv/<profile>:<short digest>."""
        return names.spec_image(self.profile, self.digest)

    @property
    def digest(self) -> str:
        """sha256 of the canonical JSON of what the image contains: equal specs, equal digests.

        Where pip fetches from (mirrors, wheelhouses, --pip-from-host) is site plumbing, not
        content, so it is left out; a CA kept in the image is content and counts.
        """
        data = self.model_dump(mode="json")
        data["pip"] = {"keep_ca": self.pip.keep_ca}
        if self.platform == "linux/amd64":
            del data["platform"]  # the digests of amd64 images from before platforms existed hold
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def framework(self, name: str) -> ResolvedFramework | None:
        return next((f for f in self.frameworks if f.name == name), None)

    def vendor_indexes(self) -> list[str]:
        """Framework vendor wheel indexes (e.g. download.pytorch.org), unless turned off."""
        if not self.pip.vendor_indexes:
            return []
        return list(dict.fromkeys(f.index for f in self.frameworks if f.index))

    def vendor_find_links(self) -> list[str]:
        if not self.pip.vendor_indexes:
            return []
        return list(dict.fromkeys(f.find_links for f in self.frameworks if f.find_links))

    def framework_requirements(self) -> list[str]:
        """All framework requirements, installed in one pip call so they resolve together."""
        return [req for f in self.frameworks for req in f.requirements]

    def labels(self) -> dict[str, str]:
        """OCI and dlenv labels; no timestamps, so rendering stays deterministic."""
        versions = ",".join(f"{f.name}={f.version}" for f in self.frameworks)
        labels = {
            names.LABEL_TITLE: f"dlenv {self.profile}",
            names.LABEL_DESCRIPTION: f"{self.accelerator} image with {versions}",
            names.LABEL_BASE_NAME: self.base_image,
            names.LABEL_PROFILE: self.profile,
            names.LABEL_SPEC_DIGEST: self.digest,
            names.LABEL_ACCELERATOR: self.accelerator,
            names.LABEL_TOOLKIT: self.toolkit or "none",
            names.LABEL_PYTHON: self.python,
            names.LABEL_PLATFORM: self.platform,
            names.LABEL_FRAMEWORKS: versions,
            names.LABEL_SMOKE: names.SMOKE_COMMAND,
            names.LABEL_SMOKE_TIMEOUT: str(self.smoke.timeout),
            **(
                {names.LABEL_SMOKE_PEAK_FRACTION: f"{self.smoke.min_peak_fraction:g}"}
                if self.smoke.min_peak_fraction
                else {}
            ),
            **(
                {
                    names.LABEL_GPU_ARCHS: json.dumps(
                        self.gpu_architectures, sort_keys=True, separators=(",", ":")
                    )
                }
                if self.gpu_architectures
                else {}
            ),
            names.LABEL_RUNTIME: json.dumps(
                self.runtime.model_dump(mode="json"), sort_keys=True, separators=(",", ":")
            ),
        }
        return labels

    def as_json(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["digest"] = self.digest
        data["tag"] = self.tag
        return data
