"""What `dlenv doctor` reads from the host: the engine, GPUs, CPU, memory and disk.

Plain data, gathered once; the verdicts on it live in `doctor` and `gpuchecks`, so every rule
is unit-tested on recorded facts.
"""

from __future__ import annotations

import os
import platform
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from packaging.version import InvalidVersion, Version

from builder.errors import EngineUnavailable
from builder.host import probe as hostprobe
from builder.host.probe import AmdGpu, CpuInfo, NvidiaReport

if TYPE_CHECKING:
    from builder.engine.protocol import Connect, EngineInfo

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
    machine: str = "x86_64"  # uname -m: aarch64 on GH200/GB200, DGX Spark, Graviton
    binfmt_arm64: bool = False  # QEMU registered for aarch64 with the F flag (emulated arm64)

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


def docker_facts(info: EngineInfo) -> DockerFacts:
    """What doctor reports of an engine that answered (engine.info(), the one reader)."""
    return DockerFacts(
        True,
        info.address,
        version=info.version,
        storage_driver=info.storage_driver,
        root_dir=info.root_dir or "",
        runtimes=info.runtimes,
    )


def gather_docker(connect: Connect | None = None) -> DockerFacts:
    from builder.engine.docker_engine import connect as docker_connect
    from builder.engine.docker_engine import engine_address

    try:
        engine = (connect or docker_connect)(10)
    except EngineUnavailable as exc:
        return DockerFacts(False, engine_address(), error=exc.message)
    try:
        return docker_facts(engine.info())
    finally:
        engine.close()


def gather_facts(*, include_engine: bool = True) -> HostFacts:
    """Everything doctor reads from the host; include_engine=False leaves Docker alone."""
    from builder.engine.docker_engine import engine_address

    docker = gather_docker() if include_engine else DockerFacts(False, engine_address(), checked=False)
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
        machine=platform.machine().lower().replace("arm64", "aarch64").replace("amd64", "x86_64"),
        binfmt_arm64=_binfmt_arm64(),
    )


def _binfmt_arm64() -> bool:
    """aarch64 binaries run here through QEMU, also inside containers (the F flag)."""
    try:
        entry = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64").read_text()
    except OSError:
        return False
    flags = next((line.split(":", 1)[1] for line in entry.splitlines() if line.startswith("flags:")), "")
    return entry.startswith("enabled") and "F" in flags


def parse_version(text: str | None) -> Version | None:
    """A version, or None for a missing or unparsable one (drivers print odd strings)."""
    try:
        return Version(text) if text else None
    except InvalidVersion:
        return None
