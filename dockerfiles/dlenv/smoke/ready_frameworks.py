"""The CUDA readiness of PyTorch, TensorFlow and JAX, each checked the way it loads CUDA.

Each check_*() runs in a process of its own (readiness.py starts one per framework), imports
its framework, loads every CUDA library the framework would load at GPU start-up, the way the
framework finds it, and reads the framework's build information. It returns one JSON-ready
report (see new_report); a library that fails only for want of the NVIDIA driver is listed
under driver_only_failures, never as a problem.
"""

from __future__ import annotations

import ctypes
import glob
import importlib
import importlib.util
import os
import platform
import re
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import cudalibs
from cudalibs import Library

# Error texts that mean "no driver / no device" rather than a broken toolkit.
DRIVER_ERROR = re.compile(
    r"libcuda\.so|libnvidia-ml\.so|no NVIDIA driver|CUDA driver|cuInit|CUDA_ERROR_NO_DEVICE|"
    r"no CUDA-capable device|error 303|error 100|UNKNOWN ERROR \(303\)|kernel driver does not appear",
    re.IGNORECASE,
)
ERROR_LIMIT = 600  # characters of "error": the problems, short enough to read in a log line


def new_report(framework: str) -> dict[str, object]:
    """A readiness line with every field smoke.py and dlenv read, not yet judged."""
    report: dict[str, object] = {"ok": False, "framework": framework, "model": "readiness"}
    report.update(dict.fromkeys(("framework_version", "device", "device_name", "cuda", "cudnn")))
    for key in "architectures libraries libraries_missing driver_only_failures problems warnings".split():
        report[key] = []
    report.update(requested_device="cuda", seconds=0.0, error=None)
    return report


def error_text(problems: Sequence[str]) -> str | None:
    """The problems as one "error" string, cut to ERROR_LIMIT characters (None: no problem)."""
    text = "; ".join(problems)
    return (text[: ERROR_LIMIT - 3] + "...") if len(text) > ERROR_LIMIT else (text or None)


@dataclass
class Findings:
    """What one framework's check gathers before its verdict."""

    report: dict[str, object]
    libraries: list[Library] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    device: dict[str, object] = field(default_factory=lambda: {"available": False})
    driver_only: list[str] = field(default_factory=list)  # calls that failed only for want of a driver


def finish(found: Findings, expect_gpu: bool) -> dict[str, object]:
    """Judge the findings: ok when every required library loads and nothing else is wrong."""
    r = found.report
    libs = found.libraries
    missing = [lib.problem() for lib in libs if lib.required and lib.status not in ("ok", "driver_missing")]
    problems = list(found.problems)
    if missing:
        problems.insert(0, f"required CUDA libraries cannot be loaded: {', '.join(missing)}")
    if expect_gpu and not found.device.get("available"):
        problems.append(f"a GPU was expected but the framework sees none: {found.device.get('error', '')}")
    driver_only = list(
        dict.fromkeys([lib.soname for lib in libs if lib.status == "driver_missing"] + found.driver_only)
    )
    r.update(
        libraries=[lib.as_json() for lib in libs],
        libraries_missing=missing,
        driver_only_failures=driver_only,
        problems=problems,
        warnings=found.warnings,
        device_detail=found.device,
        device="cuda" if found.device.get("available") else None,
        ok=not problems,
        error=error_text(problems),
    )
    return r


def import_failed(found: Findings, module: str, exc: BaseException, expect_gpu: bool) -> dict[str, object]:
    """The report of a framework that does not even import (a missing library shows here)."""
    message = f"{type(exc).__name__}: {exc}"
    found.problems.append(f"import {module} failed: {message[:400]}")
    for soname in dict.fromkeys(re.findall(r"(lib[\w.+-]+\.so[\w.]*): cannot open", message)):
        status = "driver_missing" if soname in cudalibs.DRIVER_SONAMES else "missing"
        found.libraries.append(Library(f"import {module}", soname, status=status, error=message[:400]))
    return finish(found, expect_gpu)


def cuda_major(version: object) -> int | None:
    """ "12.5.1" -> 12; None when the framework has no CUDA build."""
    match = re.match(r"(\d+)", str(version)) if version else None
    return int(match.group(1)) if match else None


def major_minor(version: object) -> str | None:
    """ "12.5.1" -> "12.5", the form of `cuda` in a readiness line."""
    return ".".join(str(version).split(".")[:2]) if version else None


