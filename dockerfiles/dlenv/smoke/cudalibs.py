"""CUDA libraries as the dynamic linker sees them, readable without a GPU (for readiness.py).

ELF dynamic sections (NEEDED, SONAME, RPATH, RUNPATH) and the GPU code in `.nv_fatbin`; the
search path glibc's dlopen() would walk from a given caller; loading with RTLD_NOW and telling
"only the driver is missing" from "a toolkit library is missing"; each CUDA library's own
version API; and which pip wheel's bytes sit in a file two wheels claim. Standard library only.
"""

from __future__ import annotations

import base64
import ctypes
import functools
import hashlib
import os
import re
import site
import struct
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import BinaryIO, NamedTuple

# Sonames only an NVIDIA driver provides: a library that fails for want of these alone is
# ready, on a host without a GPU, and reported under driver_only_failures.
DRIVER_SONAMES = frozenset(
    "libcuda.so.1 libcuda.so libnvidia-ml.so.1 libnvidia-ptxjitcompiler.so.1 libnvidia-nvvm.so.4".split()
)
# The sonames the binaries NEED or dlopen, per CUDA major. cuFFT, cuSOLVER, cuSPARSE and cuRAND
# have majors of their own, and cuSPARSE and cuRAND kept theirs across CUDA 12 -> 13 (so the
# soname alone does not tell a CUDA 12 copy from a CUDA 13 one).
_SONAME_MAJORS = {  # kind: (file name, its major in CUDA 12, in CUDA 13)
    "cudart": ("libcudart", 12, 13),
    "cublas": ("libcublas", 12, 13),
    "cublasLt": ("libcublasLt", 12, 13),
    "cufft": ("libcufft", 11, 12),
    "curand": ("libcurand", 10, 10),
    "cusolver": ("libcusolver", 11, 12),
    "cusparse": ("libcusparse", 12, 12),
    "cupti": ("libcupti", 12, 13),
    "nvrtc": ("libnvrtc", 12, 13),
    "nvjitlink": ("libnvJitLink", 12, 13),
}
CUDA_SONAMES: dict[int, dict[str, str]] = {
    cuda: {kind: f"{name}.so.{majors[i]}" for kind, (name, *majors) in _SONAME_MAJORS.items()}
    for i, cuda in enumerate((12, 13))
}
# cuDNN 9 dlopens these sub-libraries itself, at first use, from its own folder.
CUDNN9_SUBLIBS = tuple("graph engines_precompiled engines_runtime_compiled heuristic ops cnn adv".split())
# glibc's built-in library folders (after LD_LIBRARY_PATH, RUNPATH and ld.so.cache).
DEFAULT_LIB_DIRS = tuple(
    f"{prefix}/{lib}"
    for lib in ("lib/x86_64-linux-gnu", "lib/aarch64-linux-gnu", "lib64", "lib")
    for prefix in ("", "/usr")
)
_DT_NEEDED, _DT_STRTAB, _DT_STRSZ, _DT_SONAME, _DT_RPATH, _DT_RUNPATH = 1, 5, 10, 14, 15, 29
_RTLD_NOW, _RTLD_NOLOAD, _RTLD_DI_LINKMAP = 0x2, 0x4, 2
_FATBIN_MAGIC = 0xBA55ED50


# ---------------------------------------------------------------------------------------- ELF
@dataclass(frozen=True)
class ElfInfo:
    """What the dynamic linker reads from a shared object, plus its section table."""

    needed: tuple[str, ...] = ()
    soname: str | None = None
    rpath: str = ""  # DT_RPATH: searched before LD_LIBRARY_PATH, and for the objects it loads
    runpath: str = ""  # DT_RUNPATH: after LD_LIBRARY_PATH, for this object's own lookups only
    sections: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (offset, size)


