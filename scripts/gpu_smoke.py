"""Helper of scripts/gpu-smoke.sh: what a dlenv image installs and sets, for a native venv.

    python scripts/gpu_smoke.py plan PROFILE [--out DIR] [--work DIR] [--locked] ...
    python scripts/gpu_smoke.py preflight OUT | wheel-bytes OUT ... | judge OUT

`plan` resolves the profile with dlenv itself (the BuildSpec, and the lock with --locked), so
the venv gets exactly the requirement lines, package sources and environment the rendered
Dockerfile uses; it writes them into OUT (plan.json, frameworks.txt, extras.txt, sources.args,
runtime.env, settings.sh) and copies the smoke scripts the image bakes in into WORK/smoke.
`judge` holds the perf lines to a fraction of the GPU's published peak, the way `dlenv smoke`
does (builder.smoke.perf), checks that every framework and model reported, and writes
results.jsonl, timings.json and summary.json. Exit codes as dlenv's: 2 invalid input, 5 failed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shlex
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # this checkout's dlenv, whatever the interpreter has installed

from builder import image_paths  # noqa: E402
from builder.errors import DlenvError, ProfileError, UsageError  # noqa: E402

if TYPE_CHECKING:
    from builder.facts.matrix import Matrix
    from builder.resolve.uv import Sources
    from builder.spec import BuildSpec

DEFAULT_PEAK_FRACTION = 0.3
# What this script writes into an output folder; a folder holding plan.json is one of ours.
OUTPUTS = (
    "plan.json frameworks.txt extras.txt sources.args runtime.env settings.sh readiness.jsonl "
    "smoke.jsonl results.jsonl summary.json timings.json timings.tsv steps.tsv sizes.tsv host.txt "
    "nvidia-smi.txt nvidia-smi.csv preflight.json pip-freeze.txt constraints.txt"
).split()
# The image's environment starts empty but for what Docker adds; these pass from the caller.
PASS_THROUGH = ("HOME", "USER", "LOGNAME", "TERM", "TMPDIR", "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER")
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


# ------------------------------------------------------------------------------------ plan
def cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def prepare_out(out: Path) -> None:
    """An empty folder, or one this script wrote before (its files are replaced)."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / "plan.json").is_file():
        raise UsageError(
            f"--out {out} is not empty and holds no plan.json (not a gpu-smoke output folder): "
            "refusing to write into it"
        )
    out.mkdir(parents=True, exist_ok=True)
    for name in OUTPUTS:
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / "logs", ignore_errors=True)
    (out / "logs").mkdir()


def python_minor(version: str) -> str:
    parts = version.split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts):
        raise UsageError(f"--python: {version!r} is not a Python version such as 3.11 or 3.11.2")
    return ".".join(parts[:2])


def driver_dirs(ld_library_path: str) -> list[str]:
    """The caller's LD_LIBRARY_PATH folders that hold the NVIDIA driver's libcuda.so.1.

    In a container the NVIDIA toolkit puts the driver's libraries where ld.so finds them; a
    host that finds them only through LD_LIBRARY_PATH keeps those folders, and only those.
    """
    return [d for d in ld_library_path.split(":") if d and (Path(d) / "libcuda.so.1").exists()]


def runtime_env(spec: BuildSpec, venv: Path, minor: str, floors: dict[str, float | None]) -> list[str]:
    """KEY=VALUE lines: what the image's ENV lines set, with /opt/venv replaced by the venv."""
    site = venv / "lib" / f"python{minor}" / "site-packages"
    image_site = f"{image_paths.VENV}/lib/python{spec.python}/site-packages"

    def native(path: str) -> str:
        return str(site) + path[len(image_site) :] if path.startswith(image_site) else path

    env: dict[str, str] = {k: os.environ[k] for k in PASS_THROUGH if os.environ.get(k)}
    env.update(LANG="C.UTF-8", PYTHONUNBUFFERED="1", VIRTUAL_ENV=str(venv))
    env["PATH"] = f"{venv}/bin:{IMAGE_PATH}"
    library_path = [native(p) for p in spec.library_path] + driver_dirs(os.environ.get("LD_LIBRARY_PATH", ""))
    if library_path:
        env["LD_LIBRARY_PATH"] = ":".join(dict.fromkeys(library_path))
    env.update(dict(spec.env))
    smoke = spec.smoke
    env.update(
        DLENV_SMOKE_DEVICE=smoke.device,
        DLENV_SMOKE_FRAMEWORKS=",".join(smoke.frameworks),
        DLENV_SMOKE_MODELS=",".join(smoke.models),
        DLENV_SMOKE_STEPS=str(smoke.steps),
    )
    for key in ("min_tflops", "min_copy_gbps"):  # the image's ENV for the profile's floors
        if floors.get(key):
            env[f"DLENV_SMOKE_{key.upper()}"] = f"{floors[key]:g}"
    bad = [k for k, v in env.items() if "\n" in v or "\0" in v]
    if bad:
        raise ProfileError(f"environment values with a newline cannot be passed on: {', '.join(bad)}")
    return [f"{k}={v}" for k, v in env.items()]


