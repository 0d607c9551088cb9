"""Profile + matrix + registry data -> BuildSpec. Every decision is made here, before any build.

resolve() turns the profile into a Request (checking names against the data), lets the Solver
find the best combination (builder/solver.py), and writes the decisions into a BuildSpec. When
nothing fits, the error names the reasons and re-solves with each user constraint dropped at a
time: whatever then works is offered as a nearest valid alternative.
"""

from __future__ import annotations

from dataclasses import replace

from packaging.version import Version

from builder import image_paths
from builder.errors import ResolveError
from builder.facts.matrix import DEFAULT_PLATFORM, MACHINE, CudaEntry, Matrix, RocmEntry, load_matrix
from builder.facts.registry import Registry, load_registry
from builder.profile.schema import FrameworkSpec, Profile
from builder.resolve.checks import check_names, check_platform, os_python_conflict
from builder.resolve.gpus import gpus_of, label_value, needs, older_line_lacks
from builder.resolve.installable import vendor_pins
from builder.resolve.request import Pin, Request, Wanted
from builder.resolve.search import Choice, Solver
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
_MAX_REASONS = 6


def resolve(
    profile: Profile,
    matrix: Matrix | None = None,
    registry: Registry | None = None,
    platform: str | None = None,
) -> BuildSpec:
    """Resolve a profile into a BuildSpec for one platform (default: the profile's first), or
    raise ResolveError naming the conflict."""
    matrix = matrix or load_matrix()
    platform = platform or profile.platform[0]
    registry = (registry or load_registry()).on(MACHINE[platform])
    request = make_request(profile, matrix, registry, platform)
    solver = Solver(matrix, registry, request)
    choice = solver.solve()
    if choice is None:
        raise _impossible(profile, matrix, registry, request, solver)
    return build_spec(profile, matrix, registry, request, solver, choice)


def make_request(
    profile: Profile, matrix: Matrix, registry: Registry, platform: str = DEFAULT_PLATFORM
) -> Request:
    """The profile's constraints, with Keras' backend added; unknown names are input errors."""
    specs = dict(profile.framework_specs())
    backend = None
    implicit: set[str] = set()
    if "keras" in specs:
        keras = matrix.frameworks["keras"]
        backend = specs["keras"].backend or keras.default_backend
        provider = keras.backends[backend or ""]
        if provider not in specs:
            specs[provider] = FrameworkSpec()
            implicit.add(provider)
    acc = profile.accelerator
    toolkit = profile.cuda if acc == "cuda" else profile.rocm if acc == "rocm" else None
    check_names(matrix, registry, profile, toolkit, specs)
    check_platform(matrix, profile, platform)
    return Request(
        accelerator=acc,
        toolkit=toolkit,
        os=profile.os,
        python=profile.python,
        frameworks=tuple(
            Wanted(name, Pin(spec.version) if spec.version else None, spec.companions, name in implicit)
            for name, spec in specs.items()
        ),
        keras_backend=backend,
        gpus=gpus_of(profile.gpus),
        platform=platform,
    )


def _describe(choice: Choice, request: Request) -> str:
    parts = [f"{b.framework} {b.version}" for b in choice.builds]
    if choice.toolkit is not None:
        parts.append(f"{request.accelerator} {choice.toolkit.version}")
    parts.append(f"{choice.os.name} (Python {choice.os.python_minor})")
    return ", ".join(parts)


def _alternatives(matrix: Matrix, registry: Registry, request: Request) -> list[str]:
    """Solve again with each user constraint dropped; what works is a nearest alternative."""
    out: list[str] = []
    for i, wanted in enumerate(request.frameworks):
        if wanted.pin is None:
            continue
        relaxed = replace(
            request,
            frameworks=(*request.frameworks[:i], replace(wanted, pin=None), *request.frameworks[i + 1 :]),
        )
        found = Solver(matrix, registry, relaxed).solve()
        if found is not None:
            got = found.build(wanted.name).version
            out.append(f'set {wanted.name} to "{got}" (keeps the rest): {_describe(found, relaxed)}')
    for key in ("toolkit", "os", "python"):
        if getattr(request, key) is None:
            continue
        if key == "toolkit":
            relaxed = replace(request, toolkit=None)
        elif key == "os":
            relaxed = replace(request, os=None, python=None)
        else:
            relaxed = replace(request, python=None)
        found = Solver(matrix, registry, relaxed).solve()
        if found is not None:
            field_name = request.accelerator if key == "toolkit" else key
            value = {
                "toolkit": found.toolkit.version if found.toolkit else "",
                "os": found.os.name,
                "python": found.os.python_minor,
            }[key]
            out.append(f'set {field_name} to "{value}": {_describe(found, relaxed)}')
    if request.platform != DEFAULT_PLATFORM:
        amd64 = replace(request, platform=DEFAULT_PLATFORM)
        found = Solver(matrix, registry.on(MACHINE[DEFAULT_PLATFORM]), amd64).solve()
        if found is not None:
            out.append(f'set platform to "{DEFAULT_PLATFORM}": {_describe(found, amd64)}')
        if request.accelerator != "cpu":
            on_cpu = replace(request, accelerator="cpu", toolkit=None, gpus=())
            found = Solver(matrix, registry, on_cpu).solve()
            if found is not None:
                out.append(f'set accelerator to "cpu" (on {request.platform}): {_describe(found, on_cpu)}')
    if len([w for w in request.frameworks if not w.implicit]) > 1:
        for wanted in request.frameworks:
            rest = tuple(w for w in request.frameworks if w.name != wanted.name)
            if rest and Solver(matrix, registry, replace(request, frameworks=rest)).solve():
                out.append(f"build {wanted.name} in a separate image; the others fit together")
    return list(dict.fromkeys(out))


