"""`dlenv doctor`: is this host ready to build and run a profile?

`gather_facts` reads the host (engine, GPUs, CPU, memory, disk); `evaluate` turns facts and an
optional BuildSpec into verdicts, purely, so every rule is unit-tested on recorded outputs.
Blockers are `fail` (exit 1); the seed document's workstation recommendations are `advice`.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass
from typing import Any, Literal

from packaging.version import InvalidVersion, Version

from builder import hostprobe
from builder.errors import EngineUnavailable
from builder.hostprobe import AmdGpu, CpuInfo, NvidiaReport
from builder.matrix import CudaEntry, Matrix, RocmEntry
from builder.spec import BuildSpec

Status = Literal["ok", "fail", "warn", "advice", "info"]
GIB = 1024**3


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str | None = None


@dataclass(frozen=True)
class DockerFacts:
    reachable: bool
    address: str
    error: str | None = None
    version: str | None = None
    storage_driver: str | None = None
    root_dir: str | None = None
    runtimes: tuple[str, ...] = ()
    checked: bool = True  # False: the caller talks to the engine itself and skipped this


@dataclass(frozen=True)
class HostFacts:
    docker: DockerFacts
    nvidia: NvidiaReport | None  # None: nvidia-smi is not installed
    amd: list[AmdGpu] | None  # None: rocminfo is not installed
    kfd: bool
    render_nodes: list[str]
    groups: set[str]
    is_root: bool
    cpu: CpuInfo
    memory_bytes: int
    disk_free_bytes: int | None
    disk_path: str

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["groups"] = sorted(self.groups)
        data["cpu"] = {
            "model": self.cpu.model,
            "cores": self.cpu.cores,
            "avx": self.cpu.avx,
            "avx2": self.cpu.avx2,
            "avx512": self.cpu.avx512,
        }
        return data


def gather_docker() -> DockerFacts:
    from builder import engine

    address = engine.engine_address()
    try:
        client = engine.connect(timeout=10)
    except EngineUnavailable as exc:
        return DockerFacts(False, address, error=exc.message)
    info = client.info()
    return DockerFacts(
        True,
        address,
        version=str(info.get("ServerVersion")),
        storage_driver=str(info.get("Driver")),
        root_dir=str(info.get("DockerRootDir") or ""),
        runtimes=tuple(sorted((info.get("Runtimes") or {}).keys())),
    )


def gather_facts(*, include_engine: bool = True) -> HostFacts:
    """Everything doctor reads from the host; include_engine=False leaves Docker alone."""
    from builder import engine

    docker = gather_docker() if include_engine else DockerFacts(False, engine.engine_address(), checked=False)
    local = docker.address.startswith("unix://")
    disk_path = docker.root_dir if (local and docker.root_dir and os.path.isdir(docker.root_dir)) else "/"
    try:
        free: int | None = shutil.disk_usage(disk_path).free
    except OSError:
        free = None
    return HostFacts(
        docker=docker,
        nvidia=hostprobe.collect_nvidia(),
        amd=hostprobe.collect_amd(),
        kfd=os.path.exists("/dev/kfd"),
        render_nodes=hostprobe.render_nodes(),
        groups=hostprobe.user_groups(),
        is_root=os.geteuid() == 0,
        cpu=hostprobe.collect_cpu(),
        memory_bytes=hostprobe.collect_memory(),
        disk_free_bytes=free,
        disk_path=disk_path,
    )


def _version(text: str | None) -> Version | None:
    try:
        return Version(text) if text else None
    except InvalidVersion:
        return None


def _docker_checks(facts: HostFacts) -> list[Check]:
    d = facts.docker
    if not d.checked:
        return []
    if not d.reachable:
        return [
            Check(
                "docker",
                "fail",
                f"engine at {d.address} unreachable: {d.error}",
                "start dockerd (scripts/setup-host.sh does it) or set DOCKER_HOST",
            )
        ]
    checks = [
        Check(
            "docker",
            "ok",
            f"engine {d.version} at {d.address}, storage driver "
            f"{d.storage_driver}, runtimes {', '.join(d.runtimes) or 'none'}",
        )
    ]
    if facts.disk_free_bytes is not None:
        free = facts.disk_free_bytes / GIB
        status: Status = "ok" if free >= 30 else "warn" if free >= 10 else "fail"
        checks.append(
            Check(
                "disk",
                status,
                f"{free:.0f} GiB free at {facts.disk_path} (images take 1-10 GB each; 30+ GiB recommended)",
                None if status == "ok" else "free space or move Docker's data-root",
            )
        )
    return checks


def _newest_cuda_for_driver(matrix: Matrix, driver: Version) -> CudaEntry | None:
    fitting = [c for c in matrix.cuda if Version(c.driver) <= driver]
    return max(fitting, key=lambda c: Version(c.version)) if fitting else None


def _newest_cuda_for_gpu(matrix: Matrix, cap: Version) -> CudaEntry | None:
    fitting = [c for c in matrix.cuda if Version(c.min_cc) <= cap]
    return max(fitting, key=lambda c: Version(c.version)) if fitting else None


def _nvidia_checks(facts: HostFacts, spec: BuildSpec, matrix: Matrix) -> list[Check]:
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
    checks: list[Check] = []
    host = _version(report.driver)
    if host is None:
        checks.append(Check("nvidia-driver", "warn", "driver version unknown"))
    elif spec.min_driver and host < Version(spec.min_driver):
        family = matrix.cuda_family_driver.get((spec.toolkit or "").split(".")[0], spec.min_driver)
        alt = _newest_cuda_for_driver(matrix, host)
        hint = f"upgrade the driver to >= {spec.min_driver}"
        if alt is not None:
            hint += f', or set cuda: "{alt.version}" in the profile (needs >= {alt.driver})'
        if host >= Version(family):
            checks.append(
                Check(
                    "nvidia-driver",
                    "warn",
                    f"driver {report.driver} is older than "
                    f"{need} (CUDA {spec.toolkit}) but runs it through minor-version "
                    f"compatibility (>= {family}); newer PTX features may fail",
                    hint,
                )
            )
        else:
            checks.append(
                Check(
                    "nvidia-driver",
                    "fail",
                    f"driver {report.driver} is older than "
                    f"{family}, the minimum for any CUDA {spec.toolkit} application",
                    hint,
                )
            )
    else:
        checks.append(Check("nvidia-driver", "ok", f"driver {report.driver} >= {need} (CUDA {spec.toolkit})"))
    entry = matrix.toolkit("cuda", spec.toolkit or "")
    floor = Version(entry.min_cc) if isinstance(entry, CudaEntry) else None
    for i, gpu in enumerate(report.gpus):
        cap = _version(gpu.compute_cap)
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
        if gpu.memory_mib is not None and gpu.memory_mib < 8 * 1024:
            checks.append(
                Check(
                    f"gpu{i}-memory",
                    "advice",
                    f"{gpu.memory_mib} MiB of GPU memory: "
                    "the seed guide recommends 8+ GiB (24+ for large models)",
                )
            )
    if "nvidia" in facts.docker.runtimes:
        checks.append(Check("nvidia-runtime", "ok", "nvidia runtime registered with Docker"))
    elif facts.docker.reachable:
        checks.append(
            Check(
                "nvidia-runtime",
                "warn",
                "no nvidia runtime registered with Docker (GPU containers need the NVIDIA container toolkit)",
                "install nvidia-container-toolkit, run `nvidia-ctk runtime configure "
                "--runtime=docker` and restart Docker; `dlenv doctor --probe` checks",
            )
        )
    return checks


def _amd_checks(facts: HostFacts, spec: BuildSpec, matrix: Matrix) -> list[Check]:
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


def _cpu_checks(facts: HostFacts, spec: BuildSpec | None) -> list[Check]:
    cpu = facts.cpu
    simd = "AVX-512" if cpu.avx512 else "AVX2" if cpu.avx2 else "AVX" if cpu.avx else "no AVX"
    checks = [Check("cpu", "ok", f"{cpu.model}, {cpu.cores} cores, {simd}")]
    if spec is not None and spec.framework("tensorflow") and not cpu.avx:
        checks.append(
            Check(
                "cpu-avx",
                "fail",
                "TensorFlow wheels need AVX; this CPU has none",
                "use a PyTorch or JAX profile on this machine",
            )
        )
    if cpu.cores < 8:
        checks.append(
            Check(
                "cpu-cores",
                "advice",
                f"{cpu.cores} cores: the seed guide recommends "
                "8+ cores to keep data loading ahead of the GPU",
            )
        )
    mem = facts.memory_bytes / GIB
    if mem and mem < 16:
        checks.append(
            Check(
                "memory",
                "advice",
                f"{mem:.0f} GiB RAM: 16+ GiB recommended, 32+ for large models and datasets",
            )
        )
    elif mem:
        checks.append(Check("memory", "ok", f"{mem:.0f} GiB RAM"))
    return checks


def evaluate(facts: HostFacts, spec: BuildSpec | None, matrix: Matrix) -> list[Check]:
    """All verdicts for this host, and for the profile when one is given."""
    checks = _docker_checks(facts) + _cpu_checks(facts, spec)
    if spec is None:
        if facts.nvidia and facts.nvidia.gpus:
            checks.append(
                Check(
                    "nvidia",
                    "info",
                    ", ".join(g.name for g in facts.nvidia.gpus) + f" (driver {facts.nvidia.driver})",
                )
            )
        if facts.amd:
            checks.append(Check("amd", "info", ", ".join(f"{g.marketing_name} ({g.gfx})" for g in facts.amd)))
        return checks
    if spec.accelerator == "cuda":
        checks += _nvidia_checks(facts, spec, matrix)
    elif spec.accelerator == "rocm":
        checks += _amd_checks(facts, spec, matrix)
    return checks


def probe(spec: BuildSpec) -> Check:
    """Start a real container with the accelerator's device options (`--probe`)."""
    from docker.errors import APIError, DockerException

    from builder import engine, names, runopts
    from builder.resources import Resources

    client = engine.connect(timeout=30)
    image = next(
        (
            ref
            for ref in (names.profile_image(spec.profile), spec.base_image)
            if engine.image_exists(client, ref)
        ),
        None,
    )
    if image is None:
        return Check(
            "probe",
            "info",
            f"skipped: neither {names.profile_image(spec.profile)} nor {spec.base_image} is in the engine",
        )
    with Resources().cleaned_up() as resources:
        name = resources.container_name("probe")
        try:
            client.containers.run(
                image,
                ["true"],
                name=name,
                labels=resources.labels,
                remove=True,
                **runopts.sdk_kwargs(spec.runtime),
            )
        except APIError as exc:
            return Check(
                "probe",
                "fail",
                f"a {spec.accelerator} container could not start: {str(exc)[:300]}",
                "install/configure the vendor container runtime",
            )
        except DockerException as exc:
            return Check("probe", "fail", f"probe container failed: {str(exc)[:300]}")
    return Check("probe", "ok", f"a container of {image} started with the {spec.accelerator} device options")