def source_args(sources: Sources) -> list[str]:
    """The package sources as installer arguments (pip and uv spell them alike)."""
    args: list[str] = []
    if sources.index_url:
        args += ["--index-url", sources.index_url]
    for url in sources.extra_index_urls:
        args += ["--extra-index-url", url]
    for link in sources.find_links:
        args += ["--find-links", link]
    return args


def floors_of(spec: BuildSpec, args: argparse.Namespace) -> dict[str, float | None]:
    """The perf floors: the command line's, else the profile's; a peak fraction by default."""
    fraction = args.min_peak_fraction
    if fraction is not None and not 0 <= fraction <= 1:
        raise UsageError(f"--min-peak-fraction: {fraction:g} is not between 0 and 1")
    if fraction is None:  # a CPU profile has no GPU peak to be held to
        default = DEFAULT_PEAK_FRACTION if spec.accelerator == "cuda" else None
        fraction = spec.smoke.min_peak_fraction or default
    return {
        "min_tflops": args.min_tflops or spec.smoke.min_tflops,
        "min_copy_gbps": args.min_copy_gbps or spec.smoke.min_copy_gbps,
        "min_peak_fraction": fraction or None,
    }


def resolve_spec(args: argparse.Namespace) -> tuple[BuildSpec, Path]:
    from builder.profile.load import load_profile
    from builder.resolve.decide import resolve

    profile, path = load_profile(args.profile)
    spec = resolve(profile)
    if spec.accelerator == "rocm":
        raise UsageError(
            f"profile {spec.profile!r} is a ROCm profile: this script runs NVIDIA CUDA profiles "
            "(and CPU ones with --cpu-dry-run)"
        )
    if spec.accelerator == "cpu" and not args.cpu_dry_run:
        raise UsageError(
            f"profile {spec.profile!r} is a CPU profile: there is nothing for a GPU to prove; "
            "run it with --cpu-dry-run, or choose a CUDA profile"
        )
    return spec, path


def with_smoke_options(spec: BuildSpec, args: argparse.Namespace) -> BuildSpec:
    """The spec with the command line's --steps, --models and --frameworks."""
    smoke = spec.smoke
    update: dict[str, Any] = {}
    if args.steps:
        update["steps"] = args.steps
    if args.models:
        update["models"] = tuple(m for m in args.models.split(",") if m)
    if args.frameworks:
        update["frameworks"] = tuple(f for f in args.frameworks.split(",") if f)
    unknown = [f for f in update.get("frameworks", ()) if f not in smoke.frameworks]
    unknown += [m for m in update.get("models", ()) if m not in ("lstm", "lenet", "perf")]
    if unknown:
        raise UsageError(
            f"not a framework of the profile or a model (lstm, lenet, perf): {', '.join(unknown)}"
        )
    return spec.model_copy(update={"smoke": smoke.model_copy(update=update)})


def locked_lines(args: argparse.Namespace, spec: BuildSpec) -> tuple[list[str], list[str], dict[str, Any]]:
    """The lock's hash-pinned lines (frameworks, extras) and what the plan records of it."""
    from builder.pin.lockfile import fresh_lock, lock_target

    target = lock_target(args.profile, Path(args.lock) if args.lock else None)
    lock = fresh_lock(spec, target.path)
    machine = platform.machine()
    if not lock.inputs.platform.startswith(machine + "-"):
        raise UsageError(f"the lock {target.path} is for {lock.inputs.platform}, this machine is {machine}")
    info = {"file": str(target.path), "lock_digest": lock.lock_digest, "platform": lock.inputs.platform}
    return (
        [p.requirement_line() for p in lock.frameworks],
        [p.requirement_line() for p in lock.extras],
        info,
    )


