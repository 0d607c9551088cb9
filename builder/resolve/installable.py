"""Resolve a set of requirements against the recorded registry data (resolvelib, offline).

This is how the solver checks, in milliseconds and without network, that the frameworks it
picked install together on the image's Python: every package the registry data knows (the
frameworks, their build packages, numpy, ml_dtypes, keras, the nvidia-* CUDA libraries, ...)
takes part, with its real releases, wheels and Requires-Dist; packages outside that scope are
assumed to resolve (the exact check is uv, `dlenv validate --resolve`).

Vendor builds such as `torch==2.13.0+cu126` are not on PyPI: they take part as the PyPI release
they were built from, minus its CUDA-library pins unless the PyPI wheel is that same CUDA build.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from resolvelib import AbstractProvider, BaseReporter, ResolutionImpossible, ResolutionTooDeep, Resolver
from resolvelib.structs import RequirementInformation

from builder.facts.registry import Registry, Release, marker_env

_CUDA_LOCAL = re.compile(r"^cu(\d+)(\d)$")


@dataclass(frozen=True)
class Target:
    """The image's interpreter and C library."""

    python: Version  # full version, e.g. 3.11.2
    glibc: Version


@dataclass(frozen=True)
class Candidate:
    release: Release
    extras: frozenset[str]

    @property
    def name(self) -> str:
        return self.release.name

    @property
    def version(self) -> Version:
        return self.release.version


@dataclass(frozen=True)
class Conflict:
    """Why a set of requirements cannot install together, in dlenv's words."""

    lines: tuple[str, ...]

    def __str__(self) -> str:
        return "; ".join(self.lines)


def _identify(name: str, extras: Iterable[str]) -> str:
    extras = sorted(canonicalize_name(e) for e in extras)
    return canonicalize_name(name) + (f"[{','.join(extras)}]" if extras else "")


class _Provider(AbstractProvider[Requirement, Candidate, str]):
    def __init__(self, registry: Registry, target: Target, derived: Mapping[str, list[Release]]) -> None:
        self.registry = registry
        self.target = target
        self.derived = derived

    def identify(self, requirement_or_candidate: Requirement | Candidate) -> str:
        if isinstance(requirement_or_candidate, Candidate):
            return _identify(requirement_or_candidate.name, requirement_or_candidate.extras)
        return _identify(requirement_or_candidate.name, requirement_or_candidate.extras)

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[RequirementInformation[Requirement, Candidate]]],
        backtrack_causes: Sequence[RequirementInformation[Requirement, Candidate]],
    ) -> Any:
        pinned = any(
            str(s.operator) == "==" for info in information[identifier] for s in info.requirement.specifier
        )
        return (not pinned, "[" not in identifier, identifier)

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Requirement]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> list[Candidate]:
        reqs = list(requirements[identifier])
        bad = {c.version for c in incompatibilities[identifier]}
        name = canonicalize_name(reqs[0].name) if reqs else identifier.split("[")[0]
        extras = frozenset(canonicalize_name(e) for r in reqs for e in r.extras)
        exact = {
            Version(s.version)
            for r in reqs
            for s in r.specifier
            if s.operator in ("==", "===") and "*" not in s.version
        }
        out = []
        derived = [
            r for r in self.derived.get(name, []) if r.installs_on(self.target.python, self.target.glibc)
        ]
        for release in [*derived, *self.registry.installable(name, self.target.python, self.target.glibc)]:
            if release.version in bad or (release.yanked and release.version not in exact):
                continue
            if not extras <= release.extras:
                continue
            if all(r.specifier.contains(release.version, prereleases=True) for r in reqs):
                out.append(Candidate(release, extras))
        return out

    def is_satisfied_by(self, requirement: Requirement, candidate: Candidate) -> bool:
        return requirement.specifier.contains(candidate.version, prereleases=True)

    def get_dependencies(self, candidate: Candidate) -> list[Requirement]:
        python = self.target.python
        if candidate.extras:  # the extras' own deps, plus the base package at the same version
            base = Requirement(f"{candidate.name}=={candidate.version}")
            deps = [
                r
                for r in candidate.release.requires
                if r.marker is not None
                and any(
                    r.marker.evaluate(marker_env(python, e, candidate.release.machine))
                    for e in candidate.extras
                )
            ]
            return [base, *(r for r in deps if self.registry.covers(r))]
        return [
            r
            for r in candidate.release.requires
            if self.registry.covers(r)
            and (r.marker is None or r.marker.evaluate(marker_env(python, "", candidate.release.machine)))
        ]