def _impossible(
    profile: Profile, matrix: Matrix, registry: Registry, request: Request, solver: Solver
) -> ResolveError:
    reasons = solver.reasons.first(_MAX_REASONS)
    # What the named GPUs need, first: the data knows which releases and CUDA lines run on them.
    needed = [needs(name, gpu, request.platform) for (name, _), gpu in solver.misfits.items()]
    reasons[:0] = [n for n in dict.fromkeys(needed) if n]
    conflict = os_python_conflict(matrix, request)
    if conflict:
        reasons.insert(0, conflict)
    if not reasons:
        reasons = ["no base image of the requested toolkit and OS exists"]
    alternatives = _alternatives(matrix, registry, request)
    hint = (
        "Nearest valid alternatives:\n" + "\n".join(f"  - {a}" for a in alternatives)
        if alternatives
        else "No nearby alternative exists; see `dlenv matrix`."
    )
    return ResolveError(
        f"profile {profile.name!r} asks for an impossible combination: " + "; ".join(reasons) + ".", hint=hint
    )


def _frameworks(
    matrix: Matrix, request: Request, solver: Solver, choice: Choice
) -> tuple[list[ResolvedFramework], list[str]]:
    frameworks: list[ResolvedFramework] = []
    warnings: list[str] = []
    for wanted, build in zip(request.frameworks, choice.builds, strict=True):
        fw = matrix.frameworks[wanted.name]
        reqs = [*build.requirements, *(r for r in fw.extra_requirements if r not in build.requirements)]
        for companion in wanted.companions:
            req = solver.companion_requirement(build, companion)
            assert req is not None  # the solver refused combinations without one
            reqs.append(req)
        frameworks.append(
            ResolvedFramework(
                name=wanted.name,
                version=str(build.version),
                variant=build.variant,
                import_name=fw.import_name,
                requirements=tuple(reqs),
                index=build.index,
                find_links=build.find_links,
                implicit=wanted.implicit,
                confidence=build.confidence,
                source=matrix.sources.get(build.source, build.source),
                cuda_libraries=(f">={build.cuda}" if build.cuda_floor else str(build.cuda))
                if build.cuda
                else None,
                library_dirs=build.library_dirs,
            )
        )
        if fw.retired:
            warnings.append(f"{wanted.name}: {fw.retired}")
        if build.confidence == "U":
            warnings.append(
                f"{wanted.name} {build.version} ({build.variant}): that build is unverified ({build.source})."
            )
        if build.release.yanked:
            warnings.append(f"{wanted.name} {build.version} was yanked from PyPI.")
    cuda_builds = [
        b
        for b in choice.builds
        if b.cuda is not None
        and b.index
        and vendor_pins(matrix.frameworks[b.framework].package, b.version, b.variant, request.platform)
        is None
    ]
    if len([b for b in choice.builds if b.cuda is not None]) > 1 and cuda_builds:
        names = ", ".join(f"{b.framework} {b.version}+{b.variant}" for b in cuda_builds)
        warnings.append(
            f"{names}: its nvidia-* pins are published only on its vendor index; "
            "`dlenv validate --resolve` checks them where that index is reachable."
        )
    warnings += _cuda_line_warnings(matrix, request, choice)
    return frameworks, warnings