def plan(args: argparse.Namespace) -> int:
    from builder import paths
    from builder.inputs.prepare import BuildOptions, sources_for
    from builder.render.context_files import smoke_files

    if args.lock and not args.locked:
        raise UsageError("--lock goes with --locked")
    spec, profile_file = resolve_spec(args)
    lock_info: dict[str, Any] | None = None
    if args.locked:  # checked against the profile as it is (the lock's spec digest)
        frameworks, extras, lock_info = locked_lines(args, spec)
    else:
        frameworks, extras = spec.framework_requirements(), list(spec.packages)
        default_lock = Path.cwd() / f"{spec.profile}.dlenv.lock"
        if default_lock.is_file():
            print(f"gpu-smoke: note: {default_lock} exists; --locked installs exactly it", file=sys.stderr)
    spec = with_smoke_options(spec, args)
    spec, sources = sources_for(spec, BuildOptions(pip_from_host=args.pip_from_host), profile_file.parent)
    out = Path(args.out or Path.cwd() / "gpu-smoke-out" / spec.profile).absolute()
    work = Path(args.work or cache_home() / "dlenv" / "gpu-smoke" / spec.profile).absolute()
    minor = python_minor(args.python) if args.python else spec.python
    floors = floors_of(spec, args)
    venv, smoke_dir = work / "venv", work / "smoke"
    env_lines = runtime_env(spec, venv, minor, floors)
    prepare_out(out)
    shutil.rmtree(smoke_dir, ignore_errors=True)
    smoke_dir.mkdir(parents=True)
    for name, content in smoke_files().items():  # the scripts the image bakes in, as it bakes them
        (smoke_dir / Path(name).name).write_bytes(content)
    (smoke_dir / "dlenv-smoke").chmod(0o755)
    shutil.copy(paths.in_image_script("check_installed.py"), smoke_dir / "check_installed.py")
    (out / "frameworks.txt").write_text("".join(f"{line}\n" for line in frameworks))
    (out / "extras.txt").write_text("".join(f"{line}\n" for line in extras))
    (out / "sources.args").write_text("".join(f"{a}\n" for a in source_args(sources)))
    (out / "runtime.env").write_text("".join(f"{line}\n" for line in env_lines))
    data = {
        "profile": spec.profile,
        "profile_file": str(profile_file.resolve()),
        "mode": "cpu-dry-run" if args.cpu_dry_run else "gpu",
        "accelerator": spec.accelerator,
        "toolkit": spec.toolkit,
        "min_driver": spec.min_driver,
        "image_python": spec.python_full,
        "venv_python": args.python or spec.python,
        "spec_digest": spec.digest,
        "frameworks": [
            {"name": f.name, "version": f.version, "variant": f.variant, "cuda_libraries": f.cuda_libraries}
            for f in spec.frameworks
        ],
        "image_requirements": spec.framework_requirements(),  # the Dockerfile's pip install lines
        "requirements": frameworks,  # what this run installs: those, or the lock's hash-pinned lines
        "extra_packages": extras,
        "locked": lock_info,
        "sources": source_args(sources),
        "package_sources": {
            "index_url": sources.index_url,
            "extra_index_urls": list(sources.extra_index_urls),
            "find_links": list(sources.find_links),
            "ca_bundle": str(sources.ca_bundle) if sources.ca_bundle else None,
        },
        "glibc": spec.glibc,
        "source_notes": list(sources.notes),
        "image_env": [list(pair) for pair in spec.env],
        "image_library_path": list(spec.library_path),
        "runtime_env": env_lines,
        "smoke": spec.smoke.model_dump(mode="json"),
        "floors": floors,
        "gpu_architectures": spec.gpu_architectures,
        "warnings": list(spec.warnings),
        "venv": str(venv),
        "smoke_dir": str(smoke_dir),
    }
    (out / "plan.json").write_text(json.dumps(data, indent=2) + "\n")
    settings = {
        "PLAN_PROFILE": spec.profile,
        "PLAN_ACCELERATOR": spec.accelerator,
        "PLAN_DEVICE": spec.smoke.device,
        "PLAN_PYTHON": args.python or spec.python,
        "PLAN_PYTHON_MINOR": minor,
        "PLAN_FRAMEWORKS": ",".join(spec.smoke.frameworks),
        "PLAN_MODELS": ",".join(spec.smoke.models),
        "PLAN_TIMEOUT": str(spec.smoke.timeout),
        "PLAN_LOCKED": "1" if lock_info else "",
        "PLAN_WORK": str(work),
        "PLAN_VENV": str(venv),
        "PLAN_SMOKE_DIR": str(smoke_dir),
        "PLAN_CA": str(sources.ca_bundle or ""),
    }
    (out / "settings.sh").write_text("".join(f"{k}={shlex.quote(v)}\n" for k, v in settings.items()))
    for warning in spec.warnings:
        print(f"gpu-smoke: warning: {warning}", file=sys.stderr)
    print(out)
    return 0


