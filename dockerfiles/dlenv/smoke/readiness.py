"""CUDA readiness check: prove, without a GPU, that a CUDA image is correctly composed.

    /opt/venv/bin/python readiness.py [--framework pytorch,tensorflow,jax,keras] [--expect-gpu]

prints one JSON line per framework and one "image" line, and exits 0 when every line is ok.
For each framework, in a process of its own (ready_frameworks.py): every CUDA library it loads
at GPU start-up can be found the way it finds it and loaded with RTLD_NOW; its build CUDA,
cuDNN and GPU architectures are read; its own version checks pass. For the image: the nvidia-*
wheels hold one CUDA major and one cuDNN, no file is claimed by two wheels, and `pip check`
(plus the requirements behind extras, which pip check skips) is clean. What fails only for
want of the NVIDIA driver (libcuda.so.1, cuInit) is reported, never a problem: --expect-gpu,
for a GPU host, also requires a usable device. smoke.py calls check() and gpu_present().
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import glob
import importlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
import traceback
from collections.abc import Sequence
from typing import Any

import cudalibs
from ready_frameworks import error_text, new_report

# dlenv's framework names the check covers -> the module each imports.
COVERED = {"pytorch": "torch", "tensorflow": "tensorflow", "jax": "jax", "keras": "keras"}
KERAS_BACKENDS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "pytorch"}  # keras name -> dlenv's
MARK = "DLENV_READINESS_JSON "  # a child's result line; frameworks print to stdout too


# ------------------------------------------------------------------------------------- API
def check(
    frameworks: Sequence[str], *, expect_gpu: bool = False, timeout: float = 300
) -> list[dict[str, object]]:
    """One readiness line per framework (dlenv's names), in order, then one "image" line.

    Each framework is checked in a child process of its own (`timeout` seconds each), so no
    framework's libraries can stand in for another's. Keras is as ready as its backend.
    """
    names = list(dict.fromkeys("pytorch" if f == "torch" else f for f in frameworks if f))
    results: dict[str, dict[str, object]] = {}
    for name in names:
        if name in COVERED and name != "keras":
            results[name] = run_child(name, expect_gpu, timeout)
        elif name not in COVERED:
            results[name] = not_covered(name)
    if "keras" in names:
        results["keras"] = keras_verdict(
            run_child("keras", expect_gpu, timeout), results, expect_gpu, timeout
        )
    return [results[name] for name in names] + [run_child("image", expect_gpu, timeout)]


def gpu_present() -> bool:
    """Whether an NVIDIA driver and at least one device are usable here (cuInit succeeds).

    Cheap: a child process loads libcuda.so.1 and asks it, importing no framework and leaving
    this process without an initialised CUDA (which a later fork would inherit badly).
    """
    probe = driver_probe()
    return probe.get("cuInit") == 0 and bool(probe.get("devices"))


@functools.lru_cache(maxsize=1)
def driver_probe() -> dict[str, object]:
    """probe_driver()'s answer, from a child process (cached: it does not change)."""
    command = [sys.executable, os.path.abspath(__file__), "--probe-driver"]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=120)
        answer: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
        return answer
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        return {"cuInit": None, "devices": 0, "error": f"the driver probe failed: {exc}"}


def probe_driver() -> dict[str, object]:
    """Load libcuda.so.1 the way a framework does and ask it for its devices, in this process.

    cuInit returns 100 (no device) or 303/999 (no usable kernel driver) in a container that
    has the driver's libraries but no GPU.
    """
    out: dict[str, object] = {"libcuda": None, "cuInit": None, "driver_version": None, "devices": 0}
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError as exc:
        out["error"] = str(exc)
        return out
    out["libcuda"] = cudalibs.linked_path("libcuda.so.1")
    try:
        cuda.cuInit.restype = ctypes.c_int
        out["cuInit"] = rc = int(cuda.cuInit(ctypes.c_uint(0)))
        version, count = ctypes.c_int(0), ctypes.c_int(0)
        if cuda.cuDriverGetVersion(ctypes.byref(version)) == 0:
            out["driver_version"] = cudalibs.cuda_version_text(version.value)  # the CUDA it supports
        if rc != 0 or cuda.cuDeviceGetCount(ctypes.byref(count)) != 0:
            return out
        out["devices"] = count.value
        names = []
        for i in range(count.value):
            device, name = ctypes.c_int(0), ctypes.create_string_buffer(256)
            if cuda.cuDeviceGet(ctypes.byref(device), ctypes.c_int(i)) == 0:
                cuda.cuDeviceGetName(name, ctypes.c_int(256), device)
                names.append(name.value.decode(errors="replace"))
        out["device_names"] = names
    except AttributeError as exc:  # a libcuda.so.1 that is not NVIDIA's (a stub)
        out["error"] = str(exc)
    return out


