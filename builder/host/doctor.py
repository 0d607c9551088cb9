"""`dlenv doctor`: is this host ready to build and run a profile?

`gather_facts` reads the host (engine, GPUs, CPU, memory, disk); `evaluate` turns facts and an
optional BuildSpec into verdicts, purely, so every rule is unit-tested on recorded outputs.
Blockers are `fail` (exit 1); the seed document's workstation recommendations are `advice`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from packaging.version import Version

from builder.facts.matrix import Matrix, RocmEntry
from builder.host.facts import (  # re-exported: the CLI and tests read host facts through doctor
    GIB,
    Check,
    DockerFacts,
    HostFacts,
    Status,
    gather_docker,
    gather_facts,
    parse_version,
)
from builder.host.gpu_checks import amd_checks, newest_cuda_for_driver, nvidia_checks
from builder.host.probe import NvidiaReport
from builder.spec import BuildSpec

if TYPE_CHECKING:
    from builder.engine.protocol import Engine

__all__ = ["Check", "DockerFacts", "HostFacts", "diagnose", "evaluate", "gather_docker", "gather_facts"]


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


def _platform_checks(facts: HostFacts, spec: BuildSpec | None) -> list[Check]:
    """arm64 hosts (GH200/GB200, DGX Spark, Graviton) build linux/arm64 natively; other
    platforms' images build and run under QEMU emulation, which must be registered."""
    host = "linux/arm64" if facts.machine == "aarch64" else "linux/amd64"
    checks = []
    if host == "linux/arm64":
        checks.append(
            Check(
                "platform",
                "info",
                "arm64 host (aarch64): images for it need `platform: linux/arm64` in the profile "
                "(no ROCm on arm64; TensorFlow's aarch64 wheels are CPU builds)",
            )
        )
    if spec is None or spec.platform == host:
        return checks
    if spec.platform == "linux/arm64" and not facts.binfmt_arm64:
        checks.append(
            Check(
                "emulation",
                "fail",
                f"the profile builds {spec.platform} images; this {host} host cannot run them "
                "(no QEMU aarch64 registration with the F flag in binfmt_misc)",
                "run scripts/setup-emulation.sh (qemu-user-static, binfmt-support), "
                "or build on an arm64 host",
            )
        )
    else:
        checks.append(
            Check(
                "platform",
                "warn",
                f"the profile builds {spec.platform} images: on this {host} host they build and run "
                "under emulation, many times slower",
                f"for this host build with --platform {host} (or set `platform` in the profile)",
            )
        )
    return checks


def evaluate(facts: HostFacts, spec: BuildSpec | None, matrix: Matrix) -> list[Check]:
    """All verdicts for this host, and for the profile when one is given."""
    checks = _docker_checks(facts) + _cpu_checks(facts, spec) + _platform_checks(facts, spec)
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
        checks += nvidia_checks(facts, spec, matrix)
    elif spec.accelerator == "rocm":
        checks += amd_checks(facts, spec, matrix)
    return checks


def probe(spec: BuildSpec, engine: Engine) -> Check:
    """Start a real container with the accelerator's device options (`--probe`)."""
    from builder import names
    from builder.engine.protocol import RunRequest
    from builder.engine.resources import Resources
    from builder.engine.run_once import TimedOut, run_to_end
    from builder.errors import ContainerStartFailed

    built = names.profile_image(spec.profile, spec.platform)
    image = next((ref for ref in (built, spec.base_image) if engine.image(ref)), None)
    if image is None:
        return Check(
            "probe",
            "info",
            f"skipped: neither {built} nor {spec.base_image} is in the engine",
        )
    with Resources().cleaned_up() as resources:
        request = RunRequest(
            image=image,
            command=("true",),
            name=resources.container_name("probe"),
            labels=resources.labels,
            runtime=spec.runtime,
        )
        try:
            finished = run_to_end(engine, request, timeout=120)
        except ContainerStartFailed as exc:
            return Check(
                "probe",
                "fail",
                f"a {spec.accelerator} container could not start: {exc.message[:300]}",
                exc.hint or "install/configure the vendor container runtime",
            )
        except TimedOut:
            return Check("probe", "fail", "the probe container did not finish within 120 s")
        resources.forget(request.name)
    if finished.exit_code != 0:
        return Check(
            "probe", "fail", f"probe container exited with {finished.exit_code}: {finished.stderr[-300:]}"
        )
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
    spec: BuildSpec | None,
    *,
    probe_with: Engine | None = None,
    facts: HostFacts | None = None,
) -> Diagnosis:
    """Read the host (unless facts are given), evaluate it, and suggest a profile that fits."""
    from builder.facts.matrix import load_matrix

    matrix = load_matrix()
    facts = facts or gather_facts()
    checks = evaluate(facts, spec, matrix)
    if probe_with is not None and spec is not None and facts.docker.reachable:
        checks.append(probe(spec, probe_with))
    return Diagnosis(checks, checked_suggestion(facts, matrix), facts, spec.profile if spec else None)


def checked_suggestion(facts: HostFacts, matrix: Matrix) -> dict[str, Any]:
    """suggest_profile(), minus the toolkit pin when that pin does not resolve."""
    import yaml

    from builder.errors import DlenvError
    from builder.profile.load import parse_profile
    from builder.resolve.decide import resolve

    suggestion = suggest_profile(facts, matrix)
    try:
        resolve(parse_profile(yaml.safe_dump(suggestion)), matrix)
    except DlenvError:  # e.g. the newest toolkit for the driver has no PyTorch build for the GPU
        suggestion.pop("cuda", None)
        suggestion.pop("rocm", None)
    return suggestion


def _gpu_ids(report: NvidiaReport) -> list[str]:
    """This host's GPUs as a profile names them (ids where the table knows them)."""
    from builder.host.kernels import host_gpu

    found = [host_gpu(g) for g in report.gpus]
    return list(dict.fromkeys(g.id for g in found if g is not None))


def suggest_profile(facts: HostFacts, matrix: Matrix) -> dict[str, Any]:
    """A profile that fits this host: CUDA, ROCm or CPU, with PyTorch (for arm64 hosts on
    linux/arm64, where ROCm does not exist)."""
    base: dict[str, Any] = {"name": "suggested", "frameworks": {"pytorch": None}}
    if facts.machine == "aarch64":
        base["platform"] = "linux/arm64"
    driver = parse_version(facts.nvidia.driver) if facts.nvidia and facts.nvidia.gpus else None
    if driver is not None:
        entry = newest_cuda_for_driver(matrix, driver)
        caps = [v for g in facts.nvidia.gpus if (v := parse_version(g.compute_cap))] if facts.nvidia else []
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
                **({"gpus": gpus} if (gpus := _gpu_ids(facts.nvidia)) else {}),
            }
    if facts.amd and facts.machine != "aarch64":
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