# ----------------------------------------------------------------------------------- judge
def json_lines(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    lines = []
    for text in path.read_text(errors="replace").splitlines():
        if text.startswith("{"):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                lines.append(value)
    return lines


def table(path: Path) -> list[list[str]]:
    """A tab-separated file written by the shell script (steps.tsv, sizes.tsv)."""
    if not path.is_file():
        return []
    return [line.split("\t") for line in path.read_text().splitlines() if line.strip()]


def judged(lines: list[dict[str, Any]], fraction: float | None) -> list[dict[str, Any]]:
    """Each perf line held to `fraction` of its device's published peak (as `dlenv smoke`)."""
    from builder.smoke.perf import judge_peak_fraction
    from builder.smoke.report import SmokeReport, SmokeResult

    results = tuple(SmokeResult.from_json(line) for line in lines)
    report = judge_peak_fraction(SmokeReport("native venv", 0, results, ""), fraction)
    out = []
    for line, before, after in zip(lines, results, report.results, strict=True):
        if before != after:  # the judge's verdict, merged into the line as the script printed it
            changed = {
                f.name: getattr(after, f.name)
                for f in dataclasses.fields(after)
                if f.name != "extra" and getattr(after, f.name) != getattr(before, f.name)
            }
            line = {**line, **changed, "min_peak_fraction": fraction}
        elif line.get("model") == "perf" and fraction:
            line = {**line, "min_peak_fraction": fraction}
        out.append(line)
    return out


def missing_results(
    plan_data: dict[str, Any], lines: list[dict[str, Any]], ran: set[str]
) -> list[dict[str, Any]]:
    """A failing line for each framework x model (and readiness) of a step that ran but did not
    report it (a crash, a timeout); a step that never ran fails through steps.tsv instead."""
    have = {(str(line.get("framework")), str(line.get("model"))) for line in lines}
    smoke = plan_data["smoke"]
    wanted: list[tuple[str, str]] = []
    if "readiness" in ran:
        wanted += [(f, "readiness") for f in smoke["frameworks"]] + [("image", "readiness")]
    if "smoke" in ran:  # GPU runs: the GPU was seen first; dry runs train on the CPU
        wanted += [(f, m) for f in smoke["frameworks"] for m in smoke["models"]]
    return [
        {"ok": False, "framework": f, "model": m, "error": "no result line (see logs/ and steps.tsv)"}
        for f, m in wanted
        if (f, m) not in have
    ]


def readiness_text(line: dict[str, Any]) -> str:
    """What a readiness line found, in a few words."""
    if line.get("framework") == "image":
        words = [f"{len(line.get('nvidia_wheels') or [])} CUDA wheels"]
        if line.get("nvidia_total_bytes"):
            words.append(f"{line['nvidia_total_bytes'] / 1e9:.2f} GB")
        pip_check = (line.get("pip_check") or {}).get("ok")
        words.append("pip check " + {True: "clean", False: "FAILED", None: "not run"}[pip_check])
    else:
        words = [f"CUDA {line.get('cuda')}, cuDNN {line.get('cudnn')}"]
        loaded = [lib for lib in line.get("libraries") or [] if isinstance(lib, dict) and lib.get("loaded")]
        words.append(f"{len(loaded)} libraries loaded")
        if line.get("architectures"):
            words.append(" ".join(line["architectures"]))
    if line.get("driver_only_failures"):
        words.append("needs a driver for: " + ", ".join(line["driver_only_failures"]))
    return " " + "; ".join(words)


def summary_text(lines: list[dict[str, Any]]) -> list[str]:
    out = []
    for line in lines:
        what = f"{line.get('framework')}/{line.get('model')}"
        if line.get("model") == "readiness":
            what += readiness_text(line)
        elif line.get("model") == "perf" and line.get("matmul_tflops") is not None:
            what += f" {line['matmul_tflops']:.4g} TFLOP/s {line.get('matmul_dtype')}"
            what += f", copy {line['copy_gbps']:.4g} GB/s"
            if line.get("matmul_peak_fraction") is not None:
                what += f" ({line['matmul_peak_fraction']:.0%} / {line['copy_peak_fraction']:.0%} of peak)"
        elif line.get("loss_first") is not None:
            what += f" loss {line['loss_first']:.4g} -> {line['loss_last']:.4g}"
            what += f", {line.get('samples_per_s')} samples/s"
        where = line.get("device_name") or line.get("device")
        verdict = "ok  " if line.get("ok") else "FAIL"
        what += f" [{where}]" if where else ""
        out.append(f"  {verdict} {what}" + (f": {line['error']}" if line.get("error") else ""))
    return out


def judge(args: argparse.Namespace) -> int:
    out = Path(args.out)
    plan_data = json.loads((out / "plan.json").read_text())
    steps = {row[0]: row for row in table(out / "steps.tsv")}  # name, seconds, exit code
    readiness = json_lines(out / "readiness.jsonl")
    smoke = [line for line in json_lines(out / "smoke.jsonl") if line.get("model") != "readiness"]
    lines = judged(readiness + smoke, plan_data["floors"]["min_peak_fraction"])
    lines += missing_results(plan_data, lines, set(steps))
    with (out / "results.jsonl").open("w") as fh:
        for line in lines:
            fh.write(json.dumps(line) + "\n")
    failed_steps = [name for name, row in steps.items() if len(row) > 2 and row[2] != "0"]
    ok = bool(lines) and all(line.get("ok") for line in lines) and not failed_steps
    timings = {name: float(row[1]) for name, row in steps.items()}
    sizes = {row[0]: int(row[1]) for row in table(out / "sizes.tsv") if len(row) > 1 and row[1].isdigit()}
    (out / "timings.json").write_text(json.dumps(timings, indent=2) + "\n")
    summary = {
        "ok": ok,
        "profile": plan_data["profile"],
        "mode": plan_data["mode"],
        "locked": plan_data["locked"],
        "failed_steps": failed_steps,
        "failed": [
            f"{line.get('framework')}/{line.get('model')}: {line.get('error')}"
            for line in lines
            if not line.get("ok")
        ],
        "results": len(lines),
        "seconds": timings,
        "bytes": sizes,
        "device_names": sorted({str(line["device_name"]) for line in lines if line.get("device_name")}),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    for text in summary_text(lines):
        print(text, file=sys.stderr)
    return 0 if ok else 5


Check = tuple[str, str, str, "str | None"]  # name, status, detail, fix (as dlenv doctor's)


def peak_check(matrix: Matrix, name: str, fraction: float) -> Check:
    """Whether a fraction of this GPU's peak can be judged after the run (not without a peak)."""
    peak = matrix.gpu_peak(name)
    if peak is None:
        return (
            "gpu0-peak",
            "fail",
            f"{name} has no published peak (matrix.yaml gpu_peaks): a floor of {fraction:g} x peak "
            "cannot be judged",
            "--min-peak-fraction 0 with --min-tflops / --min-copy-gbps, or add the GPU's peaks to "
            "matrix.yaml gpu_peaks with their source",
        )
    detail = f"{name}: {peak.bf16_tflops:g} TFLOP/s bf16 and {peak.memory_gbps:g} GB/s published"
    return ("gpu0-peak", "ok", f"{detail}; the floor is {fraction:g} of them", None)


def preflight(args: argparse.Namespace) -> int:
    """dlenv doctor's GPU checks for this host (driver, compute capability, kernels in the
    build), from OUT/nvidia-smi.csv; minus the Docker runtime, which a native run needs not."""
    from builder.facts.matrix import load_matrix
    from builder.host.gpu_checks import _driver_check, _gpu_checks
    from builder.host.probe import parse_nvidia_smi

    out = Path(args.out)
    plan_data = json.loads((out / "plan.json").read_text())
    spec, _ = resolve_spec(argparse.Namespace(profile=plan_data["profile_file"], cpu_dry_run=False))
    csv = out / "nvidia-smi.csv"
    report = parse_nvidia_smi(csv.read_text()) if csv.is_file() else None
    checks: list[Check]
    if report is None or report.error or not report.gpus:
        why = "nvidia-smi is not installed" if report is None else report.error or "nvidia-smi lists no GPU"
        checks = [
            ("nvidia-driver", "fail", f"no NVIDIA GPU here: {why}", "on a machine without one: --cpu-dry-run")
        ]
    else:
        matrix = load_matrix()
        found = [_driver_check(report.driver, spec, matrix), *_gpu_checks(report, spec, matrix)]
        checks = [(c.name, c.status, c.detail, c.fix) for c in found]
        fraction = plan_data["floors"]["min_peak_fraction"]
        if fraction:  # the frameworks run on GPU 0
            checks.append(peak_check(matrix, report.gpus[0].name, fraction))
    (out / "preflight.json").write_text(
        json.dumps([dict(zip(("name", "status", "detail", "fix"), c, strict=True)) for c in checks], indent=2)
        + "\n"
    )
    for name, status, detail, fix in checks:
        print(
            f"gpu-smoke: {status}: {name}: {detail}" + (f" ({fix})" if fix and status != "ok" else ""),
            file=sys.stderr,
        )
    return 5 if any(status == "fail" for _, status, _, _ in checks) else 0


def wheel_bytes(args: argparse.Namespace) -> int:
    """What a cold install of the venv downloads: the installed pins' wheels on the index, by size."""
    from builder.resolve.uv import Platform, Sources, resolve

    out = Path(args.out)
    plan_data = json.loads((out / "plan.json").read_text())
    freeze = (out / "pip-freeze.txt").read_text().splitlines()
    pins = [line.strip() for line in freeze if "==" in line and not line.startswith(("#", "-"))]
    where = plan_data["package_sources"]
    sources = Sources(
        where["index_url"],
        tuple(where["extra_index_urls"]),
        tuple(where["find_links"]),
        Path(where["ca_bundle"]) if where["ca_bundle"] else None,
        (),
    )
    try:
        target = Platform(args.python_version, plan_data["glibc"], platform.machine())
        packages = resolve(pins, target, sources).packages
    except DlenvError as exc:
        print(f"gpu-smoke: note: the wheel sizes are unknown: {exc.message[:300]}", file=sys.stderr)
        return 0
    print(sum(max(w.size or 0 for w in p.wheels) for p in packages))
    return 0


# ------------------------------------------------------------------------------------- CLI
def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="gpu_smoke.py", description=__doc__.split("\n")[0])
    sub = top.add_subparsers(dest="command", required=True)
    p = sub.add_parser("plan", help="resolve the profile; write the install and run plan into OUT")
    p.add_argument("profile")
    p.add_argument("--out")
    p.add_argument("--work")
    p.add_argument("--locked", action="store_true")
    p.add_argument("--lock")
    p.add_argument("--python")
    p.add_argument("--pip-from-host", action="store_true")
    p.add_argument("--cpu-dry-run", action="store_true")
    p.add_argument("--steps", type=int)
    p.add_argument("--models")
    p.add_argument("--frameworks")
    p.add_argument("--min-peak-fraction", type=float)
    p.add_argument("--min-tflops", type=float)
    p.add_argument("--min-copy-gbps", type=float)
    j = sub.add_parser("judge", help="judge OUT's JSON lines; write results.jsonl and summary.json")
    j.add_argument("out")
    f = sub.add_parser("preflight", help="dlenv doctor's GPU checks, from OUT/nvidia-smi.csv")
    f.add_argument("out")
    w = sub.add_parser("wheel-bytes", help="the download size of OUT's pip-freeze.txt, from the index")
    w.add_argument("out")
    w.add_argument("--python-version", required=True)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        commands = {"plan": plan, "judge": judge, "preflight": preflight, "wheel-bytes": wheel_bytes}
        return commands[args.command](args)
    except DlenvError as exc:
        print(f"gpu-smoke: error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"  {exc.hint}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
