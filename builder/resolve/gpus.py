"""GPU architectures in resolution: a profile's `gpus`, which builds run on them, and what a
build lacks next to the CUDA line a profile asked for (facts in facts/gpus.py)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from builder.errors import ResolveError
from builder.facts.gpus import Architectures, Gpu, GpuFacts, load_gpu_facts, sm
from builder.facts.matrix import CudaEntry, Matrix
from builder.resolve.builds import Build

# Frameworks without kernels of their own (Keras runs its backend's).
_NO_KERNELS = frozenset({"keras"})


def gpus_of(names: Iterable[str], facts: GpuFacts | None = None) -> tuple[Gpu, ...]:
    """The profile's `gpus`, or a ResolveError naming the unknown one and the closest ids."""
    facts = facts or load_gpu_facts()
    out = []
    for name in names:
        gpu = facts.gpu(name)
        if gpu is None:
            close = difflib.get_close_matches(name.lower(), facts.ids, n=4, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ResolveError(
                f"gpus: {name!r} is not a GPU dlenv knows (ids such as rtx-5090, h100, a100, gb10, "
                f'or a compute capability such as "9.0"){hint} `dlenv matrix --gpu ID` lists what runs '
                "on one."
            )
        out.append(gpu)
    return tuple(out)


def architectures(build: Build, platform: str, facts: GpuFacts | None = None) -> Architectures | None:
    """The architectures a build's wheels carry, when they are on record."""
    if build.cuda is None or build.framework in _NO_KERNELS:
        return None
    facts = facts or load_gpu_facts()
    public = Version(build.version.public)
    return facts.architectures_of(build.framework, public, build.cuda, platform)


def misfit(build: Build, gpus: tuple[Gpu, ...], platform: str) -> tuple[str, tuple[Gpu, ...]] | None:
    """Why a build cannot run on some of the GPUs, and which (None: it runs on all, or carries
    no kernels of its own)."""
    if not gpus or build.cuda is None or build.framework in _NO_KERNELS:
        return None
    archs = architectures(build, platform)
    if archs is None:
        return None  # not on record: the build is not refused for want of data (a warning says so)
    missing = [g for g in gpus if archs.runs(g) is None]
    if not missing:
        return None
    names = ", ".join(g.label for g in missing)
    why = (
        f"{build.framework} {build.version} ({build.variant}, CUDA {build.cuda}) has no kernels for "
        f"{names}: its wheels carry {archs.describe() or 'no architecture'}"
    )
    return why, tuple(missing)


def needs(framework: str, gpu: Gpu, platform: str, facts: GpuFacts | None = None) -> str | None:
    """'RTX 5090 (sm_120) needs pytorch >= 2.7 with CUDA >= 12.8 builds', from the data."""
    facts = facts or load_gpu_facts()
    fitting = [
        a for a in facts.architectures if a.framework == framework and a.platform == platform and a.runs(gpu)
    ]
    if not fitting:
        return f"no {framework} build on record runs on {gpu.label}"
    first = min(_floor(a.releases) for a in fitting)
    cudas = [Version(a.cuda) for a in fitting if a.cuda and "." in a.cuda]
    with_cuda = f" with CUDA >= {min(cudas)} builds" if cudas else ""
    return f"{gpu.label} needs {framework} >= {first}{with_cuda}"


def _floor(releases: str) -> Version:
    """The lowest release a specifier admits (its >= or == bound)."""
    bounds = [Version(s.version) for s in SpecifierSet(releases) if s.operator in (">=", "==", "~=")]
    return min(bounds) if bounds else Version("0")


def older_line_lacks(
    build: Build, toolkit: CudaEntry, matrix: Matrix, platform: str, facts: GpuFacts | None = None
) -> str:
    """The GPU generations a CUDA base targets that a build of an older CUDA line has no kernels
    for ('Blackwell (sm_100, sm_120)'); empty when it lacks none, or its architectures are unknown."""
    facts = facts or load_gpu_facts()
    archs = architectures(build, platform, facts)
    if archs is None:
        return ""
    lacking: dict[str, set[str]] = {}
    for gpu in facts.gpus:
        if matrix.cuda_targets(toolkit, gpu.cc) and gpu.segment != "embedded" and archs.runs(gpu) is None:
            lacking.setdefault(gpu.arch, set()).add(sm(gpu.cc))
    return "; ".join(f"{arch} ({', '.join(sorted(ccs))})" for arch, ccs in lacking.items())


def label_value(builds: Iterable[Build], platform: str) -> dict[str, dict[str, list[str]]]:
    """The image label io.dlenv.gpu-archs: per framework, the SASS and PTX its wheels carry."""
    out: dict[str, dict[str, list[str]]] = {}
    for build in builds:
        archs = architectures(build, platform)
        if archs is not None:
            out[build.framework] = {"sass": list(archs.sass), "ptx": list(archs.ptx)}
    return out
