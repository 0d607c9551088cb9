"""What a profile asks the search for: frameworks with their pins, the toolkit, OS and Python;
and the companions (torchvision, torchaudio) that go with a framework release."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from packaging.utils import canonicalize_name
from packaging.version import Version

from builder.facts.gpus import Gpu
from builder.facts.matrix import Accelerator
from builder.facts.registry import Registry, Release


@dataclass(frozen=True)
class Pin:
    """A version pin as the user wrote it: "2.8" is any 2.8.x, "2.8.0" exactly 2.8.0."""

    text: str

    @cached_property
    def version(self) -> Version:
        return Version(self.text)

    @cached_property
    def exact(self) -> bool:
        return len(self.version.release) >= 3 or self.version.post is not None

    def matches(self, version: Version) -> bool:
        if self.exact:
            return version == self.version
        prefix = self.version.release  # "2.8" is any 2.8.x (post releases included)
        return version.release[: len(prefix)] == prefix


@dataclass(frozen=True)
class Wanted:
    """One framework of the request."""

    name: str
    pin: Pin | None
    companions: tuple[str, ...] = ()
    implicit: bool = False  # added as Keras' backend


@dataclass(frozen=True)
class Request:
    accelerator: Accelerator
    toolkit: str | None
    os: str | None
    python: str | None
    frameworks: tuple[Wanted, ...]
    keras_backend: str | None = None
    gpus: tuple[Gpu, ...] = ()  # only builds with kernels for all of them
    platform: str = "linux/amd64"


def companion_release(registry: Registry, companion: str, release: Release) -> Release | None:
    """The companion (torchvision, torchaudio) release made for this framework release.

    PyTorch's own pairing first (pytorch_releases.yaml): it holds where a companion stopped
    pinning torch (torchaudio 2.11.0 has no torch requirement and serves torch 2.11-2.14).
    Else the companion's own pin: `==X`, or a floor `>=X` in the same minor line (a companion
    of a later line would pin that line), so it pairs with releases of that line only.
    """
    from builder.facts.pytorch_releases import load_pytorch_releases

    paired = load_pytorch_releases().companion(release.version, companion)
    if paired is not None:
        return registry.release(companion, paired)
    line = (release.version.major, release.version.minor)
    for candidate in registry.releases(companion):
        if candidate.yanked:
            continue
        for req in candidate.requires:
            if canonicalize_name(req.name) != release.name:
                continue
            floors = [
                Version(s.version.rstrip(".*")) for s in req.specifier if s.operator in ("==", ">=", "~=")
            ]
            if (
                floors
                and all((f.major, f.minor) == line for f in floors)
                and req.specifier.contains(release.version, prereleases=True)
            ):
                return candidate
    return None