# -------------------------------------------------------------------------- child processes
def run_child(name: str, expect_gpu: bool, timeout: float) -> dict[str, object]:
    """Check one framework (or "image", "keras") in a fresh interpreter; its one result line."""
    command = [sys.executable, os.path.abspath(__file__), "--one", name] + ["--expect-gpu"] * expect_gpu
    start = time.perf_counter()
    try:
        proc = subprocess.run(command, capture_output=True, text=True, errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired:
        report = failed(name, f"the readiness check did not finish within {timeout:g} s")
    else:
        line = next((ln for ln in reversed(proc.stdout.splitlines()) if ln.startswith(MARK)), None)
        if line is not None:
            report = json.loads(line[len(MARK) :])
        else:  # e.g. a framework that segfaults on import
            how = (
                f"was killed by signal {-proc.returncode}"
                if proc.returncode < 0
                else f"exited {proc.returncode}"
            )
            report = failed(name, f"the readiness check process {how} without a result")
            report["stderr_tail"] = proc.stderr[-2000:]
    report["seconds"] = round(time.perf_counter() - start, 2)
    return report


def child(name: str, expect_gpu: bool) -> int:
    """The child's side of run_child(): run one check, print its line after MARK."""
    try:
        if name == "image":
            report = check_image(expect_gpu)
        elif name == "keras":
            report = check_keras()
        else:
            import ready_frameworks

            report = ready_frameworks.CHECKS[name](expect_gpu)
    except Exception as exc:  # a crash of the check itself is a result too, and must say so
        report = failed(name, f"the readiness check itself failed: {type(exc).__name__}: {exc}")
        report["traceback"] = traceback.format_exc()[-3000:]
    sys.stdout.flush()
    # On a line of its own: a framework's C code may have left a partial line on stdout.
    sys.stdout.write("\n" + MARK + json.dumps(report, default=str) + "\n")
    sys.stdout.flush()
    return 0


def failed(name: str, problem: str) -> dict[str, object]:
    """A line for a check that produced no report of its own."""
    report = new_report(name)
    report.update(problems=[problem], error=error_text([problem]))
    return report


def not_covered(name: str) -> dict[str, object]:
    """The line for a framework this check does not know (e.g. mxnet): ok, and says so."""
    report = new_report(name)
    report.update(ok=True, framework_version=cudalibs.dist_version(name))
    report["note"] = f"the CUDA readiness check does not cover {name}"
    return report


# ----------------------------------------------------------------------------------- keras
def check_keras() -> dict[str, object]:
    """Keras loads no CUDA library of its own: find which backend it imports (KERAS_BACKEND,
    else ~/.keras/keras.json, else tensorflow), and that it imports with it."""
    report = new_report("keras")
    try:
        import keras
    except Exception as exc:
        backend = os.environ.get("KERAS_BACKEND") or "tensorflow (Keras' default)"
        problem = (
            f"import keras failed with backend {backend}: {type(exc).__name__}: {str(exc)[:300]}; "
            "KERAS_BACKEND must name an installed framework"
        )
        if isinstance(exc, ModuleNotFoundError) and exc.name == "keras":
            problem = "keras is not installed"
        report.update(problems=[problem], error=error_text([problem]))
        return report
    report.update(framework_version=keras.__version__, backend=keras.backend.backend(), ok=True)
    return report


def keras_verdict(
    report: dict[str, object], results: dict[str, dict[str, object]], expect_gpu: bool, timeout: float
) -> dict[str, object]:
    """Keras' line judged by its backend's: the backend's line if there is one, else a check
    of its own; the backend's CUDA, cuDNN, architectures and libraries are copied in."""
    if report.get("backend") is None:
        return report  # keras itself did not import: already judged
    backend = str(report["backend"])
    name = KERAS_BACKENDS.get(backend)
    if name is None:
        problems = [
            f"keras backend {backend} has no CUDA support (set KERAS_BACKEND to tensorflow, jax or torch)"
        ]
    else:
        line = results.get(name)
        if line is None:
            line = run_child(name, expect_gpu, timeout)
            report["seconds"] = float(str(report.get("seconds") or 0)) + float(str(line.get("seconds") or 0))
        copied = ("framework_version", "cuda", "cudnn", "architectures", "device", "device_name", "libraries")
        report.update({f"backend_{k}" if k == "framework_version" else k: line.get(k) for k in copied})
        for key in ("libraries_missing", "driver_only_failures", "warnings"):
            report[key] = line.get(key) or []
        problems = [] if line.get("ok") else [f"keras backend {backend} is not ready: {line.get('error')}"]
    report.update(problems=problems, ok=not problems, error=error_text(problems))
    return report


# ----------------------------------------------------------------------------------- image
def check_image(expect_gpu: bool) -> dict[str, object]:
    """The venv as a whole: CUDA majors, cuDNN copies, files two wheels claim, duplicate
    sonames, pip check and the extras pip check skips, and what of a driver there is."""
    report = new_report("image")
    problems: list[str] = []
    warnings: list[str] = []
    report.update(python=sys.version.split()[0], executable=sys.executable)
    inventory, cudnn = wheel_inventory(problems, warnings)
    report.update(inventory)
    report["cudnn_on_disk"] = cudnn_on_disk(cudnn, problems)
    report["file_conflicts"] = file_conflicts(problems)
    report["duplicate_sonames"] = duplicate_sonames(problems, warnings)
    report["pip_check"] = pip_check(problems, warnings)
    try:
        requested, unmet = extras_check()
        report["extras_check"] = {"ok": not unmet, "extras_checked": requested, "output": unmet}
        if unmet:
            problems.append(
                "requirements behind extras are not met (pip check skips extras): " + "; ".join(unmet[:4])
            )
    except Exception as exc:  # packaging missing, odd metadata: reported, not judged
        report["extras_check"] = {"ok": None, "output": f"could not run: {exc}"}
    probe = probe_driver()
    report["driver"] = {
        **probe,
        "dev_nodes": sorted(glob.glob("/dev/nvidia*")),
        "env": {k: v for k, v in os.environ.items() if k.startswith(("NVIDIA_", "CUDA_"))},
        "ld_library_path": os.environ.get("LD_LIBRARY_PATH"),
    }
    names = probe.get("device_names")
    if probe.get("cuInit") == 0 and probe.get("devices"):
        report.update(device="cuda", device_name=names[0] if isinstance(names, list) and names else None)
    elif expect_gpu:
        why = f"cuInit returned {probe['cuInit']}" if probe.get("cuInit") is not None else probe.get("error")
        problems.append(f"a GPU was expected but the driver reports none ({why})")
    report.update(problems=problems, warnings=warnings, ok=not problems, error=error_text(problems))
    return report


def is_cuda_wheel(name: str) -> bool:
    """nvidia-* wheels, plus NVIDIA's cuda-toolkit metapackage and cuda-bindings (listed with them)."""
    return name.startswith("nvidia-") or name in ("cuda-toolkit", "cuda-bindings")


def wheel_inventory(problems: list[str], warnings: list[str]) -> tuple[dict[str, object], list[str]]:
    """The CUDA wheels (versions, installed bytes, CUDA majors, files missing from disk), and
    the cuDNN distributions among them."""
    wheels: list[str] = []
    majors: dict[str, list[str]] = {}
    sizes: dict[str, int] = {}
    cudnn: list[str] = []
    runtimes: list[str] = []
    for dist in cudalibs.distributions():
        name = cudalibs.normalise(dist.metadata["Name"] or "")
        if not is_cuda_wheel(name):
            continue
        files = dist.files or []
        size, gone = 0, []
        for f in files:
            try:
                size += os.path.getsize(str(dist.locate_file(f)))
            except OSError:
                gone += [] if "__pycache__" in str(f) else [str(f)]
        spec = f"{name}=={dist.version}"
        wheels.append(spec)
        sizes[name] = size
        if gone:
            problems.append(f"{spec}: {len(gone)} installed file(s) missing from disk: {', '.join(gone[:4])}")
        major = cudalibs.wheel_cuda_major(name, files)
        if major and any(".so" in str(f) or "/bin/" in str(f) or str(f).endswith(".bc") for f in files):
            majors.setdefault(str(major), []).append(name)
        if name.startswith("nvidia-cudnn"):
            cudnn.append(spec)
        if name.startswith("nvidia-cuda-runtime"):
            runtimes.append(".".join(dist.version.split(".")[:2]))
    if len(majors) > 1:
        counts = ", ".join(f"{k} ({len(v)} wheels)" for k, v in sorted(majors.items()))
        problems.append(f"the nvidia wheels hold more than one CUDA major: {counts}")
    if len(cudnn) > 1:
        problems.append(f"more than one cuDNN distribution installed: {', '.join(cudnn)}")
    if not wheels:
        warnings.append("no nvidia-* CUDA wheels installed (CUDA from the system, or a CPU-only image)")
    fields: dict[str, object] = {
        "cuda": ", ".join(sorted(set(runtimes))) or None,
        "cudnn": ", ".join(c.split("==")[1] for c in cudnn) or None,
        "nvidia_wheels": sorted(wheels),
        "nvidia_wheel_sizes": dict(sorted(sizes.items())),
        "nvidia_total_bytes": sum(sizes.values()),
        "cuda_majors": {k: sorted(v) for k, v in sorted(majors.items())},
        "cudnn_versions": cudnn,
    }
    return fields, cudnn


def cudnn_on_disk(dists: list[str], problems: list[str]) -> list[dict[str, str]]:
    """cuDNN headers and libraries on disk, which say whose copy survived an overwrite."""
    found = []
    for sp in cudalibs.site_dirs():
        for header in glob.glob(os.path.join(sp, "nvidia", "*", "include", "cudnn_version.h")):
            try:
                text = open(header).read()
                parts = [
                    re.search(rf"#define CUDNN_{k}\s+(\d+)", text) for k in ("MAJOR", "MINOR", "PATCHLEVEL")
                ]
                found.append({"header": header, "version": ".".join(m.group(1) for m in parts if m)})
            except OSError:
                pass
        found += [
            {"library": so} for so in glob.glob(os.path.join(sp, "nvidia", "*", "lib", "libcudnn.so.*"))
        ]
    headers = {d["version"] for d in found if "version" in d}
    declared = {".".join(c.split("==")[1].split(".")[:3]) for c in dists}
    if declared and headers and (not headers <= declared or len(headers) > 1):
        problems.append(
            f"cuDNN on disk ({', '.join(sorted(headers))}) is not the installed {', '.join(dists)}"
        )
    return found


def owners_by_file() -> dict[str, list[str]]:
    """{real path: the distributions whose RECORD lists it}, for every installed file."""
    owners: dict[str, list[str]] = {}
    for dist in cudalibs.distributions():
        name = cudalibs.normalise(dist.metadata["Name"] or "")
        for f in dist.files or []:
            text = str(f)
            if (
                "__pycache__" in text
                or text.endswith("__init__.py")
                or ".dist-info/" in text
                or text.startswith("..")
            ):
                continue  # namespace packages' shared __init__.py and metadata are not conflicts
            owners.setdefault(os.path.realpath(str(dist.locate_file(f))), []).append(name)
    return owners


def file_conflicts(problems: list[str]) -> dict[str, object]:
    """Files that two distributions install (the last installed silently overwrote the other).

    For libraries, the RECORD hashes say whose bytes are there now (cudalibs.owner_of).
    """
    conflicts = {p: sorted(set(o)) for p, o in owners_by_file().items() if len(set(o)) > 1}
    by_owners: dict[str, int] = {}
    for names in conflicts.values():
        by_owners[" + ".join(names)] = by_owners.get(" + ".join(names), 0) + 1
    winners = {}
    for path in sorted(conflicts):
        owner = cudalibs.owner_of(path) if ".so" in os.path.basename(path) and os.path.exists(path) else None
        if owner:
            winners[path] = owner.wheel
    if conflicts:
        counts = "; ".join(f"{k}: {v}" for k, v in by_owners.items())
        problems.append(f"{len(conflicts)} files are owned by more than one distribution: {counts}")
    return {
        "count": len(conflicts),
        "by_owners": by_owners,
        "examples": sorted(conflicts)[:15],
        "libraries_now_from": winners,
    }


def duplicate_sonames(problems: list[str], warnings: list[str]) -> dict[str, list[dict[str, object]]]:
    """CUDA sonames shipped more than once, in different files.

    Whichever copy loads first is what every later NEEDED or dlopen() of that soname gets. Two
    nvidia-* wheels shipping one soname (a CUDA 12 and a CUDA 13 libcusparse.so.12) is a
    problem; a framework's own bundled copy (triton's CUPTI next to nvidia-cuda-cupti's) is
    harmless to the CUDA stack, and a warning.
    """
    pattern = re.compile(r"^lib(cu|nv|nccl|cudnn|cupti)[\w-]*\.so(\.\d+)*$", re.IGNORECASE)
    owners = owners_by_file()
    copies: dict[str, list[dict[str, object]]] = {}
    for sp in cudalibs.site_dirs():
        for root, _dirs, files in os.walk(sp):
            for fn in files:
                path = os.path.join(root, fn)
                if not pattern.match(fn) or os.path.islink(path):
                    continue
                info = cudalibs.read_elf(path)
                real, size = os.path.realpath(path), os.path.getsize(path)
                seen = copies.setdefault((info.soname if info else None) or fn, [])
                # Wheels hold no symlinks: one library copied under libX.so, libX.so.N and
                # libX.so.N.M in one folder is one copy.
                if not any(
                    c["path"] == real or (os.path.dirname(str(c["path"])) == root and c["bytes"] == size)
                    for c in seen
                ):
                    seen.append({"path": real, "bytes": size, "owners": owners.get(real, [])})
    duplicates = {so: c for so, c in sorted(copies.items()) if len(c) > 1}
    clashing = [
        so
        for so, c in duplicates.items()
        if len({o for x in c for o in owners.get(str(x["path"]), []) if is_cuda_wheel(o)}) > 1
    ]
    if clashing:
        problems.append(f"sonames shipped by two CUDA wheels (the first loaded wins): {', '.join(clashing)}")
    if set(duplicates) - set(clashing):
        warnings.append(
            f"sonames present more than once: {', '.join(sorted(set(duplicates) - set(clashing)))}"
        )
    return duplicates


def pip_check(problems: list[str], warnings: list[str]) -> dict[str, object]:
    """`pip check` on this venv (a venv without pip: a warning)."""
    if importlib.util.find_spec("pip") is None:
        warnings.append("pip is not installed in this environment: pip check skipped")
        return {"ok": None, "output": "pip not installed"}
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "check"], capture_output=True, text=True, timeout=300
        )
    except (OSError, subprocess.SubprocessError) as exc:
        problems.append(f"pip check could not run: {exc}")
        return {"ok": False, "output": str(exc)}
    output = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        problems.append("pip check failed: " + "; ".join(output.splitlines()[:3]))
    return {"ok": proc.returncode == 0, "output": output[-4000:]}


