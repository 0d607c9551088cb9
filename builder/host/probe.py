"""What this host has: parsers for nvidia-smi, rocminfo, /proc (pure), and their collectors.

Parsers are tested on real recorded outputs (tests/fixtures/host); collectors only run
commands with a timeout and hand the text to the parsers.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field

NVIDIA_QUERY = ["nvidia-smi", "--query-gpu=name,driver_version,memory.total,compute_cap", "--format=csv"]
_NVIDIA_FAILURES = (
    "NVIDIA-SMI has failed",
    "couldn't communicate with the NVIDIA driver",
    "No devices were found",
    "Failed to initialize NVML",
)


@dataclass(frozen=True)
class NvidiaGpu:
    name: str
    driver: str | None
    memory_mib: int | None
    compute_cap: str | None


@dataclass(frozen=True)
class NvidiaReport:
    """nvidia-smi's answer: GPUs, or the error it printed (None report = not installed)."""

    gpus: tuple[NvidiaGpu, ...] = ()
    error: str | None = None

    @property
    def driver(self) -> str | None:
        return next((g.driver for g in self.gpus if g.driver), None)


@dataclass(frozen=True)
class AmdGpu:
    gfx: str
    marketing_name: str


@dataclass(frozen=True)
class CpuInfo:
    model: str
    cores: int
    flags: frozenset[str] = field(default_factory=frozenset)

    @property
    def avx(self) -> bool:
        return "avx" in self.flags

    @property
    def avx2(self) -> bool:
        return "avx2" in self.flags

    @property
    def avx512(self) -> bool:
        return "avx512f" in self.flags


def _mib(value: str) -> int | None:
    match = re.match(r"\s*(\d+)", value)
    return int(match.group(1)) if match else None


def parse_nvidia_smi(text: str) -> NvidiaReport:
    """Parse `nvidia-smi --query-gpu=... --format=csv` (any column order, with header)."""
    stripped = text.strip()
    for failure in _NVIDIA_FAILURES:
        if failure in stripped:
            return NvidiaReport(error=stripped.splitlines()[0].strip())
    if not stripped:
        return NvidiaReport(error="nvidia-smi printed nothing")
    rows = list(csv.reader(io.StringIO(stripped), skipinitialspace=True))
    header = [h.strip().split(" [")[0] for h in rows[0]]
    if "name" not in header:
        return NvidiaReport(error=f"unexpected nvidia-smi output: {stripped.splitlines()[0][:120]}")
    gpus = []
    for row in rows[1:]:
        if not row or not any(cell.strip() for cell in row):
            continue
        cells = dict(zip(header, (c.strip() for c in row), strict=False))
        cap = cells.get("compute_cap") or None
        gpus.append(
            NvidiaGpu(
                name=cells["name"],
                driver=cells.get("driver_version") or None,
                memory_mib=_mib(cells.get("memory.total", "")),
                compute_cap=cap if cap and cap != "[N/A]" else None,
            )
        )
    if not gpus:
        return NvidiaReport(error="nvidia-smi listed no GPU")
    return NvidiaReport(gpus=tuple(gpus))


def parse_rocminfo(text: str) -> list[AmdGpu]:
    """GPU agents of `rocminfo` output: their gfx target and marketing name."""
    gpus = []
    for block in re.split(r"^\s*Agent \d+\s*$", text, flags=re.MULTILINE)[1:]:
        fields: dict[str, str] = {}
        for line in block.splitlines():
            # Agent-level keys are indented two spaces; pool and ISA entries go deeper.
            match = re.match(r"^  ([A-Za-z][A-Za-z .]*?):\s*(.*?)\s*$", line)
            if match and match.group(1) not in fields:
                fields[match.group(1)] = match.group(2)
        if fields.get("Device Type") == "GPU" and fields.get("Name", "").startswith("gfx"):
            gpus.append(AmdGpu(fields["Name"], fields.get("Marketing Name") or fields["Name"]))
    return gpus


def parse_amd_smi_static(text: str) -> list[AmdGpu]:
    """GPUs of `amd-smi static`: MARKET_NAME and TARGET_GRAPHICS_VERSION per `GPU: N`."""
    gpus = []
    for block in re.split(r"^GPU: \d+\s*$", text, flags=re.MULTILINE)[1:]:
        gfx = re.search(r"^\s+TARGET_GRAPHICS_VERSION:\s*(gfx\w+)", block, re.MULTILINE)
        name = re.search(r"^\s+MARKET_NAME:\s*(.*?)\s*$", block, re.MULTILINE)
        if gfx:
            label = name.group(1) if name and name.group(1) not in ("", "N/A") else gfx.group(1)
            gpus.append(AmdGpu(gfx.group(1), label))
    return gpus


def parse_rocm_smi_productname(text: str) -> list[AmdGpu]:
    """GPUs of `rocm-smi --showproductname`: 'GPU[n] : Card Series' and 'GFX Version'."""
    names: dict[str, str] = {}
    targets: dict[str, str] = {}
    for match in re.finditer(r"^GPU\[(\d+)\]\s*:\s*([^:]+?):\s*(.*?)\s*$", text, re.MULTILINE):
        index, key, value = match.groups()
        if key == "Card Series":
            names[index] = value
        elif key == "GFX Version" and value.startswith("gfx"):
            targets[index] = value
    return [AmdGpu(gfx, names.get(i, gfx)) for i, gfx in sorted(targets.items(), key=lambda t: int(t[0]))]


def parse_cpuinfo(text: str) -> CpuInfo:
    model, flags, cores = "unknown", frozenset[str](), 0
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "processor":
            cores += 1
        elif key == "model name" and model == "unknown":
            model = value.strip()
        elif key == "flags" and not flags:
            flags = frozenset(value.split())
    return CpuInfo(model=model, cores=cores or (os.cpu_count() or 1), flags=flags)


def parse_meminfo(text: str) -> int:
    match = re.search(r"^MemTotal:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else 0


def _run(cmd: list[str], timeout: int = 20) -> str | None:
    """A command's stdout+stderr, or None when it is not installed."""
    if shutil.which(cmd[0]) is None:
        return None
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{cmd[0]} failed: {exc}"
    return result.stdout + result.stderr


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return ""


def collect_nvidia() -> NvidiaReport | None:
    text = _run(NVIDIA_QUERY)
    return None if text is None else parse_nvidia_smi(text)


def collect_amd() -> list[AmdGpu] | None:
    """AMD GPUs from rocminfo, else amd-smi, else rocm-smi; None when none is installed."""
    for cmd, parse in (
        (["rocminfo"], parse_rocminfo),
        (["amd-smi", "static"], parse_amd_smi_static),
        (["rocm-smi", "--showproductname"], parse_rocm_smi_productname),
    ):
        text = _run(cmd)
        if text is not None:
            return parse(text)
    return None


def collect_cpu() -> CpuInfo:
    return parse_cpuinfo(_read("/proc/cpuinfo"))


def collect_memory() -> int:
    return parse_meminfo(_read("/proc/meminfo"))


def render_nodes() -> list[str]:
    try:
        return sorted(f"/dev/dri/{n}" for n in os.listdir("/dev/dri") if n.startswith("renderD"))
    except OSError:
        return []


def user_groups() -> set[str]:
    import grp

    names = set()
    for gid in os.getgroups():
        try:
            names.add(grp.getgrgid(gid).gr_name)
        except KeyError:
            continue
    return names
