"""The solver: Profile + Matrix -> BuildSpec. Every decision is made here, before any build.

The search is small (toolkit x OS x a few releases per framework), so it is exhaustive and
explainable: when nothing fits, the same search is re-run with one user constraint dropped
at a time, and whatever then works becomes a named alternative.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace

from packaging.version import Version

from builder.errors import ResolveError
from builder.matrix import Accelerator, CudaEntry, Framework, Matrix, Release, RocmEntry, load_matrix
from builder.profile import FrameworkSpec, Profile
from builder.spec import (
    BuildSpec,
    PipSources,
    ResolvedFramework,
    RuntimeOptions,
    SmokeSpec,
    UserSpec,
)

# Packages every image needs from the OS, whatever the profile says.
_SYSTEM_APT = ("ca-certificates", "python3", "python3-venv")
_MAX_COMBINATIONS = 50_000


@dataclass(frozen=True)
class Constraints:
    """What the user pinned; None/empty means 'any'."""

    accelerator: Accelerator
    toolkit: str | None
    os: str | None
    python: str | None
    versions: Mapping[str, str | None]
    keras_backend: str | None = None


@dataclass(frozen=True)
class Solution:
    toolkit: CudaEntry | RocmEntry | None
    os: str
    python: str
    releases: tuple[tuple[str, Release], ...]
    os_rank: int

    def score(self) -> tuple[tuple[Version, ...], Version, int]:
        versions = tuple(r.parsed for _, r in self.releases)
        toolkit = Version(self.toolkit.version) if self.toolkit else Version("0")
        return versions, toolkit, -self.os_rank


@dataclass
class _Why:
    """Reasons collected while searching, for the error message."""

    reasons: dict[str, set[str]] = field(default_factory=dict)

    def add(self, framework: str, reason: str) -> None:
        self.reasons.setdefault(framework, set()).add(reason)


def _matches(release: Release, pin: str | None) -> bool:
    if pin is None:
        return True
    return release.version == pin or release.version.startswith(pin + ".")


def _candidates(
    fw_name: str,
    fw: Framework,
    c: Constraints,
    toolkit: str | None,
    python: str,
    os_name: str,
    why: _Why,
) -> list[Release]:
    pin = c.versions.get(fw_name)
    out: list[Release] = []
    for release in fw.newest_first():
        if not _matches(release, pin):
            continue
        # Unverified rows are used only when asked for by version.
        if release.confidence == "U" and pin is None:
            continue
        if not release.supports_python(python):
            why.add(fw_name, f"{fw_name} {release.version} needs Python {release.python}, "
                             f"but {os_name} provides {python}")
            continue
        if release.variant_name(c.accelerator, toolkit) is None:
            kits = release.toolkits(c.accelerator) if c.accelerator != "cpu" else ()
            if c.accelerator == "cpu":
                why.add(fw_name, f"{fw_name} {release.version} has no CPU build")
            elif not kits:
                why.add(fw_name, f"{fw_name} {release.version} has no {c.accelerator.upper()} build")
            else:
                listed = ", ".join(kits)
                why.add(fw_name, f"{fw_name} {release.version} has {c.accelerator.upper()} builds "
                                 f"for {c.accelerator} {listed} only, not {toolkit}")
            continue
        out.append(release)
    return out


def _agree(matrix: Matrix, c: Constraints, toolkit: str | None,
           combo: tuple[tuple[str, Release], ...]) -> bool:
    """Frameworks share an image only when their CUDA wheels agree (cuDNN family, base flavour)."""
    cudnn: set[str] = set()
    flavours: set[str] = set()
    by_name = dict(combo)
    for name, release in combo:
        variant = matrix.frameworks[name].variants[release.variant_name(c.accelerator, toolkit) or ""]
        if variant.cudnn and c.accelerator == "cuda":
            cudnn.add(variant.cudnn)
        if variant.base_flavour and c.accelerator == "cuda":
            flavours.add(variant.base_flavour)
        for backend, minimum in release.min_backend.items():
            if backend == c.keras_backend and backend in by_name:
                if by_name[backend].parsed < Version(minimum):
                    return False
    return len(cudnn) <= 1 and len(flavours) <= 1


def _solutions(matrix: Matrix, c: Constraints, why: _Why) -> Iterator[Solution]:
    entries = matrix.toolkit_entries(c.accelerator)
    toolkits: list[CudaEntry | RocmEntry | None]
    if c.accelerator == "cpu":
        toolkits = [None]
    else:
        pinned = [t for t in entries if c.toolkit in (None, t.version)]
        pinned.sort(key=lambda t: Version(t.version), reverse=True)
        toolkits = [*pinned]
    os_names = [c.os] if c.os else list(matrix.default_os[c.accelerator])
    for tk in toolkits:
        for rank, os_name in enumerate(os_names):
            os_entry = matrix.os_entry(os_name)
            if os_entry is None or (tk is not None and os_name not in tk.os):
                continue
            python = c.python or os_entry.python
            if python != os_entry.python:
                continue
            tk_version = tk.version if tk else None
            lists = [
                [(name, r) for r in _candidates(name, matrix.frameworks[name], c, tk_version,
                                                python, os_name, why)]
                for name in c.versions
            ]
            if any(not options for options in lists):
                continue
            for combo in itertools.islice(itertools.product(*lists), _MAX_COMBINATIONS):
                if _agree(matrix, c, tk_version, combo):
                    yield Solution(tk, os_name, python, combo, rank)
                    break


def _best(matrix: Matrix, c: Constraints, why: _Why | None = None) -> Solution | None:
    found = list(_solutions(matrix, c, why or _Why()))
    return max(found, key=Solution.score) if found else None


def _describe(solution: Solution, c: Constraints) -> str:
    parts = [f"{name} {release.version}" for name, release in solution.releases]
    if solution.toolkit is not None:
        parts.append(f"{c.accelerator} {solution.toolkit.version}")
    parts.append(f"{solution.os} (Python {solution.python})")
    return ", ".join(parts)


def _alternatives(matrix: Matrix, c: Constraints) -> list[str]:
    """Solve again with each user constraint dropped; what works is a nearest alternative."""
    out: list[str] = []
    for name, pin in c.versions.items():
        if pin is None:
            continue
        relaxed = replace(c, versions={**c.versions, name: None})
        sol = _best(matrix, relaxed)
        if sol is not None:
            got = dict(sol.releases)[name].version
            out.append(f"set {name} to \"{got}\" (keeps the rest): {_describe(sol, relaxed)}")
    for key in ("toolkit", "os", "python"):
        if getattr(c, key) is None:
            continue
        if key == "toolkit":
            relaxed = replace(c, toolkit=None)
        elif key == "os":
            relaxed = replace(c, os=None, python=None)
        else:
            relaxed = replace(c, python=None)
        sol = _best(matrix, relaxed)
        if sol is not None:
            field_name = c.accelerator if key == "toolkit" else key
            toolkit = sol.toolkit.version if sol.toolkit else ""
            value = {"toolkit": toolkit, "os": sol.os, "python": sol.python}[key]
            out.append(f"set {field_name} to \"{value}\": {_describe(sol, relaxed)}")
    if len(c.versions) > 1:
        for name in c.versions:
            alone = replace(c, versions={k: v for k, v in c.versions.items() if k != name})
            if alone.versions and _best(matrix, alone) is not None:
                out.append(f"build {name} in a separate image; the others fit together")
    return list(dict.fromkeys(out))


def _check_names(matrix: Matrix, profile: Profile, specs: Mapping[str, FrameworkSpec]) -> None:
    """Unknown toolkits, OSes and versions are input errors with the valid choices listed."""
    acc = profile.accelerator
    pinned_toolkit = profile.cuda if acc == "cuda" else profile.rocm if acc == "rocm" else None
    if pinned_toolkit is not None and matrix.toolkit(acc, pinned_toolkit) is None:
        known = ", ".join(t.version for t in matrix.toolkit_entries(acc))
        raise ResolveError(f"{acc}: {pinned_toolkit} is not in the matrix; known: {known}")
    if profile.os is not None and matrix.os_entry(profile.os) is None:
        known = ", ".join(o.name for o in matrix.os)
        raise ResolveError(f"os: {profile.os!r} is not in the matrix; known: {known}")
    if profile.python is not None and profile.python not in {o.python for o in matrix.os}:
        known = ", ".join(f"{o.python} ({o.name})" for o in matrix.os)
        raise ResolveError(
            f"python: {profile.python} is not the Python of any supported OS; dlenv uses the OS's "
            f"Python: {known}"
        )
    for name, spec in specs.items():
        fw = matrix.frameworks[name]
        if spec.version and not any(_matches(r, spec.version) for r in fw.releases):
            known = ", ".join(r.version for r in fw.newest_first())
            raise ResolveError(f"frameworks.{name}: version {spec.version} is not in the matrix; "
                               f"known: {known}")
    keras = specs.get("keras")
    if keras and keras.backend and keras.backend not in matrix.frameworks["keras"].backends:
        raise ResolveError(f"frameworks.keras.backend: {keras.backend} is not a Keras 3 backend")
    for name in specs:
        fw = matrix.frameworks[name]
        if acc not in fw.accelerators:
            why = fw.retired or f"{name} has no {acc} build."
            raise ResolveError(f"frameworks.{name}: {why} Use accelerator "
                               f"{' or '.join(fw.accelerators)} for {name}.")


def _os_python_conflict(matrix: Matrix, c: Constraints) -> str | None:
    if c.os and c.python:
        os_entry = matrix.os_entry(c.os)
        if os_entry and os_entry.python != c.python:
            return f"{c.os} provides Python {os_entry.python}, not {c.python}"
    if c.toolkit and c.os:
        tk = matrix.toolkit(c.accelerator, c.toolkit)
        if tk and c.os not in tk.os:
            return f"{c.accelerator} {c.toolkit} has base images for {', '.join(tk.os)} only"
    return None


def resolve(profile: Profile, matrix: Matrix | None = None) -> BuildSpec:
    """Resolve a profile into a BuildSpec, or raise ResolveError naming the conflict."""
    matrix = matrix or load_matrix()
    specs = dict(profile.framework_specs())
    implicit: set[str] = set()
    backend = None
    if "keras" in specs:
        backend = specs["keras"].backend or matrix.frameworks["keras"].default_backend
        if backend and backend not in specs:
            specs[backend] = FrameworkSpec()
            implicit.add(backend)
    _check_names(matrix, profile, specs)

    acc = profile.accelerator
    c = Constraints(
        accelerator=acc,
        toolkit=profile.cuda if acc == "cuda" else profile.rocm if acc == "rocm" else None,
        os=profile.os,
        python=profile.python,
        versions={name: spec.version for name, spec in specs.items()},
        keras_backend=backend,
    )
    why = _Why()
    solution = _best(matrix, c, why)
    if solution is None:
        reasons = [r for rs in why.reasons.values() for r in sorted(rs)]
        conflict = _os_python_conflict(matrix, c)
        if conflict:
            reasons.insert(0, conflict)
        if not reasons:
            reasons = ["the frameworks' CUDA wheels disagree (cuDNN family or base image flavour)"]
        alternatives = _alternatives(matrix, c)
        hint = ("Nearest valid alternatives:\n" + "\n".join(f"  - {a}" for a in alternatives)
                if alternatives else "No nearby alternative exists; see `dlenv matrix`.")
        raise ResolveError(
            f"profile {profile.name!r} asks for an impossible combination: "
            + "; ".join(reasons[:6]) + ".",
            hint=hint,
        )
    return _build_spec(matrix, profile, specs, implicit, backend, solution)


def _build_spec(
    matrix: Matrix,
    profile: Profile,
    specs: Mapping[str, FrameworkSpec],
    implicit: set[str],
    backend: str | None,
    sol: Solution,
) -> BuildSpec:
    acc = profile.accelerator
    tk = sol.toolkit
    tk_version = tk.version if tk else None
    frameworks: list[ResolvedFramework] = []
    flavour = "devel" if profile.nvcc else "base"
    warnings: list[str] = []
    for name, release in sol.releases:
        fw = matrix.frameworks[name]
        variant_name = release.variant_name(acc, tk_version) or ""
        variant = fw.variants[variant_name]
        if variant.base_flavour and acc == "cuda":
            flavour = variant.base_flavour.replace("runtime", "devel") if profile.nvcc \
                else variant.base_flavour
        reqs = [r.replace("{v}", release.version) for r in variant.requirements]
        reqs += [r for r in fw.extra_requirements if r not in reqs]
        for companion in specs[name].companions:
            pinned = release.companions.get(companion)
            if pinned is None:
                raise ResolveError(f"frameworks.pytorch.companions: {name} {release.version} has "
                                   f"no matching {companion} release in the matrix")
            local = reqs[0].partition("+")[2]
            reqs.append(f"{companion}=={pinned}" + (f"+{local}" if local else ""))
        frameworks.append(ResolvedFramework(
            name=name, version=release.version, variant=variant_name,
            import_name=fw.import_name, requirements=tuple(reqs), index=variant.index,
            find_links=variant.find_links, implicit=name in implicit,
            confidence=release.confidence, source=matrix.sources.get(release.source, release.source),
        ))
        if fw.retired:
            warnings.append(f"{name}: {fw.retired}")
        if release.confidence == "U":
            warnings.append(f"{name} {release.version}: its matrix row is unverified ({release.source}).")
    os_entry = matrix.os_entry(sol.os)
    assert os_entry is not None  # the search only yields known OSes
    if profile.base_image:
        base = profile.base_image
    elif isinstance(tk, CudaEntry):
        base = tk.image(sol.os, flavour)
    elif isinstance(tk, RocmEntry):
        base = tk.image(sol.os)
    else:
        base = os_entry.image
    runtime = matrix.runtime[acc]
    framework_apt = {pkg for name, _ in sol.releases for pkg in matrix.frameworks[name].apt}
    system_apt = tuple(sorted({*_SYSTEM_APT, os_entry.venv_package, *framework_apt}))
    env: dict[str, str] = {}
    if backend:
        env["KERAS_BACKEND"] = backend if backend != "pytorch" else "torch"
    if acc == "cuda":
        # pip wheels bundle CUDA; a non-NVIDIA base (base_image override) still needs these.
        env["NVIDIA_VISIBLE_DEVICES"] = "all"
        env["NVIDIA_DRIVER_CAPABILITIES"] = "compute,utility"
    env.update(profile.env)
    return BuildSpec(
        profile=profile.name,
        accelerator=acc,
        toolkit=tk_version,
        toolkit_tag=tk.tag if tk else None,
        min_driver=tk.driver if isinstance(tk, CudaEntry) else None,
        gfx_targets=tk.gfx if isinstance(tk, RocmEntry) else (),
        os=sol.os,
        python=sol.python,
        base_image=base,
        base_image_overridden=profile.base_image is not None,
        frameworks=tuple(frameworks),
        keras_backend=backend,
        system_apt=system_apt,
        apt=tuple(sorted(set(profile.apt) - set(system_apt))),
        packages=tuple(sorted(dict.fromkeys(profile.packages))),
        pip=PipSources(
            index_url=profile.pip.index_url,
            extra_index_urls=profile.pip.extra_index_urls,
            find_links=profile.pip.find_links,
            vendor_indexes=profile.pip.vendor_indexes,
        ),
        env=tuple(sorted(env.items())),
        user=UserSpec(name=profile.user.name, uid=profile.user.uid, gid=profile.user.gid),
        runtime=RuntimeOptions(gpus=runtime.gpus, devices=runtime.devices,
                               group_add=runtime.group_add, security_opt=runtime.security_opt,
                               shm_size=runtime.shm_size),
        smoke=SmokeSpec(device=acc, frameworks=tuple(f.name for f in frameworks if
                                                     not f.implicit or f.name == "keras"),
                        models=profile.smoke.models, steps=profile.smoke.steps,
                        timeout=profile.smoke.timeout),
        warnings=tuple(warnings),
        matrix_updated=matrix.updated,
    )