def _requirement_class() -> Any:
    """packaging's Requirement: the venv's own, else the copy pip vendors."""
    try:
        return importlib.import_module("packaging.requirements").Requirement
    except ImportError:
        return importlib.import_module("pip._vendor.packaging.requirements").Requirement


def extras_check() -> tuple[list[str], list[str]]:
    """The requirements behind requested extras, which `pip check` does not look at.

    pip check passed with nvidia-cudnn-cu12 8.9 forced under tensorflow[and-cuda]. An extra
    counts as requested when an installed distribution asks for it, or, for a top-level
    install (pip records no extras), when most of the nvidia-*/jax-cuda* wheels it brings are
    installed. Returns (the extras checked, the unmet requirements).
    """
    requirement = _requirement_class()
    dists = {cudalibs.normalise(d.metadata["Name"] or ""): d for d in cudalibs.distributions()}
    parsed: dict[str, list[Any]] = {}
    for name, dist in dists.items():
        parsed[name] = []
        for text in dist.requires or []:
            try:
                parsed[name].append(requirement(text))
            except Exception:  # an unparsable requirement is pip check's business
                pass

    def applies(req: Any, extra: str) -> bool:
        if req.marker is None:
            return extra == ""
        try:
            return bool(req.marker.evaluate({"extra": extra}))
        except Exception:
            return False

    def behind_extra(req: Any) -> bool:
        return req.marker is not None and "extra" in str(req.marker)

    requested = {(name, "") for name in dists}

    def propagate() -> None:  # the extras that requested extras ask for, a few levels deep
        for _ in range(4):
            for name, reqs in parsed.items():
                for req in reqs:
                    for who, extra in list(requested):
                        if who == name and applies(req, extra) and (extra == "" or behind_extra(req)):
                            requested.update((cudalibs.normalise(req.name), e) for e in req.extras)

    propagate()
    depended = {
        cudalibs.normalise(req.name)
        for who, extra in requested
        for req in parsed.get(who, [])
        if applies(req, extra) and (extra == "" or behind_extra(req))
    }
    for name, dist in dists.items():
        if name in depended:
            continue  # not a top-level install: its dependents say exactly which extras it got
        for extra in dist.metadata.get_all("Provides-Extra") or []:
            cuda = [
                cudalibs.normalise(r.name)
                for r in parsed[name]
                if applies(r, extra)
                and behind_extra(r)
                and cudalibs.normalise(r.name).startswith(("nvidia-", "jax-cuda"))
            ]
            if cuda and sum(n in dists for n in cuda) * 2 > len(cuda):
                requested.add((name, extra))
    propagate()
    unmet = []
    for name, extra in sorted(requested):
        for req in parsed.get(name, []) if extra else []:
            if not (behind_extra(req) and applies(req, extra)):
                continue
            have = dists.get(cudalibs.normalise(req.name))
            if have is None:
                unmet.append(f"{name}[{extra}] requires {req}, which is not installed")
            elif req.specifier and not req.specifier.contains(have.version, prereleases=True):
                unmet.append(f"{name}[{extra}] requires {req}, but {req.name}=={have.version} is installed")
    return sorted(f"{n}[{e}]" for n, e in requested if e), sorted(set(unmet))