@dataclass(frozen=True)
class Diagnosis:
    """doctor's answer: every check, the verdict, a profile that fits, and the facts read."""

    checks: list[Check]
    suggested_profile: dict[str, Any]
    facts: HostFacts
    profile: str | None

    @property
    def ready(self) -> bool:
        return not any(c.status == "fail" for c in self.checks)

    def as_json(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "profile": self.profile,
            "checks": [asdict(c) for c in self.checks],
            "suggested_profile": self.suggested_profile,
            "host": self.facts.as_json(),
        }


def diagnose(
    spec: BuildSpec | None, *, probe_engine: bool = False, facts: HostFacts | None = None
) -> Diagnosis:
    """Read the host (unless facts are given), evaluate it, and suggest a profile that fits."""
    from builder.matrix import load_matrix

    matrix = load_matrix()
    facts = facts or gather_facts()
    checks = evaluate(facts, spec, matrix)
    if probe_engine and spec is not None and facts.docker.reachable:
        checks.append(probe(spec))
    return Diagnosis(checks, checked_suggestion(facts, matrix), facts, spec.profile if spec else None)


def checked_suggestion(facts: HostFacts, matrix: Matrix) -> dict[str, Any]:
    """suggest_profile(), minus the toolkit pin when that pin does not resolve."""
    import yaml

    from builder.errors import DlenvError
    from builder.profile import parse_profile
    from builder.resolve import resolve

    suggestion = suggest_profile(facts, matrix)
    try:
        resolve(parse_profile(yaml.safe_dump(suggestion)), matrix)
    except DlenvError:  # e.g. the newest toolkit for the driver has no PyTorch build
        suggestion.pop("cuda", None)
        suggestion.pop("rocm", None)
    return suggestion