def inspect_libraries(libs: Iterable[Library], major: int | None, problems: list[str]) -> None:
    """Add each library's wheel and version; report copies of another CUDA major than the
    framework's, one problem per wheel (a wrong cuDNN is a dozen files)."""
    wrong: dict[tuple[str | None, int, tuple[str, ...]], list[str]] = {}
    for lib in libs:
        owner = cudalibs.owner_of(lib.path)
        if owner:
            lib.wheel, lib.file_claimed_by = owner.wheel, list(owner.claimed_by)
            if owner.cuda_major and major and owner.cuda_major != major:
                wrong.setdefault((owner.wheel, owner.cuda_major, owner.claimed_by), []).append(lib.soname)
        if lib.handle is None or lib.name.startswith("cudnn") or lib.soname in cudalibs.DRIVER_SONAMES:
            continue  # cuDNN is read in cudnn_libraries(); the driver has no toolkit version
        lib.version = cudalibs.library_version(lib.name, lib.handle)
        built = cudalibs.built_for_cuda(lib.name, lib.version)
        if built and major and built != major:
            problems.append(f"{lib.soname} ({lib.path}) is built for CUDA {built}; the framework for {major}")
    for (wheel, wheel_major, claimed), sonames in wrong.items():
        what = f"{sonames[0]} is the copy" if len(sonames) == 1 else f"{', '.join(sonames)} are the copies"
        by = f" (the files are claimed by {' and '.join(claimed)})" if claimed else ""
        problems.append(f"{what} from {wheel}, a CUDA {wheel_major} wheel; the framework is CUDA {major}{by}")


def cudnn_libraries(cudnn_major: int, dirs: Sequence[str], major: int | None, found: Findings) -> str | None:
    """Load libcudnn, the sub-libraries it dlopens at first use, and what those dlopen.

    Returns the loaded cuDNN's version ("9.28.0"), or None when it does not load.
    """
    main = cudalibs.find_and_load("cudnn", f"libcudnn.so.{cudnn_major}", dirs)
    found.libraries.append(main)
    if not main.path:
        return None
    folder = os.path.dirname(main.path)
    suffix = f".so.{cudnn_major}"
    subs = list(cudalibs.CUDNN9_SUBLIBS) if cudnn_major >= 9 else []
    for path in sorted(glob.glob(os.path.join(folder, f"libcudnn_*{suffix}"))):
        sub = os.path.basename(path)[len("libcudnn_") : -len(suffix)]
        subs += [sub] if sub not in subs else []
    for sub in subs:  # cuDNN opens them from its own folder
        required = sub in cudalibs.CUDNN9_SUBLIBS
        found.libraries.append(
            cudalibs.find_and_load(f"cudnn_{sub}", f"libcudnn_{sub}{suffix}", [folder], required=required)
        )
    if main.handle is None:
        return None
    version = cudalibs.library_version("cudnn", main.handle)
    main.version = version
    if not isinstance(version, dict):
        return None
    built = cudalibs.built_for_cuda("cudnn", version)
    if built and major and built != major:
        found.problems.append(
            f"cuDNN {version['version']} at {main.path} is a CUDA {built} build, not {major}"
        )
    # cuDNN dlopens cuBLASLt and NVRTC of ITS CUDA major for its runtime-compiled and fused
    # engines, through its RUNPATH (or a copy already loaded). cuDNN 9.10.2 (cu12) has RUNPATH
    # $ORIGIN/../../nvrtc/lib, but NVRTC lives in nvidia/cuda_nvrtc/lib: torch and JAX preload
    # NVRTC and hide that, TensorFlow does not. A warning: only those engines fail.
    graph = os.path.join(folder, f"libcudnn_graph{suffix}")
    search = cudalibs.dlopen_search_path(graph if os.path.exists(graph) else main.path)
    for kind in ("cublasLt", "nvrtc"):
        soname = cudalibs.CUDA_SONAMES.get(built or 0, {}).get(kind)
        if soname:
            lib = cudalibs.find_and_load(f"cudnn_needs_{kind}", soname, search, required=False)
            lib.note = "dlopened by cuDNN on demand (runtime-compiled and fused engines)"
            if lib.status != "ok":
                found.warnings.append(f"cuDNN cannot find {soname}: its on-demand engines will fail")
            found.libraries.append(lib)
    return cudalibs.cudnn_version_text(int(str(version["version"])))