def derived_releases(
    registry: Registry, requirements: Iterable[Requirement], platform: str = "linux/amd64"
) -> dict[str, list[Release]]:
    """Vendor builds (`==V+local`) of requirements, derived from their PyPI release V: with the
    vendor wheel's own CUDA-library pins where they are on record (pytorch_releases.yaml)."""
    out: dict[str, list[Release]] = {}
    for req in requirements:
        for spec in req.specifier:
            if spec.operator != "==" or "+" not in spec.version:
                continue
            public, _, local = spec.version.partition("+")
            base = registry.release(req.name, public)
            if base is None:
                continue
            pins = vendor_pins(req.name, base.version, local, platform)
            same = _same_cuda(base, local) and pins is None
            out.setdefault(canonicalize_name(req.name), []).append(
                base.with_local(local, keep_cuda_libraries=same, cuda_libraries=pins or ())
            )
    return out


def vendor_pins(name: str, version: Version, variant: str, platform: str) -> tuple[str, ...] | None:
    """The CUDA-library requirements of a vendor build, when PyTorch's are on record."""
    if canonicalize_name(name) != "torch":
        return None
    from builder.facts.pytorch_releases import load_pytorch_releases

    row = load_pytorch_releases().pins(version, variant, platform)
    return row.requires if row is not None else None


def _same_cuda(release: Release, local: str) -> bool:
    """Whether PyPI's wheel of this release is the `cuXYZ` build itself (same CUDA minor)."""
    match = _CUDA_LOCAL.match(local)
    if not match:
        return False
    cuda = release.cuda_runtime(Version("3.12"))
    return cuda is not None and cuda == Version(f"{match.group(1)}.{match.group(2)}")


def resolve(
    registry: Registry, requirements: Mapping[str, str | None], target: Target
) -> dict[str, Version] | Conflict:
    """Pinned versions of every registry-known package, or the conflict that prevents it.

    `requirements` maps each requirement to who adds it ("mxnet 1.9.1 (cpu)"), or to None
    for the frameworks the profile itself asks for; both only shape the messages.
    """
    reqs = [Requirement(r) for r in requirements]
    known = [r for r in reqs if registry.knows(r.name)]
    provider = _Provider(registry, target, derived_releases(registry, known))
    origins = {str(Requirement(r)): who for r, who in requirements.items()}
    try:
        result = Resolver(provider, BaseReporter()).resolve(known, max_rounds=2000)
    except ResolutionImpossible as exc:
        return Conflict(tuple(dict.fromkeys(_describe(c, target, registry, origins) for c in exc.causes)))
    except ResolutionTooDeep:
        return Conflict(("the requirements did not resolve within 2000 rounds",))
    return {key: cand.version for key, cand in result.mapping.items() if "[" not in key}


def _describe(
    cause: RequirementInformation[Requirement, Candidate],
    target: Target,
    registry: Registry,
    origins: Mapping[str, str | None],
) -> str:
    """One conflict line: who requires what, and why nothing matches on this Python."""
    req, parent = cause.requirement, cause.parent
    if parent is not None:
        text = f"{parent.name} {parent.version} requires {_plain(req)}"
    elif origins.get(str(req)) is None:
        text = f"the profile asks for {_plain(req)}"
    else:
        text = f"{origins[str(req)]} requires {_plain(req)}"
    matching = [r for r in registry.releases(req.name) if not r.yanked and _matches(req, r.version)]
    reasons = [r.why_not(target.python, target.glibc) for r in matching]
    if matching and all(reasons):
        text += f", which {reasons[0]}"  # newest matching release first
    return text


def _matches(req: Requirement, version: Version) -> bool:
    """Specifier match that compares `==V+local` pins on the public version V."""
    specs = list(req.specifier)
    if any(s.operator == "==" and "+" in s.version for s in specs):
        return all(Version(s.version.partition("+")[0]) == version for s in specs if s.operator == "==")
    return req.specifier.contains(version, prereleases=True)


def _plain(req: Requirement) -> str:
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    return f"{req.name}{extras}{req.specifier}"