# ------------------------------------------------------------------------------------- CLI
def installed_frameworks() -> list[str]:
    """The frameworks of COVERED (and mxnet) importable here, without importing them."""
    modules = {**COVERED, "mxnet": "mxnet"}
    return [name for name, module in modules.items() if importlib.util.find_spec(module) is not None]


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: one JSON line per result; exit 0 when all are ok."""
    parser = argparse.ArgumentParser(prog="readiness.py", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--framework",
        help="comma-separated dlenv names (default: $DLENV_SMOKE_FRAMEWORKS, else those installed)",
    )
    parser.add_argument("--expect-gpu", action="store_true", help="also require a usable GPU (a GPU host)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per framework's check")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: the child of run_child()
    parser.add_argument(
        "--probe-driver", action="store_true", help=argparse.SUPPRESS
    )  # gpu_present()'s child
    args = parser.parse_args(argv)
    if args.probe_driver:
        print(json.dumps(probe_driver()), flush=True)
        return 0
    if args.one:
        return child(args.one, args.expect_gpu)
    chosen = args.framework or os.environ.get("DLENV_SMOKE_FRAMEWORKS") or ",".join(installed_frameworks())
    lines = check([f.strip() for f in chosen.split(",")], expect_gpu=args.expect_gpu, timeout=args.timeout)
    for line in lines:
        print(json.dumps(line, default=str), flush=True)
    return 0 if all(line.get("ok") for line in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
