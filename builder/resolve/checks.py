"""The profile's names, versions and platform, checked before the search: what is simply not
in the matrix is an input error with the known values, not an impossible combination."""

from __future__ import annotations

from collections.abc import Mapping

from packaging.version import Version

from builder.errors import ResolveError
from builder.facts.matrix import Matrix
from builder.facts.registry import Registry
from builder.profile.schema import FrameworkSpec, Profile
from builder.resolve.request import Pin, Request


def check_platform(matrix: Matrix, profile: Profile, platform: str) -> None:
    """A platform that has no base image of the accelerator at all, refused with what to do."""
    acc = profile.accelerator
    if acc == "rocm" and not any(platform in t.platforms for t in matrix.rocm):
        raise ResolveError(
            f"platform {platform}: ROCm has no images or wheels for it (rocm/dev images and "
            "ROCm wheels are published for linux/amd64 only; AMD GPUs are x86-64 host cards). "
            "Alternatives: platform linux/amd64, or accelerator cpu on "
            f"{platform} (or accelerator cuda there, for NVIDIA GPUs)."
        )
    entry = matrix.os_entry(profile.os) if profile.os else None
    wheels_only = entry is not None and entry.cuda_from_wheels and not profile.base_image
    if (
        acc == "cuda"
        and profile.cuda
        and not wheels_only
        and not any(platform in t.platforms for t in matrix.cuda if t.version == profile.cuda)
    ):
        with_arm = [t.version for t in matrix.cuda if platform in t.platforms]
        raise ResolveError(
            f"platform {platform}: nvidia/cuda {profile.cuda} has no image for it; CUDA lines with "
            f"{platform} images: {', '.join(with_arm) or 'none'}."
        )
    if profile.os:
        if entry is not None and entry.image_for(platform) is None:
            raise ResolveError(f"platform {platform}: os {profile.os} has no base image for it.")


def check_names(
    matrix: Matrix,
    registry: Registry,
    profile: Profile,
    toolkit: str | None,
    specs: Mapping[str, FrameworkSpec],
) -> None:
    acc = profile.accelerator
    if toolkit is not None and matrix.toolkit(acc, toolkit) is None:
        known = ", ".join(t.version for t in matrix.toolkit_entries(acc))
        raise ResolveError(f"{acc}: {toolkit} is not in the matrix; known: {known}")
    if profile.os is not None and matrix.os_entry(profile.os) is None:
        known = ", ".join(o.name for o in matrix.os)
        raise ResolveError(f"os: {profile.os!r} is not in the matrix; known: {known}")
    os_entry = matrix.os_entry(profile.os) if profile.os else None
    if profile.nvcc and os_entry is not None and os_entry.cuda_from_wheels and not profile.base_image:
        cuda_oses = sorted({name for entry in matrix.cuda for name in entry.os})
        raise ResolveError(
            f"nvcc: {profile.os} has no nvidia/cuda devel image (its CUDA images take CUDA from "
            "the framework wheels, which carry no compiler); for nvcc use os " + " or ".join(cuda_oses)
        )
    if profile.python is not None and profile.python not in {o.python_minor for o in matrix.os}:
        known = ", ".join(f"{o.python_minor} ({o.name})" for o in matrix.os)
        raise ResolveError(
            f"python: {profile.python} is not the Python of any supported OS; dlenv "
            f"uses the OS's Python: {known}"
        )
    for name, spec in specs.items():
        fw = matrix.frameworks[name]
        if acc not in fw.accelerators:
            why = fw.retired or f"{name} has no {acc} build."
            raise ResolveError(
                f"frameworks.{name}: {why} Use accelerator {' or '.join(fw.accelerators)} for {name}."
            )
        if spec.version is None:
            continue
        releases = [r for r in registry.releases(fw.package) if r.version >= Version(fw.since)]
        if not any(Pin(spec.version).matches(r.version) for r in releases):
            newest = ", ".join(str(r.version) for r in releases[:8])
            raise ResolveError(
                f"frameworks.{name}: version {spec.version} is not in the matrix: {fw.package} has no "
                f"such release on PyPI since {fw.since} (newest: {newest}; `dlenv matrix` lists all)"
            )


def os_python_conflict(matrix: Matrix, request: Request) -> str | None:
    if request.os and request.python:
        entry = matrix.os_entry(request.os)
        if entry and entry.python_minor != request.python:
            return f"{request.os} provides Python {entry.python_minor}, not {request.python}"
    if request.toolkit and request.os:
        tk = matrix.toolkit(request.accelerator, request.toolkit)
        if tk and request.os not in tk.os:
            return f"{request.accelerator} {request.toolkit} has base images for {', '.join(tk.os)} only"
    return None