def _cuda_line_warnings(matrix: Matrix, request: Request, choice: Choice) -> list[str]:
    """A profile that asks for a CUDA line but gets a framework of an older one (through
    minor-version compatibility) is told so, with what the older line lacks."""
    toolkit = choice.toolkit
    if request.toolkit is None or not isinstance(toolkit, CudaEntry):
        return []
    out = []
    for build in choice.builds:
        if build.cuda is None or build.cuda >= Version(toolkit.version):
            continue
        lacks = older_line_lacks(build, toolkit, matrix, request.platform)
        kernels = f"it has no kernels for {lacks}, which CUDA {toolkit.version} targets"
        if build.cuda_floor:  # pip installs the newest libraries of the major: only kernels can lack
            if lacks:
                out.append(f"{build.framework} {build.version} ({build.variant}): {kernels}.")
            continue
        out.append(
            f"{build.framework} {build.version} ({build.variant}) runs its CUDA {build.cuda} libraries "
            f"on the CUDA {toolkit.version} you asked for, through minor-version compatibility"
            + (f"; {kernels}" if lacks else "")
            + "."
        )
    return out


def build_spec(
    profile: Profile, matrix: Matrix, registry: Registry, request: Request, solver: Solver, choice: Choice
) -> BuildSpec:
    """Write the solver's choice, and everything that follows from it, into a BuildSpec."""
    acc = profile.accelerator
    tk = choice.toolkit
    frameworks, warnings = _frameworks(matrix, request, solver, choice)
    flavours = {b.base_flavour for b in choice.builds if b.base_flavour}
    flavour = flavours.pop() if flavours else "base"
    if profile.nvcc:  # nvcc lives in the devel flavours
        flavour = flavour.replace("runtime", "devel") if "runtime" in flavour else "devel"
    wheels_only = acc == "cuda" and choice.os.cuda_from_wheels
    if profile.base_image:
        base = profile.base_image
    elif isinstance(tk, RocmEntry):
        base = tk.image(choice.os.name)
    elif tk is not None and not wheels_only:
        base = tk.image(choice.os.name, flavour)
    else:
        base = choice.os.image_for(request.platform) or choice.os.image
    runtime = matrix.runtime[acc]
    framework_apt = {pkg for b in choice.builds for pkg in matrix.frameworks[b.framework].apt}
    system_apt = tuple(sorted({*_SYSTEM_APT, choice.os.venv_package, *framework_apt}))
    env: dict[str, str] = {}
    if request.keras_backend:
        env["KERAS_BACKEND"] = request.keras_backend
    if acc == "cuda":
        # pip wheels bundle CUDA; a non-NVIDIA base (base_image override) still needs these.
        env["NVIDIA_VISIBLE_DEVICES"] = "all"
        env["NVIDIA_DRIVER_CAPABILITIES"] = "compute,utility"
        if wheels_only and tk is not None:
            # What nvidia/cuda images say (without their cuda-compat `brand=` clauses: no
            # forward-compatibility package here): the toolkit refuses an older driver at start.
            env["NVIDIA_REQUIRE_CUDA"] = f"cuda>={tk.version}"
    site_packages = f"{image_paths.VENV}/lib/python{choice.os.python_minor}/site-packages"
    # An upstream wheel's missing search path, from the matrix (library_fixes).
    library_path = tuple(dict.fromkeys(f"{site_packages}/{d}" for b in choice.builds for d in b.library_dirs))
    env.update(profile.env)
    return BuildSpec(
        profile=profile.name,
        accelerator=acc,
        toolkit=tk.version if tk else None,
        toolkit_tag=tk.tag if tk and not wheels_only else None,
        min_driver=tk.driver if tk is not None and not isinstance(tk, RocmEntry) else None,
        gfx_targets=tk.gfx if isinstance(tk, RocmEntry) else (),
        os=choice.os.name,
        python=choice.os.python_minor,
        python_full=choice.os.python,
        glibc=choice.os.glibc,
        base_image=base,
        base_image_overridden=profile.base_image is not None,
        frameworks=tuple(frameworks),
        keras_backend=request.keras_backend,
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
        library_path=library_path,
        gpus=tuple(g.label for g in request.gpus),
        gpu_architectures=label_value(choice.builds, request.platform),
        user=UserSpec(name=profile.user.name, uid=profile.user.uid, gid=profile.user.gid),
        runtime=RuntimeOptions.of(runtime),
        smoke=SmokeSpec(
            device=acc,
            frameworks=tuple(f.name for f in frameworks if not f.implicit or f.name == "keras"),
            models=profile.smoke.models,
            steps=profile.smoke.steps,
            timeout=profile.smoke.timeout,
            min_tflops=profile.smoke.min_tflops,
            min_copy_gbps=profile.smoke.min_copy_gbps,
            min_peak_fraction=profile.smoke.min_peak_fraction,
        ),
        warnings=tuple(warnings),
        matrix_updated=matrix.updated,
        registry_as_of=registry.as_of or "",
        platform=request.platform,
    )