def suggest_profile(facts: HostFacts, matrix: Matrix) -> dict[str, Any]:
    """A profile that fits this host: CUDA, ROCm or CPU, with PyTorch."""
    base: dict[str, Any] = {"name": "suggested", "frameworks": {"pytorch": None}}
    driver = _version(facts.nvidia.driver) if facts.nvidia and facts.nvidia.gpus else None
    if driver is not None:
        entry = _newest_cuda_for_driver(matrix, driver)
        caps = [v for g in facts.nvidia.gpus if (v := _version(g.compute_cap))] if facts.nvidia else []
        if entry is not None and caps and min(caps) < Version(entry.min_cc):
            fitting = [
                c for c in matrix.cuda if Version(c.driver) <= driver and Version(c.min_cc) <= min(caps)
            ]
            entry = max(fitting, key=lambda c: Version(c.version)) if fitting else None
        if entry is not None and facts.nvidia:
            name = facts.nvidia.gpus[0].name
            return {
                **base,
                "description": f"suggested by dlenv doctor for {name}",
                "accelerator": "cuda",
                "cuda": entry.version,
            }
    if facts.amd:
        targets = {g.gfx for g in facts.amd}
        rocm: list[RocmEntry] = [r for r in matrix.rocm if targets & set(r.gfx)]
        if rocm:
            best = max(rocm, key=lambda r: Version(r.version))
            return {
                **base,
                "description": f"suggested by dlenv doctor for {facts.amd[0].marketing_name}",
                "accelerator": "rocm",
                "rocm": best.version,
            }
    return {**base, "description": "suggested by dlenv doctor (no usable GPU found)", "accelerator": "cpu"}
