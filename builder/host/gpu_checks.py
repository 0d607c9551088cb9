"""Doctor's GPU verdicts: the NVIDIA driver and compute capability against the profile's CUDA,
the AMD device nodes, groups and gfx targets against its ROCm release."""

from __future__ import annotations

from packaging.version import Version

from builder.facts.matrix import CudaEntry, Matrix
from builder.host.facts import Check, HostFacts, parse_version
from builder.host.kernels import host_gpu, verdicts
from builder.host.probe import NvidiaGpu, NvidiaReport
from builder.spec import BuildSpec


def newest_cuda_for_driver(matrix: Matrix, driver: Version) -> CudaEntry | None:
    fitting = [c for c in matrix.cuda if Version(c.driver) <= driver]
    return max(fitting, key=lambda c: Version(c.version)) if fitting else None


def _newest_cuda_for_gpu(matrix: Matrix, cap: Version) -> CudaEntry | None:
    fitting = [c for c in matrix.cuda if Version(c.min_cc) <= cap]
    return max(fitting, key=lambda c: Version(c.version)) if fitting else None


def nvidia_checks(facts: HostFacts, spec: BuildSpec, matrix: Matrix) -> list[Check]:
    report = facts.nvidia
    need = spec.min_driver or "?"
    if report is None:
        return [
            Check(
                "nvidia-driver",
                "fail",
                "no NVIDIA driver: nvidia-smi is not installed",
                f"install the NVIDIA driver >= {need} and the NVIDIA container toolkit",
            )
        ]
    if report.error:
        return [
            Check(
                "nvidia-driver",
                "fail",
                f"nvidia-smi: {report.error}",
                f"install or reload the NVIDIA driver (>= {need}); after a driver update, reboot",
            )
        ]
    return [
        _driver_check(report.driver, spec, matrix),
        *_gpu_checks(report, spec, matrix),
        *_runtime_check(facts),
    ]


def _driver_check(driver: str | None, spec: BuildSpec, matrix: Matrix) -> Check:
    """The host driver against the toolkit's minimum, with minor-version compatibility."""
    need = spec.min_driver or "?"
    host = parse_version(driver)
    if host is None:
        return Check("nvidia-driver", "warn", "driver version unknown")
    if not spec.min_driver or host >= Version(spec.min_driver):
        return Check("nvidia-driver", "ok", f"driver {driver} >= {need} (CUDA {spec.toolkit})")
    family = matrix.cuda_family_driver.get((spec.toolkit or "").split(".")[0], spec.min_driver)
    alt = newest_cuda_for_driver(matrix, host)
    hint = f"upgrade the driver to >= {spec.min_driver}"
    if alt is not None:
        hint += f', or set cuda: "{alt.version}" in the profile (needs >= {alt.driver})'
    if host >= Version(family):
        return Check(
            "nvidia-driver",
            "warn",
            f"driver {driver} is older than {need} (CUDA {spec.toolkit}) but runs it through "
            f"minor-version compatibility (>= {family}); newer PTX features may fail",
            hint,
        )
    return Check(
        "nvidia-driver",
        "fail",
        f"driver {driver} is older than {family}, the minimum for any CUDA {spec.toolkit} application",
        hint,
    )


def _gpu_checks(report: NvidiaReport, spec: BuildSpec, matrix: Matrix) -> list[Check]:
    """Each GPU's compute capability against what the toolkit still targets, and its memory."""
    checks: list[Check] = []
    entry = matrix.toolkit("cuda", spec.toolkit or "")
    floor = Version(entry.min_cc) if isinstance(entry, CudaEntry) else None
    for i, gpu in enumerate(report.gpus):
        cap = parse_version(gpu.compute_cap)
        memory = f", {gpu.memory_mib / 1024:.0f} GiB" if gpu.memory_mib else ""
        if floor is not None and cap is not None and cap < floor:
            older = _newest_cuda_for_gpu(matrix, cap)
            fix = (
                f'set cuda: "{older.version}" in the profile (it still targets sm {cap})'
                if older
                else "no CUDA release in the matrix targets this GPU any more"
            )
            checks.append(
                Check(
                    f"gpu{i}",
                    "fail",
                    f"{gpu.name} (sm {cap}{memory}) is older than "
                    f"the CUDA {spec.toolkit} wheels support (sm >= {floor})",
                    fix,
                )
            )
        else:
            checks.append(Check(f"gpu{i}", "ok", f"{gpu.name} (sm {cap or '?'}{memory})"))
            checks += _kernel_checks(i, gpu, spec)
        if gpu.memory_mib is not None and gpu.memory_mib < 8 * 1024:
            checks.append(
                Check(
                    f"gpu{i}-memory",
                    "advice",
                    f"{gpu.memory_mib} MiB of GPU memory: "
                    "the seed guide recommends 8+ GiB (24+ for large models)",
                )
            )
    return checks