def nvrtc_builtins(nvrtc: Library | None) -> Library | None:
    """NVRTC dlopens its builtins library from its own folder at the first compilation."""
    if nvrtc is None or not nvrtc.path:
        return None
    folder = os.path.dirname(nvrtc.path)
    candidates = [
        p for p in sorted(glob.glob(os.path.join(folder, "libnvrtc-builtins.so.*"))) if ".alt." not in p
    ]
    if not candidates:
        return Library("nvrtc_builtins", "libnvrtc-builtins.so.*", error=f"none next to {nvrtc.path}")
    return cudalibs.load_path("nvrtc_builtins", candidates[0], [folder])


def driver_library() -> Library:
    """libcuda.so.1 as every framework looks for it (not required: a build host has none)."""
    search = cudalibs.dlopen_search_path(sys.executable)
    return cudalibs.find_and_load("cuda_driver", "libcuda.so.1", search, required=False)


def nvidia_dirs() -> list[str]:
    """Every site-packages/nvidia/*/lib folder, in sys.path order."""
    dirs = [d for entry in sys.path for d in sorted(glob.glob(os.path.join(entry, "nvidia", "*", "lib")))]
    return list(dict.fromkeys(dirs))


# ----------------------------------------------------------------------------------- torch
# Linked only by some torch builds (NCCL, cuSPARSELt, NVSHMEM; cuFile optional).
TORCH_NEEDS_IF_LINKED = {
    "nccl": "libnccl.so.2",
    "cusparselt": "libcusparseLt.so.0",
    "nvshmem": "libnvshmem_host.so.3",
    "cufile": "libcufile.so.0",
}


