"""Typed access to pytorch_releases.yaml: what PyTorch's release pipeline published that PyPI's
own wheel does not say (the vendor variants' CUDA-library pins, the companion pairing)."""

from __future__ import annotations

from functools import cache

import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version
from pydantic import BaseModel, ConfigDict

from builder import paths
from builder.facts.matrix import Confidence


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str
    date: str
    confidence: Confidence


class VariantPins(_Row):
    """The Requires-Dist on CUDA libraries of download.pytorch.org's torch==X+variant wheels."""

    releases: str  # a PEP 440 specifier
    variant: str  # cu126
    platform: str  # linux/amd64
    requires: tuple[str, ...]
    bundled: bool = False  # the wheel carries its CUDA libraries itself (no nvidia-* wheels)


class Companions(_Row):
    """The torchvision and torchaudio PyPI published with one torch release."""

    torch: str
    torchvision: str | None = None
    torchaudio: str | None = None


class PytorchReleases(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    variant_pins: tuple[VariantPins, ...]
    companions: tuple[Companions, ...]

    def pins(self, version: Version, variant: str, platform: str) -> VariantPins | None:
        """The recorded pins of torch==version+variant for a platform, if any."""
        return next(
            (
                p
                for p in self.variant_pins
                if p.variant == variant
                and p.platform == platform
                and SpecifierSet(p.releases).contains(version)
            ),
            None,
        )

    def companion(self, torch: Version, name: str) -> str | None:
        """The companion release (torchvision, torchaudio) PyTorch published with a torch release."""
        row = next((c for c in self.companions if Version(c.torch) == torch), None)
        return getattr(row, name, None) if row is not None else None

    def knows(self, torch: Version) -> bool:
        return any(Version(c.torch) == torch for c in self.companions)


@cache
def load_pytorch_releases() -> PytorchReleases:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with (paths.PACKAGE_DIR / "facts" / "pytorch_releases.yaml").open(encoding="utf-8") as fh:
        return PytorchReleases.model_validate(yaml.load(fh, Loader=loader))