def _kernel_checks(i: int, reported: NvidiaGpu, spec: BuildSpec) -> list[Check]:
    """The newest GPUs too: whether the image's frameworks carry kernels for this one."""
    gpu = host_gpu(reported)
    if gpu is None or not spec.gpu_architectures:
        return []
    ref = gpu.id if gpu.id != gpu.cc else f'"{gpu.cc}"'
    fix = (
        f"name the GPU in the profile (gpus: [{ref}]) so that dlenv picks builds with its kernels "
        f"(`dlenv matrix --gpu {ref}` lists them)"
    )
    return [
        Check(f"gpu{i}-kernels", "fail" if v.runs is None else "warn", v.sentence(reported.name), fix)
        for v in verdicts(spec.gpu_architectures, gpu)
    ]


def _runtime_check(facts: HostFacts) -> list[Check]:
    if "nvidia" in facts.docker.runtimes:
        return [Check("nvidia-runtime", "ok", "nvidia runtime registered with Docker")]
    if not facts.docker.reachable:
        return []
    return [
        Check(
            "nvidia-runtime",
            "warn",
            "no nvidia runtime registered with Docker (GPU containers need the NVIDIA container toolkit)",
            "install nvidia-container-toolkit, run `nvidia-ctk runtime configure "
            "--runtime=docker` and restart Docker; `dlenv doctor --probe` checks",
        )
    ]


def amd_checks(facts: HostFacts, spec: BuildSpec, matrix: Matrix) -> list[Check]:
    return _amd_device_checks(facts) + _amd_gpu_checks(facts, spec, matrix)


def _amd_device_checks(facts: HostFacts) -> list[Check]:
    """/dev/kfd, the render nodes and the groups that open them."""
    checks: list[Check] = []
    if not facts.kfd:
        checks.append(
            Check(
                "amd-kfd",
                "fail",
                "/dev/kfd is missing: the amdgpu kernel driver is not loaded",
                "install amdgpu-dkms (AMD's installer) and reboot",
            )
        )
    else:
        checks.append(Check("amd-kfd", "ok", "/dev/kfd present"))
    if not facts.render_nodes:
        checks.append(
            Check(
                "amd-render",
                "fail",
                "no /dev/dri/renderD* node",
                "load the amdgpu driver; check that the GPU is not passed to a VM",
            )
        )
    else:
        checks.append(Check("amd-render", "ok", ", ".join(facts.render_nodes)))
    missing = {"video", "render"} - facts.groups
    if missing and not facts.is_root:
        checks.append(
            Check(
                "amd-groups",
                "fail",
                f"you are not in the {', '.join(sorted(missing))} group(s)",
                "sudo usermod -a -G render,video $USER, then log in again",
            )
        )
    return checks


def _amd_gpu_checks(facts: HostFacts, spec: BuildSpec, matrix: Matrix) -> list[Check]:
    """Each GPU's gfx target against the ROCm release (with the override hint where one exists)."""
    checks: list[Check] = []
    if facts.amd is None:
        checks.append(
            Check(
                "amd-gpu",
                "warn",
                "rocminfo is not installed: GPU targets unchecked",
                "install rocminfo to check the gfx target",
            )
        )
        return checks
    if not facts.amd:
        checks.append(
            Check(
                "amd-gpu",
                "fail",
                "rocminfo lists no GPU agent",
                "check the amdgpu driver and /dev/kfd permissions",
            )
        )
    for i, gpu in enumerate(facts.amd):
        if gpu.gfx in spec.gfx_targets:
            checks.append(
                Check(
                    f"gpu{i}", "ok", f"{gpu.marketing_name} ({gpu.gfx}) is supported by ROCm {spec.toolkit}"
                )
            )
            continue
        near = matrix.gfx_override(gpu.gfx)
        if near and near.runs_as in spec.gfx_targets:
            checks.append(
                Check(
                    f"gpu{i}",
                    "warn",
                    f"{gpu.marketing_name} ({gpu.gfx}) is not on "
                    f"ROCm {spec.toolkit}'s list; it usually runs as {near.runs_as}",
                    f"set env HSA_OVERRIDE_GFX_VERSION={near.hsa_override} in the profile (unofficial)",
                )
            )
        else:
            checks.append(
                Check(
                    f"gpu{i}",
                    "fail",
                    f"{gpu.marketing_name} ({gpu.gfx}) is not "
                    f"supported by ROCm {spec.toolkit} ({', '.join(spec.gfx_targets)})",
                    "pick a ROCm release that lists this target (`dlenv matrix`)",
                )
            )
    return checks