def check_torch(expect_gpu: bool) -> dict[str, object]:
    """PyTorch: what `import torch` bound, what it loads lazily, its build and cuDNN checks.

    `import torch` CDLLs torch/lib/libtorch_global_deps.so (RTLD_GLOBAL; it NEEDs libcudart),
    then _preload_cuda_deps() loads, per library, the first sys.path/nvidia/<pkg>/lib/<glob>
    and only then nvidia/cu<major>/lib/<glob>. The globs do not pin the CUDA major: in a venv
    that also holds TensorFlow's CUDA 12 wheels, a CUDA 13 torch binds their libcusparse.so.12
    and libcurand.so.10. Whatever it bound is what linked_path() reports (found_via
    already_loaded), so a wrong copy shows up here as a CUDA-major problem.
    """
    found = Findings(new_report("pytorch"))
    r = found.report
    start = time.perf_counter()
    try:
        import torch
    except Exception as exc:  # an import failure is exactly what this check reports
        return import_failed(found, "torch", exc, expect_gpu)
    r["import_s"] = round(time.perf_counter() - start, 2)
    r["framework_version"] = torch.__version__
    r["cuda"] = major_minor(torch.version.cuda)
    major = cuda_major(torch.version.cuda)
    sonames = cudalibs.CUDA_SONAMES.get(major or 0)
    if sonames is None:
        what = "a ROCm build" if getattr(torch.version, "hip", None) else "not a CUDA build"
        found.problems.append(
            f"torch {torch.__version__} is {what} (torch.version.cuda: {torch.version.cuda})"
        )
        return finish(found, expect_gpu)
    try:  # the -gencode list torch was compiled with; needs no GPU (unlike get_arch_list on some)
        r["architectures"] = cudalibs.sorted_archs(torch._C._cuda_getArchFlags().split())
    except Exception as exc:
        found.problems.append(f"torch._C._cuda_getArchFlags() failed: {exc}")
    tlib = os.path.join(os.path.dirname(torch.__file__), "lib")
    torch_cuda = os.path.join(tlib, "libtorch_cuda.so")
    # A cross-check: third-party kernels in libtorch_cuda add more (sm_90a, sm_100a, ...).
    r["architectures_fatbin"] = cudalibs.fatbin_archs(torch_cuda)
    compiled = None
    try:  # torch's own cuDNN check compares these majors, not the CUDA build of cuDNN
        compiled = tuple(torch._C._cudnn.getCompileVersion())
        r["cudnn_build"] = ".".join(map(str, compiled))
    except Exception:
        pass
    try:
        runtime = torch.backends.cudnn.version()
        r["cudnn_available"] = bool(torch.backends.cudnn.is_available())
    except Exception as exc:
        runtime = None
        found.problems.append(f"torch.backends.cudnn.version() failed: {exc}")
    try:
        r["nccl"] = ".".join(map(str, torch.cuda.nccl.version()))
    except Exception as exc:
        r["nccl"] = f"unavailable: {exc}"
    # libtorch_cuda's DT_RPATH ($ORIGIN/../../nvidia/{cudnn,nccl,...,cu13}/lib) comes before
    # LD_LIBRARY_PATH; the folders _preload_cuda_deps() globs come after.
    dirs = cudalibs.dlopen_search_path(torch_cuda, extra=nvidia_dirs())
    r["search_path"] = dirs
    # cuSOLVER: NEEDed by libtorch_cuda_linalg.so, which loads at the first linear-algebra call.
    for kind in "cudart cublasLt cublas cufft curand cusparse cupti nvrtc nvjitlink cusolver".split():
        found.libraries.append(cudalibs.find_and_load(kind, sonames[kind], dirs))
    libs = glob.glob(os.path.join(tlib, "*.so"))
    needs = {n for p in libs for n in getattr(cudalibs.read_elf(p), "needed", ())}
    for kind, soname in TORCH_NEEDS_IF_LINKED.items():
        if soname in needs or cudalibs.linked_path(soname):
            found.libraries.append(cudalibs.find_and_load(kind, soname, dirs, required=kind != "cufile"))
    builtins = nvrtc_builtins(next((lib for lib in found.libraries if lib.name == "nvrtc"), None))
    found.libraries += [builtins] if builtins else []
    cudnn_major = (compiled[0] if compiled else None) or 9
    cudnn = cudnn_libraries(int(cudnn_major), dirs, major, found)
    r["cudnn"] = cudnn or (cudalibs.cudnn_version_text(runtime) if isinstance(runtime, int) else None)
    for name in ("libtorch_cuda_linalg.so", "libcaffe2_nvrtc.so"):  # torch's own, loaded lazily
        if os.path.exists(os.path.join(tlib, name)):
            found.libraries.append(cudalibs.load_path(name, os.path.join(tlib, name), dirs))
    found.libraries.append(driver_library())
    inspect_libraries(found.libraries, major, found.problems)
    if isinstance(runtime, int) and compiled and compiled[0] not in (runtime // 10000, runtime // 1000):
        found.problems.append(f"cuDNN runtime {runtime} does not match torch's build {r.get('cudnn_build')}")
    found.device = torch_device(torch, r, found.problems)
    return finish(found, expect_gpu)


def torch_device(torch: Any, r: dict[str, object], problems: list[str]) -> dict[str, object]:
    """torch's view of the GPU: none here says why (no driver); one must be in `architectures`."""
    cuda = torch.cuda
    device: dict[str, object] = {"available": bool(cuda.is_available())}
    if not device["available"]:
        try:
            cuda.init()
        except Exception as exc:
            device["error"] = str(exc)[:500]
            device["driver_missing"] = bool(DRIVER_ERROR.search(str(exc)))
        return device
    device["count"] = cuda.device_count()
    caps = [tuple(cuda.get_device_capability(i)) for i in range(int(str(device["count"])))]
    device["capabilities"] = [f"{a}.{b}" for a, b in caps]
    r["device_name"] = cuda.get_device_name(0)
    archs = r.get("architectures") or []
    if caps and isinstance(archs, list) and not cudalibs.covers(archs, caps[0]):
        problems.append(f"torch has no kernels for the GPU's compute capability {caps[0][0]}.{caps[0][1]}")
    return device


# ------------------------------------------------------------------------------ tensorflow
def _absl_status(rep: int) -> tuple[int, str | None]:
    """Decode an absl::Status: its one word is `code << 2 | 1` when inlined (OK is 1), else a
    pointer to a StatusRep {int32 refcount; int32 code; std::string message; ...}, whose
    libstdc++ string is {char* data; size_t size; ...}."""
    if rep & 1:
        return rep >> 2, None
    try:
        code = ctypes.c_int32.from_address(rep + 4).value
        data = ctypes.c_void_p.from_address(rep + 8).value
        size = ctypes.c_size_t.from_address(rep + 16).value
        text = ctypes.string_at(data, size).decode(errors="replace") if data and size < 65536 else None
        return code, text
    except (ValueError, OSError):
        return -1, None


# tsl DsoLoader name -> our kind; the first seven are those TryDlopenCUDALibraries() needs.
TF_LOADERS = dict(
    pair.split("=")
    for pair in "CudaRuntime=cudart Cublas=cublas CublasLt=cublasLt Cufft=cufft Cusolver=cusolver "
    "Cusparse=cusparse Cudnn=cudnn Cupti=cupti Nccl=nccl Nvshmem=nvshmem CudaDriver=cuda_driver".split()
)


def tf_dso_loader(framework_lib: str) -> dict[str, dict[str, object]]:
    """Call TensorFlow's own tsl::internal::DsoLoader::Get<Lib>DsoHandle() functions.

    They are exported C++ functions returning absl::StatusOr<void*> through a hidden pointer,
    which x86-64 passes as the first argument (so ctypes can call them; aarch64 passes it in
    x8, so there this is skipped). Calling them before this check loads anything itself gives
    exactly TF's loader, RUNPATH and soname choices at GPU start-up.
    """
    if platform.machine() not in ("x86_64", "AMD64"):
        return {}
    try:
        lib = ctypes.CDLL(framework_lib)
    except OSError as exc:
        return {"load": {"ok": False, "error": str(exc)}}
    out: dict[str, dict[str, object]] = {}
    names = [f"Get{name}DsoHandle" for name in TF_LOADERS] + ["TryDlopenCUDALibraries"]
    for name in names:
        try:
            fn = getattr(lib, f"_ZN3tsl8internal9DsoLoader{len(name)}{name}Ev")
        except AttributeError:
            continue  # not in this TF version
        fn.restype, fn.argtypes = None, [ctypes.c_void_p]
        result = (ctypes.c_uint64 * 8)()  # sizeof(StatusOr<void*>) is 16; room to spare
        fn(ctypes.addressof(result))
        code, message = _absl_status(int(result[0]))
        out[name.removeprefix("Get").removesuffix("DsoHandle")] = {"ok": code == 0, "error": message}
    return out


def check_tensorflow(expect_gpu: bool) -> dict[str, object]:
    """TensorFlow: its own DSO loader's verdict, each library it dlopens, its build info.

    `import tensorflow` loads no CUDA library. At GPU start-up gpu_device.cc calls
    DsoLoader::MaybeTryDlopenGPULibraries(); if any of cudart, cuBLAS(Lt), cuFFT, cuSOLVER,
    cuSPARSE or cuDNN fails it logs "Cannot dlopen some GPU libraries" and registers no GPU.
    Those dlopen() calls are made from libtensorflow_framework.so.2, so the search path is
    LD_LIBRARY_PATH and then ITS RUNPATH (2.21.0's lacks nvidia/cusolver/lib).
    """
    found = Findings(new_report("tensorflow"))
    r = found.report
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    start = time.perf_counter()
    try:
        import tensorflow as tf
    except Exception as exc:
        return import_failed(found, "tensorflow", exc, expect_gpu)
    r["import_s"] = round(time.perf_counter() - start, 2)
    r["framework_version"] = tf.__version__
    info = dict(tf.sysconfig.get_build_info())
    r["build_info"] = info
    r["cuda"] = major_minor(info.get("cuda_version"))
    r["cudnn_build"] = info.get("cudnn_version")
    archs = cudalibs.sorted_archs(info.get("cuda_compute_capabilities") or [])
    r["architectures"] = archs
    major = cuda_major(info.get("cuda_version"))
    sonames = cudalibs.CUDA_SONAMES.get(major or 0)
    if not info.get("is_cuda_build") or sonames is None:
        found.problems.append(f"tensorflow {tf.__version__} is not a CUDA build this check knows")
        return finish(found, expect_gpu)
    tfdir = os.path.dirname(tf.__file__)
    framework_lib = os.path.join(tfdir, "libtensorflow_framework.so.2")
    cc = os.path.join(tfdir, "libtensorflow_cc.so.2")
    r["architectures_fatbin"] = cudalibs.fatbin_archs(cc) if os.path.exists(cc) else None
    dso = tf_dso_loader(framework_lib)  # first, before this check maps anything itself
    r["tf_dso_loader"] = dso
    tried = dso.get("TryDlopenCUDALibraries")
    if tried and not tried["ok"]:
        failed = [f"{n}: {dso[n]['error']}" for n in list(TF_LOADERS)[:7] if not dso.get(n, {}).get("ok")]
        found.problems.append(
            "TensorFlow's TryDlopenCUDALibraries() fails, so on a GPU it would log 'Cannot dlopen some "
            f"GPU libraries' and use no GPU: {'; '.join(failed)} (TF searches LD_LIBRARY_PATH, then "
            "the RUNPATH of libtensorflow_framework.so.2)"
        )
    dirs = cudalibs.dlopen_search_path(framework_lib)
    r["search_path"] = dirs
    loaders = {kind: name for name, kind in TF_LOADERS.items()}
    for kind in ("cudart", "cublas", "cublasLt", "cufft", "cusolver", "cusparse", "cupti"):
        lib = cudalibs.find_and_load(kind, sonames[kind], dirs, required=kind != "cupti")
        verdict = dso.get(loaders[kind])
        if verdict is not None:
            lib.details["tf_dso_loader_ok"] = verdict["ok"]
            if not verdict["ok"] and lib.status == "ok":  # TF's own loader is the judge
                lib.status, lib.error = "not_on_search_path", str(verdict["error"])
        found.libraries.append(lib)
    found.libraries.append(cudalibs.find_and_load("nccl", "libnccl.so.2", dirs, required=False))
    cudnn_major = cuda_major(info.get("cudnn_version")) or 9
    r["cudnn"] = cudnn_libraries(cudnn_major, dirs, major, found) or info.get("cudnn_version")
    found.libraries.append(driver_library())
    inspect_libraries(found.libraries, major, found.problems)
    try:
        gpus = tf.config.list_physical_devices("GPU")
        found.device = {"available": bool(gpus), "count": len(gpus)}
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            r["device_name"] = str(details.get("device_name", gpus[0].name))
            capability = details.get("compute_capability")
            if capability and not cudalibs.covers(archs, (int(capability[0]), int(capability[1]))):
                found.problems.append(f"TensorFlow has no kernels for compute capability {capability}")
        else:
            found.device["driver_missing"] = found.libraries[-1].status != "ok"
    except Exception as exc:
        found.device = {"available": False, "error": str(exc)[:500]}
    return finish(found, expect_gpu)


# ------------------------------------------------------------------------------------- jax
# (label, key in the plugin's cuda_versions module, version scale, minimum) as the plugin's own
# _check_cuda_versions() has them; a minimum of 0 means "build_version // scale".
JAX_VERSION_CHECKS = (
    ("CUDA", "cuda_runtime", 10, None),
    ("cuDNN", "cudnn", 100, 0),
    ("cuFFT", "cufft", 100, 0),
    ("cuPTI", "cupti", 1, 18),
    ("cuBLAS", "cublas", 100, 120100),
    ("cuSPARSE", "cusparse", 100, 12100),
    ("cuSOLVER", "cusolver", 100, 0),  # disabled upstream: reported, not judged
)
# Divisor to a major, for our same-major check on top of the plugin's.
JAX_MAJOR_DIVISOR = {"CUDA": 1000, "cuDNN": 10000, "cuBLAS": 10000, "cuFFT": 1000, "cuSPARSE": 1000}
# The folders the plugin's _load_nvidia_libraries() loads from, by full path.
JAX_PRELOAD_PACKAGES = "cuda_runtime cuda_nvrtc cublas cuda_cupti cusparse cusolver cufft nvjitlink".split()


def jax_version_checks(cv: Any, plugin_major: int, found: Findings) -> list[dict[str, object]]:
    """The plugin's own version checks, plus a same-major check it lacks.

    The plugin compares `build_version // scale` with the UNSCALED runtime version, so any
    loadable cuDNN or cuFFT passes it (cuDNN: 908 <= 92800); hence the same-major check.
    """
    checks: list[dict[str, object]] = []
    for label, key, scale, minimum in JAX_VERSION_CHECKS:
        check: dict[str, object] = {"name": label}
        try:
            build = int(getattr(cv, f"{key}_build_version")())
            version = int(getattr(cv, f"{key}_get_version")())
            if minimum is None:  # the CUDA runtime's floor is fixed per plugin
                minimum = 12010 if plugin_major == 12 else 13000
            floor = minimum or build // scale
            check.update(build_version=build, version=version, minimum_supported=floor)
            check["passed"] = floor <= version
            divisor = JAX_MAJOR_DIVISOR.get(label)
            if divisor:
                check["same_major"] = version // divisor == build // divisor
                if not check["same_major"]:
                    found.problems.append(f"{label} runtime {version}: another major than JAX's {build}")
        except Exception as exc:
            check.update(passed=False, error=f"Unable to load {label}: {str(exc)[:300]}")
            if label == "cuPTI" and not driver_loadable():
                # CUPTI 13 asks the driver for its version: without one it answers 999 (unknown
                # error) although libcupti loaded; the library check below still judges it.
                check.update(passed=None, note="needs the driver (no libcuda.so.1 here)")
                found.driver_only.append("cuptiGetVersion")
        if label == "cuSOLVER":
            check["note"] = "not checked by the plugin itself (disabled upstream)"
        elif check.get("passed") is False:
            found.problems.append(f"JAX version check {label} failed: {check.get('error') or check}")
        checks.append(check)
    return checks


def driver_loadable() -> bool:
    """libcuda.so.1 (the driver's, from the container toolkit) can be loaded in this process."""
    import ctypes

    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    return True


def check_jax(expect_gpu: bool) -> dict[str, object]:
    """JAX: its CUDA plugin's own start-up (preload, version checks), libraries, toolchain.

    Plugin discovery calls jax_plugins.xla_cudaNN.initialize(): _load_nvidia_libraries()
    CDLLs nvidia.<pkg>/lib/<soname> by full path (and the nvidia/cu13/lib copies too, when
    there are any, even in the cuda12 plugin), then _check_cuda_versions(), then registers
    xla_cuda_plugin.so, whose RPATH has no cuSOLVER: it relies on that preload.
    """
    found = Findings(new_report("jax"))
    r = found.report
    # On a GPU, jax.devices() below would take 75% of its memory for the rest of this process.
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    start = time.perf_counter()
    try:
        import jax
    except Exception as exc:
        return import_failed(found, "jax", exc, expect_gpu)
    r["import_s"] = round(time.perf_counter() - start, 2)
    r["framework_version"] = jax.__version__
    r["jaxlib_version"] = cudalibs.dist_version("jaxlib")
    name = next((f"jax_plugins.xla_cuda{n}" for n in (13, 12) if _findable(f"jax_plugins.xla_cuda{n}")), None)
    if name is None:
        found.problems.append("no JAX CUDA plugin (jax-cuda12-plugin or jax-cuda13-plugin): a CPU-only jax")
        return finish(found, expect_gpu)
    plugin = importlib.import_module(name)
    r["plugin"], pmajor = name, int(name[-2:])
    pdir = os.path.dirname(str(plugin.__file__))
    try:  # what initialize() does first, in its order
        plugin._load_nvidia_libraries()
        plugin._import_extensions()
    except Exception as exc:
        found.problems.append(f"the plugin's library preload failed: {exc}")
    cv = getattr(plugin, "cuda_versions", None)
    if cv is None:
        found.problems.append(f"the plugin's version module jax_cuda{pmajor}_plugin._versions did not import")
        checks: list[dict[str, object]] = []
    else:
        checks = jax_version_checks(cv, pmajor, found)
        try:
            r["cuda_driver_version"] = cv.cuda_driver_get_version()
        except Exception as exc:
            r["cuda_driver_version"] = f"unavailable: {str(exc)[:200]}"
    r["version_checks"] = checks
    got = {(str(c["name"]), k): v for c in checks for k, v in c.items() if isinstance(v, int)}
    r["cuda"] = cudalibs.cuda_version_text(got.get(("CUDA", "build_version")))
    r["cuda_runtime"] = cudalibs.cuda_version_text(got.get(("CUDA", "version")))
    cudnn_build = got.get(("cuDNN", "build_version"))
    r["cudnn_build"] = cudalibs.cudnn_version_text(cudnn_build)
    jax_plugin_check(plugin, r, found)
    site_packages = [os.path.dirname(os.path.dirname(pdir)), *cudalibs.site_dirs()]
    dirs = jax_dirs(site_packages, pmajor)
    r["search_path"] = dirs
    sonames = cudalibs.CUDA_SONAMES[pmajor]
    for kind in "cudart nvrtc cublas cublasLt cupti cusparse cusolver cufft nvjitlink".split():
        found.libraries.append(cudalibs.find_and_load(kind, sonames[kind], dirs))
    found.libraries.append(cudalibs.find_and_load("nccl", "libnccl.so.2", dirs))
    found.libraries.append(cudalibs.find_and_load("nvshmem", "libnvshmem_host.so.3", dirs, required=False))
    builtins = nvrtc_builtins(next((lib for lib in found.libraries if lib.name == "nvrtc"), None))
    found.libraries += [builtins] if builtins else []
    cudnn_major = cudnn_build // 10000 if cudnn_build and cudnn_build >= 10000 else 9
    r["cudnn"] = cudnn_libraries(cudnn_major, dirs, pmajor, found)
    r["xla_toolchain"] = xla_toolchain(site_packages, pmajor, found.problems)
    found.libraries.append(driver_library())
    inspect_libraries(found.libraries, pmajor, found.problems)
    # No build-info API: the plugin's precompiled kernels, from its fatbins. XLA itself
    # generates PTX/SASS for whichever GPU it finds.
    archs: set[str] = set()
    kernels = glob.glob(os.path.join(site_packages[0], f"jax_cuda{pmajor}_plugin", "*.so"))
    for path in [os.path.join(pdir, "xla_cuda_plugin.so"), *kernels]:
        archs.update(cudalibs.fatbin_archs(path) or [])
    r["architectures"] = cudalibs.sorted_archs(archs)
    r["architectures_note"] = "precompiled kernels in the plugin; XLA compiles for the GPU it finds"
    try:
        devices = jax.devices("cuda")
        found.device = {"available": True, "count": len(devices), "devices": [str(d) for d in devices]}
        r["device_name"] = str(getattr(devices[0], "device_kind", devices[0]))
    except Exception as exc:
        plugin_check = r.get("plugin_check")
        driver = isinstance(plugin_check, dict) and bool(plugin_check.get("driver_missing"))
        found.device = {"available": False, "error": str(exc)[:300], "driver_missing": driver}
    return finish(found, expect_gpu)


def _findable(module: str) -> bool:
    """Whether a module can be imported, without importing it (nor failing on its parent)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # the parent package (jax_plugins) is not installed
        return False


def jax_plugin_check(plugin: Any, r: dict[str, object], found: Findings) -> None:
    """The plugin's full check, as initialize() runs it: without a driver it must fail ONLY at
    cuda_device_count() (cuInit 303, worded "JAX was unable to load the CUDA libraries")."""
    try:
        plugin._check_cuda_versions(raise_on_first_error=False)
        r["plugin_check"] = {"ok": True}
    except Exception as exc:
        message = str(exc)
        driver = bool(re.search("cuInit|device_count", message)) and not re.search(
            "Unable to load|Outdated", message
        )
        r["plugin_check"] = {"ok": False, "error": message[:1500], "driver_missing": driver}
        if not driver:
            found.problems.append("jax plugin _check_cuda_versions: " + message[:400])


def jax_dirs(site_packages: Sequence[str], pmajor: int) -> list[str]:
    """Where the plugin's preload looks: nvidia/<pkg>/lib, or nvidia/cu13/lib for CUDA 13."""
    packages = [*JAX_PRELOAD_PACKAGES, "nccl", "nvshmem", "cudnn", f"cu{pmajor}"]
    dirs = []
    for sp in site_packages:
        for package in packages:
            folder = os.path.join(sp, "nvidia", package, "lib")
            if pmajor >= 13 and package in JAX_PRELOAD_PACKAGES:
                continue  # the CUDA 13 wheels put all of these in nvidia/cu13/lib
            if os.path.isdir(folder):
                dirs.append(folder)
    return list(dict.fromkeys(dirs))


def xla_toolchain(site_packages: Sequence[str], pmajor: int, problems: list[str]) -> dict[str, object]:
    """XLA compiles kernels at run time for the GPU it finds: it needs ptxas and libdevice."""
    for sp in site_packages:
        for base in (os.path.join(sp, "nvidia", "cuda_nvcc"), os.path.join(sp, "nvidia", f"cu{pmajor}")):
            ptxas = os.path.join(base, "bin", "ptxas")
            if os.path.exists(ptxas):
                libdevice = glob.glob(os.path.join(base, "nvvm", "libdevice", "libdevice*.bc"))
                if not libdevice:
                    problems.append(f"libdevice.10.bc not found next to {ptxas}")
                found = {"ptxas": ptxas, "ptxas_executable": os.access(ptxas, os.X_OK)}
                return {**found, "libdevice": libdevice[0] if libdevice else None}
    problems.append(f"ptxas not found (nvidia-cuda-nvcc-cu{pmajor} missing): XLA cannot compile GPU kernels")
    return {"ptxas": None}


CHECKS = {"pytorch": check_torch, "tensorflow": check_tensorflow, "jax": check_jax}
