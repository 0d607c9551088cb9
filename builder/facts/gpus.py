"""Which GPUs a build runs on: the GPU table (gpus.yaml) and each build's architectures (archs.yaml).

A GPU is named by its id (`rtx-5090`), by what nvidia-smi prints ("NVIDIA GeForce RTX 5090"),
or by its compute capability ("12.0"). A build runs on it when it carries SASS for the GPU's
major at or below its minor (the exact one for embedded parts), or PTX at or below its
capability, which the driver compiles on first use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Literal

import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version
from pydantic import BaseModel, ConfigDict

from builder import paths
from builder.facts.matrix import Confidence

_CC = re.compile(r"^\d{1,2}\.\d$")
Runs = Literal["sass", "ptx"]


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str
    date: str
    confidence: Confidence


class Gpu(_Row):
    id: str
    names: tuple[str, ...] = ()
    match: str  # searched (case-insensitively) in the name nvidia-smi prints
    cc: str
    arch: str
    segment: Literal["datacenter", "workstation", "consumer", "embedded"]
    host_arch: tuple[str, ...] = ("amd64",)
    sass_exact: bool = False  # an embedded (Tegra) part: SASS of its own capability only

    @property
    def label(self) -> str:
        """How messages name it: 'RTX 5090 (sm_120)', 'compute capability 9.0 (sm_90)'."""
        if self.id == self.cc:
            return f"compute capability {self.cc} ({sm(self.cc)})"
        name = (
            self.names[0].removeprefix("NVIDIA ").removeprefix("GeForce ") if self.names else self.id.upper()
        )
        return f"{name} ({sm(self.cc)})"


class Architectures(_Row):
    """The architectures of one framework's builds (releases, CUDA line, platform)."""

    framework: str
    releases: str
    cuda: str | None = None  # "12.8" (a CUDA minor), "12" (a CUDA major), None: any CUDA build
    platform: str = "linux/amd64"
    sass: tuple[str, ...] = ()
    ptx: tuple[str, ...] = ()
    note: str | None = None

    def covers(self, framework: str, release: Version, cuda: Version | None, platform: str) -> bool:
        if framework != self.framework or platform != self.platform:
            return False
        if not SpecifierSet(self.releases).contains(release):
            return False
        if self.cuda is None:
            return True
        if cuda is None:
            return False
        wanted = Version(self.cuda)
        return cuda.major == wanted.major and ("." not in self.cuda or cuda.minor == wanted.minor)

    def runs(self, gpu: Gpu) -> Runs | None:
        """How this build runs on a GPU: its SASS, PTX compiled by the driver, or not at all."""
        return runs_on(self.sass, self.ptx, gpu)

    def describe(self) -> str:
        listed = " ".join(sm(c) for c in self.sass)
        return listed + (
            " + PTX " + " ".join(f"compute_{c.replace('.', '')}" for c in self.ptx) if self.ptx else ""
        )


def runs_on(sass: Iterable[str], ptx: Iterable[str], gpu: Gpu) -> Runs | None:
    """How code built for these architectures runs on a GPU: SASS of its major at or below its
    minor (exactly its own for an embedded part), PTX at or below it (compiled by the driver)."""
    cc = Version(gpu.cc)
    for built in map(Version, sass):
        if built.major == cc.major and (built == cc or (built.minor <= cc.minor and not gpu.sass_exact)):
            return "sass"
    if any(Version(p) <= cc for p in ptx):
        return "ptx"
    return None


def sm(cc: str) -> str:
    """'12.0' -> 'sm_120'."""
    return "sm_" + cc.replace(".", "")


@dataclass(frozen=True)
class GpuFacts:
    gpus: tuple[Gpu, ...]
    architectures: tuple[Architectures, ...]

    def gpu(self, name: str) -> Gpu | None:
        """A GPU by id, nvidia-smi name or compute capability ("9.0" stands for any GPU of it)."""
        wanted = name.strip().lower()
        if _CC.fullmatch(wanted):
            known = next((g for g in self.gpus if g.cc == wanted), None)
            arch = known.arch if known else "compute capability"
            return Gpu(
                id=wanted,
                match=re.escape(wanted),
                cc=wanted,
                arch=arch,
                segment="datacenter",
                source="the profile",
                date="",
                confidence="V",
            )
        return next((g for g in self.gpus if g.id == wanted), None) or self.from_name(name)

    def from_name(self, reported: str) -> Gpu | None:
        """The GPU nvidia-smi calls `reported` (the first row whose pattern matches)."""
        return next((g for g in self.gpus if re.search(g.match, reported, re.IGNORECASE)), None)

    def architectures_of(
        self, framework: str, release: Version, cuda: Version | None, platform: str
    ) -> Architectures | None:
        return next((a for a in self.architectures if a.covers(framework, release, cuda, platform)), None)

    @cached_property
    def ids(self) -> tuple[str, ...]:
        return tuple(g.id for g in self.gpus)


@cache
def load_gpu_facts() -> GpuFacts:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    folder = paths.PACKAGE_DIR / "facts"
    with (folder / "gpus.yaml").open(encoding="utf-8") as fh:
        gpus = tuple(Gpu.model_validate(g) for g in yaml.load(fh, Loader=loader)["gpus"])
    with (folder / "archs.yaml").open(encoding="utf-8") as fh:
        rows = yaml.load(fh, Loader=loader)["architectures"]
    return GpuFacts(gpus, tuple(Architectures.model_validate(r) for r in rows))