@functools.lru_cache(maxsize=4096)
def read_elf(path: str) -> ElfInfo | None:
    """Parse a 64-bit little-endian ELF file (x86-64, aarch64); None if it is not one."""
    try:
        with open(path, "rb") as f:
            header = f.read(64)
            if len(header) < 64 or header[:4] != b"\x7fELF" or header[4] != 2 or header[5] != 1:
                return None
            phoff, shoff = struct.unpack_from("<QQ", header, 0x20)
            phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from("<HHHHH", header, 0x36)
            f.seek(phoff)
            raw = f.read(phentsize * phnum)
            # (type, flags, offset, vaddr, paddr, filesz, memsz, align)
            phdrs = [struct.unpack_from("<IIQQQQQQ", raw, i * phentsize) for i in range(phnum)]
            info = _dynamic_section(f, phdrs)
            return ElfInfo(*info, sections=_section_table(f, shoff, shnum, shentsize, shstrndx))
    except (OSError, struct.error):
        return None


def _dynamic_section(
    f: BinaryIO, phdrs: list[tuple[int, ...]]
) -> tuple[tuple[str, ...], str | None, str, str]:
    """(NEEDED, SONAME, RPATH, RUNPATH) from PT_DYNAMIC; its strings live in DT_STRTAB."""
    loads = [p for p in phdrs if p[0] == 1]  # PT_LOAD maps file offsets to virtual addresses
    entries: list[tuple[int, int]] = []
    for p in phdrs:
        if p[0] == 2:  # PT_DYNAMIC
            f.seek(p[2])
            data = f.read(p[5])
            for i in range(0, len(data) - 15, 16):
                tag, value = struct.unpack_from("<qQ", data, i)
                if tag == 0:
                    break
                entries.append((tag, value))
    strtab = next((v for t, v in entries if t == _DT_STRTAB), None)
    strsz = next((v for t, v in entries if t == _DT_STRSZ), 0)
    table = b""
    if strtab is not None:
        load = next((p for p in loads if p[3] <= strtab < p[3] + p[5]), None)
        if load is not None:
            # Read the whole table at once: TensorFlow's RUNPATH alone is several kB long.
            f.seek(strtab - load[3] + load[2])
            table = f.read(strsz or 1 << 20)

    def string(offset: int) -> str:
        end = table.find(b"\0", offset)
        return table[offset : end if end >= 0 else len(table)].decode(errors="replace")

    needed = tuple(string(v) for t, v in entries if t == _DT_NEEDED)
    soname = next((string(v) for t, v in entries if t == _DT_SONAME), None)
    rpath = next((string(v) for t, v in entries if t == _DT_RPATH), "")
    runpath = next((string(v) for t, v in entries if t == _DT_RUNPATH), "")
    return needed, soname, rpath, runpath


def _section_table(f: BinaryIO, shoff: int, shnum: int, size: int, strndx: int) -> dict[str, tuple[int, int]]:
    """{section name: (file offset, size)}; the fatbin scan needs `.nv_fatbin`."""
    if not shoff or not shnum:
        return {}
    f.seek(shoff)
    raw = f.read(size * shnum)
    # (name, type, flags, addr, offset, size, link, info, addralign, entsize)
    shdrs = [struct.unpack_from("<IIQQQQIIQQ", raw, i * size) for i in range(shnum)]
    if strndx >= len(shdrs):
        return {}
    f.seek(shdrs[strndx][4])
    names = f.read(shdrs[strndx][5])
    out = {}
    for h in shdrs:
        end = names.find(b"\0", h[0])
        out[names[h[0] : end].decode(errors="replace")] = (h[4], h[5])
    return out


def expand_origin(path_list: str, origin: str) -> list[str]:
    """An RPATH/RUNPATH value as folders, with $ORIGIN (the object's own folder) expanded."""
    out: list[str] = []
    for entry in path_list.split(":"):
        if entry:
            folder = os.path.normpath(entry.replace("${ORIGIN}", origin).replace("$ORIGIN", origin))
            if folder not in out:
                out.append(folder)
    return out


def arch_sort_key(arch: str) -> tuple[int, int, str]:
    """sm_90 < sm_90a < compute_90 < sm_100: by number, SASS before PTX."""
    number = re.sub(r"\D", "", arch.split("_", 1)[-1])
    return int(number or 0), 0 if arch.startswith("sm_") else 1, arch


def sorted_archs(archs: Iterable[str]) -> list[str]:
    """A set of GPU architecture names, deduplicated and in arch_sort_key order."""
    return sorted(set(archs), key=arch_sort_key)


def covers(archs: Iterable[str], capability: tuple[int, int]) -> bool:
    """Whether code built for `archs` runs on a GPU of this compute capability.

    SASS (sm_XY) runs on the same major at minor >= Y ("a" variants only on exactly XY); PTX
    (compute_XY) is JIT-compiled by the driver for any later GPU.
    """
    for arch in archs:
        match = re.fullmatch(r"(sm|compute)_(\d+)([af]?)", arch)
        if not match:
            continue
        built = (int(match.group(2)) // 10, int(match.group(2)) % 10)
        if match.group(1) == "compute" and built <= capability:
            return True
        if match.group(3) == "a" and built == capability:
            return True
        if match.group(3) != "a" and built[0] == capability[0] and built[1] <= capability[1]:
            return True
    return False


def fatbin_archs(path: str) -> list[str] | None:
    """GPU code a shared object carries, read from its `.nv_fatbin` section (None: not ELF).

    A fatbin is a run of blocks (magic 0xBA55ED50, header size, payload size), each holding
    entries: kind 1 is PTX (compute_XX), kind 2 a cubin (sm_XX). The a/f suffixes (sm_90a,
    sm_103f) come from entry flag bits 0x100000 / 0x200000: observed, not documented.
    """
    info = read_elf(path)
    if info is None:
        return None
    found: set[str] = set()
    with open(path, "rb") as f:
        for name in (".nv_fatbin", "__nv_relfatbin"):
            if name in info.sections:
                found.update(_scan_fatbin(f, *info.sections[name]))
    return sorted_archs(found)


def _scan_fatbin(f: BinaryIO, offset: int, size: int) -> set[str]:
    """The architectures in one fatbin section, block by block (see fatbin_archs)."""
    found: set[str] = set()
    pos = 0
    while pos + 16 <= size:
        f.seek(offset + pos)
        magic, _version, header_size, fat_size = struct.unpack("<IHHQ", f.read(16))
        if magic != _FATBIN_MAGIC:  # padding between blocks: skip to the next magic
            f.seek(offset + pos + 1)
            block = f.read(min(1 << 20, size - pos - 1))
            i = block.find(struct.pack("<I", _FATBIN_MAGIC))
            pos += 1 + (len(block) if i < 0 else i)
            continue
        entry, end = pos + header_size, pos + header_size + fat_size
        while entry + 64 <= end:
            f.seek(offset + entry)
            head = f.read(64)
            kind, _unknown, entry_header, entry_size = struct.unpack_from("<HHIQ", head, 0)
            (arch,) = struct.unpack_from("<I", head, 28)
            (flags,) = struct.unpack_from("<Q", head, 40)
            if entry_header < 64 or kind not in (1, 2):
                break
            suffix = "a" if flags & 0x100000 else ("f" if flags & 0x200000 else "")
            found.add(f"{'compute' if kind == 1 else 'sm'}_{arch}{suffix}")
            entry += entry_header + entry_size
        pos = end
    return found


# ------------------------------------------------------------------------------ search path
# ld.so reads LD_LIBRARY_PATH once, at process start: a framework changing os.environ later
# changes nothing for dlopen(), so take it as it was when this module was imported.
_LD_LIBRARY_PATH = os.environ.get("LD_LIBRARY_PATH", "")


def ld_library_path() -> list[str]:
    """LD_LIBRARY_PATH as the dynamic loader of this process uses it (":" or ";" separated)."""
    return [d for d in re.split(r"[:;]", _LD_LIBRARY_PATH) if d]


@functools.lru_cache(maxsize=1)
def system_lib_dirs() -> tuple[str, ...]:
    """The folders of ld.so.cache (`ldconfig -p`; libc-bin is in every glibc image), then glibc's."""
    dirs: list[str] = []
    for ldconfig in ("/sbin/ldconfig", "/usr/sbin/ldconfig", "ldconfig"):  # a user's PATH may lack sbin
        try:
            out = subprocess.run([ldconfig, "-p"], capture_output=True, text=True, timeout=20).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        dirs = [os.path.dirname(line.split("=>", 1)[1].strip()) for line in out.splitlines() if "=>" in line]
        break
    return tuple(d for d in dict.fromkeys(dirs + list(DEFAULT_LIB_DIRS)) if os.path.isdir(d))


def dlopen_search_path(
    caller: str, extra: Sequence[str] = (), inherited_rpath: Sequence[str] = ()
) -> list[str]:
    """Where glibc looks for a bare soname that `caller` NEEDs or dlopens, in order.

    DT_RPATH (only when there is no DT_RUNPATH; the RPATHs of the objects that loaded it too),
    then LD_LIBRARY_PATH, then DT_RUNPATH, then ld.so.cache and the default folders. `extra`
    (folders a framework loads from by full path) goes before the system folders. A soname
    already loaded in the process wins over all of these: see linked_path().
    """
    info = read_elf(caller) or ElfInfo()
    origin = os.path.dirname(os.path.realpath(caller))
    dirs: list[str] = []
    if not info.runpath:
        dirs += expand_origin(info.rpath, origin) + list(inherited_rpath)
    dirs += ld_library_path() + expand_origin(info.runpath, origin) + list(extra) + list(system_lib_dirs())
    return list(dict.fromkeys(dirs))


def locate(soname: str, dirs: Sequence[str]) -> str | None:
    """The first `folder/soname` that exists, in search order."""
    for folder in dirs:
        candidate = os.path.join(folder, soname)
        if os.path.exists(candidate):
            return candidate
    return None


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL:
    """This process's libc, with the prototypes of the dl* calls linked_path() makes."""
    libc = ctypes.CDLL(None)
    libc.dlopen.restype = ctypes.c_void_p
    libc.dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
    libc.dlinfo.restype = ctypes.c_int
    libc.dlinfo.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    libc.dlclose.argtypes = [ctypes.c_void_p]
    return libc


def linked_path(soname: str) -> str | None:
    """The file a NEEDED entry or dlopen() of `soname` binds to in this process now, if loaded.

    dlopen(RTLD_NOLOAD) + dlinfo(RTLD_DI_LINKMAP) names the FIRST object loaded under that name,
    which is what every later lookup gets. /proc/self/maps is in address order and gave the
    wrong copy when two files (a CUDA 12 and a CUDA 13 libcusparse.so.12) shared a soname.
    """
    try:
        libc = _libc()
        handle = libc.dlopen(soname.encode(), _RTLD_NOW | _RTLD_NOLOAD)
        if not handle:
            return None
        link_map = ctypes.c_void_p()
        path = None
        if libc.dlinfo(handle, _RTLD_DI_LINKMAP, ctypes.byref(link_map)) == 0 and link_map.value:
            path = ctypes.c_char_p.from_address(link_map.value + 8).value  # struct link_map.l_name
        libc.dlclose(handle)
        return os.path.normpath(path.decode()) if path else None
    except (OSError, AttributeError, ValueError):
        return None


def missing_needed(path: str, extra: Sequence[str] = ()) -> list[str]:
    """Sonames in the NEEDED closure of `path` that the linker would not find (emulated).

    Used when a dlopen fails, to tell "only the driver (libcuda.so.1) is missing" from "a
    toolkit library is missing": dlerror names only the first failure.
    """
    seen: set[str] = set()
    missing: list[str] = []

    def walk(obj: str, rpaths: tuple[str, ...], depth: int) -> None:
        info = read_elf(obj) or ElfInfo()
        origin = os.path.dirname(os.path.realpath(obj))
        # DT_RPATH also applies to what the objects it loads need, unless they have a RUNPATH.
        chain = (rpaths + tuple(expand_origin(info.rpath, origin))) if not info.runpath else ()
        dirs = dlopen_search_path(obj, extra, rpaths)
        for name in info.needed:
            if name in seen:
                continue
            seen.add(name)
            found = linked_path(name) or locate(name, dirs)  # a loaded soname wins, as in ld.so
            if not found:
                missing.append(name)
            elif depth < 8:
                walk(found, chain, depth + 1)

    walk(path, (), 0)
    return missing


# ------------------------------------------------------------------------------- loading
@dataclass
class Library:
    """One CUDA library a framework loads: where it was found, whether it loads, its version."""

    name: str  # what it is to the framework: cudart, cublasLt, cudnn_graph, ...
    soname: str
    path: str | None = None
    required: bool = True
    found_via: str | None = None  # already_loaded (the framework bound it), search_path, path
    loaded: bool = False
    status: str = "missing"  # ok, missing, error, driver_missing, not_on_search_path
    error: str | None = None
    missing_dependencies: list[str] = field(default_factory=list)
    version: object = None
    wheel: str | None = None  # the wheel whose bytes are on disk at `path`
    file_claimed_by: list[str] = field(default_factory=list)
    note: str | None = None
    details: dict[str, object] = field(default_factory=dict)
    handle: ctypes.CDLL | None = field(default=None, repr=False, compare=False)

    def as_json(self) -> dict[str, object]:
        """The library as one JSON object (always the first six keys; the rest when set)."""
        always = ("name", "soname", "path", "required", "loaded", "status")
        out: dict[str, object] = {key: getattr(self, key) for key in always}
        if self.soname in DRIVER_SONAMES:
            out["driver"] = True
        for key in ("found_via", "error", "missing_dependencies", "version", "wheel", "file_claimed_by"):
            if getattr(self, key) not in (None, [], ""):
                out[key] = getattr(self, key)
        return {**out, **({"note": self.note} if self.note else {}), **self.details}

    def problem(self) -> str:
        """A short reason this library does not load (for libraries_missing)."""
        if self.missing_dependencies:
            return f"{self.soname} (needs {', '.join(self.missing_dependencies)})"
        if self.status == "missing":
            return f"{self.soname} (not found)"
        return f"{self.soname} ({(self.error or self.status)[:160]})"


def load_path(name: str, path: str, extra: Sequence[str] = (), *, required: bool = True) -> Library:
    """dlopen `path` with RTLD_NOW (ctypes always adds it) and classify a failure."""
    lib = Library(name, os.path.basename(path), path=path, required=required, found_via="path")
    _load(lib, extra)
    return lib


def find_and_load(name: str, soname: str, dirs: Sequence[str], *, required: bool = True) -> Library:
    """Find `soname` the way the framework's loader would, then load it with RTLD_NOW.

    Like the dynamic linker, a soname already in the process (the framework's own preloading
    mapped it) wins over any search path.
    """
    lib = Library(name, soname, required=required)
    bound = linked_path(soname)
    lib.path, lib.found_via = (bound, "already_loaded") if bound else (locate(soname, dirs), "search_path")
    if lib.path is None:
        lib.found_via = None
        lib.status = "driver_missing" if soname in DRIVER_SONAMES else "missing"
        where = ":".join(dirs) or "(no search path)"
        lib.error = f"{soname} not found in {where[:300]}{'...' if len(where) > 300 else ''}"
        return lib
    _load(lib, dirs)
    return lib


def _load(lib: Library, extra: Sequence[str]) -> None:
    assert lib.path is not None
    try:
        lib.handle = ctypes.CDLL(lib.path)
        lib.loaded, lib.status, lib.error = True, "ok", None
        return
    except OSError as exc:
        lib.error = str(exc)
    missing = missing_needed(lib.path, extra) if os.path.exists(lib.path) else []
    # dlerror names the first soname it could not open; the emulated closure names them all.
    named = re.findall(r"(lib[\w.+-]+\.so[\w.]*): cannot open shared object file", lib.error)
    missing += [n for n in named if n not in missing]
    toolkit = [m for m in missing if m not in DRIVER_SONAMES]
    lib.missing_dependencies = toolkit or missing
    lib.status = "driver_missing" if missing and not toolkit else "error"


# ---------------------------------------------------------------------------- versions
def _int_outputs(handle: ctypes.CDLL, function: str, count: int = 1) -> list[int]:
    fn = getattr(handle, function)
    values = [ctypes.c_int(0) for _ in range(count)]
    fn.restype = ctypes.c_int
    rc = fn(*[ctypes.byref(v) for v in values])
    if rc != 0:
        raise RuntimeError(f"{function} returned {rc}")
    return [v.value for v in values]


def _size_t(handle: ctypes.CDLL, function: str) -> int:
    fn = getattr(handle, function)
    fn.restype, fn.argtypes = ctypes.c_size_t, []
    return int(fn())


def _properties(handle: ctypes.CDLL, function: str) -> str:
    """cublasGetProperty / cusparseGetProperty(MAJOR, MINOR, PATCH) as "12.5.10"."""
    fn = getattr(handle, function)
    fn.restype = ctypes.c_int
    parts = []
    for prop in (0, 1, 2):
        value = ctypes.c_int(0)
        fn(ctypes.c_int(prop), ctypes.byref(value))
        parts.append(str(value.value))
    return ".".join(parts)


def library_version(kind: str, handle: ctypes.CDLL) -> object:
    """The runtime version a loaded CUDA library reports through its own API (no GPU needed).

    cuDNN and cuBLASLt also say which CUDA runtime they were built for ({"cudart_version"}),
    which tells a CUDA 12 cuDNN 9 from a CUDA 13 one. None: no version API for this kind.
    """
    try:
        if kind == "cudart":
            return _int_outputs(handle, "cudaRuntimeGetVersion")[0]
        if kind in ("cudnn", "cublasLt"):  # cudnnGetVersion, cublasLtGetCudartVersion, ...
            version, cudart = _size_t(handle, f"{kind}GetVersion"), _size_t(handle, f"{kind}GetCudartVersion")
            return {"version": version, "cudart_version": cudart}
        if kind in ("cufft", "cusolver", "curand", "nccl"):  # cufftGetVersion(int*), ...
            return _int_outputs(handle, f"{kind}GetVersion")[0]
        if kind in ("cublas", "cusparse"):
            return _properties(handle, "cublasGetProperty" if kind == "cublas" else "cusparseGetProperty")
        if kind == "nvrtc":
            return ".".join(map(str, _int_outputs(handle, "nvrtcVersion", 2)))
        if kind == "nvjitlink":
            major, minor = ctypes.c_uint(0), ctypes.c_uint(0)
            handle.nvJitLinkVersion(ctypes.byref(major), ctypes.byref(minor))
            return f"{major.value}.{minor.value}"
        if kind == "cupti":
            cupti = ctypes.c_uint32(0)
            handle.cuptiGetVersion(ctypes.byref(cupti))
            return cupti.value
    except (AttributeError, RuntimeError, OSError) as exc:
        return f"unavailable: {exc}"
    return None


def built_for_cuda(kind: str, version: object) -> int | None:
    """The CUDA major a library's reported version says it was built for (None: unknown)."""
    cudart = version.get("cudart_version") if isinstance(version, dict) else None
    if cudart is None and kind == "cudart":
        cudart = version
    return cudart // 1000 if isinstance(cudart, int) and cudart > 0 else None


def cuda_version_text(version: int | None) -> str | None:
    """12090 -> "12.9" (the encoding of cudaRuntimeGetVersion and the JAX plugin)."""
    return f"{version // 1000}.{version % 1000 // 10}" if isinstance(version, int) and version > 0 else None


def cudnn_version_text(version: int | None) -> str | None:
    """92800 -> "9.28.0" (cuDNN 9: M*10000+m*100+p); 8907 -> "8.9.7" (cuDNN 8: M*1000+m*100+p)."""
    if not isinstance(version, int) or version <= 0:
        return None
    if version >= 10000:
        return f"{version // 10000}.{version % 10000 // 100}.{version % 100}"
    return f"{version // 1000}.{version % 1000 // 100}.{version % 100}"


# --------------------------------------------------------------------------------- wheels
def site_dirs() -> list[str]:
    """The site-packages folders and sys.path entries that exist, without repeats."""
    dirs = site.getsitepackages() if hasattr(site, "getsitepackages") else []
    return list(dict.fromkeys(d for d in [*dirs, *sys.path] if d and os.path.isdir(d)))


def normalise(name: str) -> str:
    """A distribution name as PEP 503 compares it."""
    return re.sub(r"[-_.]+", "-", name).lower()


@functools.lru_cache(maxsize=1)
def distributions() -> tuple[metadata.Distribution, ...]:
    """The installed distributions, one per name (the first on sys.path, as import finds it)."""
    seen: dict[str, metadata.Distribution] = {}
    for dist in metadata.distributions():
        seen.setdefault(normalise(dist.metadata["Name"] or ""), dist)
    return tuple(seen.values())


def dist_version(name: str) -> str | None:
    """The installed version of a distribution (None: not installed)."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def wheel_cuda_major(name: str, files: Iterable[object]) -> int | None:
    """The CUDA major of an nvidia-* wheel: its -cuNN suffix, else its nvidia/cuNN/ folder.

    The CUDA 13 wheels dropped the suffix (nvidia-cublas, not nvidia-cublas-cu13) and install
    into nvidia/cu13/lib instead.
    """
    match = re.search(r"-cu(\d+)$", normalise(name))
    if match:
        return int(match.group(1))
    for f in files:
        match = re.match(r"nvidia/cu(\d+)/", str(f))
        if match:
            return int(match.group(1))
    return None


class Claim(NamedTuple):
    """One wheel's RECORD entry for a file."""

    spec: str  # name==version
    sha256: str | None
    cuda_major: int | None


@functools.lru_cache(maxsize=1)
def file_claims() -> dict[str, tuple[Claim, ...]]:
    """{real path of a shared object: the nvidia-* wheels whose RECORD lists it}."""
    claims: dict[str, list[Claim]] = {}
    for dist in distributions():
        name = normalise(dist.metadata["Name"] or "")
        if not name.startswith("nvidia-"):
            continue
        files = dist.files or []
        major = wheel_cuda_major(name, files)
        for f in files:
            if ".so" in str(f):
                path = os.path.realpath(str(dist.locate_file(f)))
                digest = f.hash.value if f.hash and f.hash.mode == "sha256" else None
                claims.setdefault(path, []).append(Claim(f"{name}=={dist.version}", digest, major))
    return {p: tuple(c) for p, c in claims.items()}


def record_hash(path: str) -> str:
    """A file's sha256 as RECORD writes it (urlsafe base64, no padding)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


@dataclass(frozen=True)
class Owner:
    """Which wheel's bytes are in a file, and which wheels claim it."""

    wheel: str | None
    cuda_major: int | None
    claimed_by: tuple[str, ...] = ()


def owner_of(path: str | None) -> Owner | None:
    """The wheel whose bytes are on disk at `path` (None: no nvidia-* wheel claims it).

    pip and uv let two wheels install the same file (nvidia-cudnn-cu12 and -cu13 both write
    nvidia/cudnn/lib/*); the one installed last silently overwrites the other. The RECORD of
    each lists the sha256 of its own copy, so hashing the file tells whose copy survived.
    """
    claims = file_claims().get(os.path.realpath(path)) if path else None
    if not claims:
        return None
    if len(claims) == 1:
        return Owner(claims[0].spec, claims[0].cuda_major)
    specs = tuple(c.spec for c in claims)
    try:
        digest: str | None = record_hash(str(path))
    except OSError:
        digest = None
    for claim in claims:
        if claim.sha256 and claim.sha256 == digest:
            return Owner(claim.spec, claim.cuda_major, specs)
    return Owner(None, None, specs)  # matches no RECORD: modified after installation
