"""dlenv smoke test: prove an image trains on its accelerator, at speed.

For each framework and model, train on a learnable synthetic task and print one JSON line:
ok, framework, framework_version, device, device_name, model, steps, loss_first, loss_last,
samples_per_s, seconds. Passes only if the loss fell clearly on the requested device; it never
falls back to the CPU silently (--allow-cpu accepts a CPU run and says so).
The "perf" check times a dense matrix product and a device memory copy (perfstep.py) and
prints matmul_tflops and copy_gbps; with a floor (--min-tflops, --min-copy-gbps) it fails below.
A CUDA image first runs the readiness check (readiness.py): every CUDA library each framework
loads can be loaded, its build info (CUDA, cuDNN, GPU architectures) is read, the wheels agree.
On a host without a GPU that check is the test: the training needs a GPU, or --allow-cpu.
Standard library only, so it runs in any dlenv image: `docker run IMAGE dlenv-smoke`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# Framework name -> module in this folder that knows how to train with it.
RUNNERS = {
    "pytorch": "fw_torch",
    "tensorflow": "fw_tensorflow",
    "keras": "fw_keras",
    "jax": "fw_jax",
    "mxnet": "fw_mxnet",
}
MODELS = ("lstm", "lenet", "perf")
READINESS = "readiness"  # a model of its own, run first (and alone on a host without a GPU)
# TensorFlow's tf.keras is Keras 3 (TF >= 2.16), which follows KERAS_BACKEND: an image whose Keras
# runs on JAX or PyTorch trains TensorFlow in a process of its own, with TensorFlow's backend.
ISOLATED_ENV = {"tensorflow": {"KERAS_BACKEND": "tensorflow"}}
# The loss must fall to this fraction of its starting value: "clearly", not by noise.
REQUIRED_DROP = 0.5
WINDOW = 5


def summarise_losses(losses: list[float]) -> tuple[float, float]:
    """Mean of the first and the last few steps, so one noisy step decides nothing."""
    window = max(1, min(WINDOW, len(losses) // 4))
    return sum(losses[:window]) / window, sum(losses[-window:]) / window


def verdict(requested: str, used: str, losses: list[float], allow_cpu: bool) -> tuple[bool, str | None]:
    first, last = summarise_losses(losses)
    if not all(math.isfinite(v) for v in losses):
        return False, "loss is not finite (NaN or inf)"
    wrong_device = device_verdict(requested, used, allow_cpu)
    if wrong_device:
        return False, wrong_device
    if not last < REQUIRED_DROP * first:
        return False, f"loss did not fall clearly: {first:.4f} -> {last:.4f} (needs < {REQUIRED_DROP:.0%})"
    return True, None


def device_verdict(requested: str, used: str, allow_cpu: bool) -> str | None:
    """Why the device used is not acceptable for the one requested (None: it is)."""
    if requested != "cpu" and used == "cpu" and not allow_cpu:
        return f"no {requested.upper()} GPU visible: the framework ran on the CPU"
    if requested != "cpu" and used not in (requested, "cpu"):
        return f"ran on {used}, but {requested} was requested"
    return None


def perf_verdict(
    requested: str, result: dict[str, object], floors: dict[str, float | None], allow_cpu: bool
) -> tuple[bool, str | None]:
    used = str(result["device"])
    wrong_device = device_verdict(requested, used, allow_cpu)
    if wrong_device:
        return False, wrong_device
    if requested != used:  # --allow-cpu on a runner without the GPU: floors are for the GPU
        return True, None
    below = []
    tflops, gbps = float(result["matmul_tflops"]), float(result["copy_gbps"])  # type: ignore[arg-type]
    if floors.get("min_tflops") and tflops < float(floors["min_tflops"] or 0):
        below.append(f"matrix product {tflops:.4g} TFLOP/s < {floors['min_tflops']:g}")
    if floors.get("min_copy_gbps") and gbps < float(floors["min_copy_gbps"] or 0):
        below.append(f"device copy {gbps:.4g} GB/s < {floors['min_copy_gbps']:g}")
    if below:
        return False, f"below the performance floor on {result['device_name']}: " + "; ".join(below)
    return True, None


def run_perf(
    runner: object, framework: str, device: str, floors: dict[str, float | None], allow_cpu: bool
) -> dict[str, object]:
    report: dict[str, object] = {"ok": False, "framework": framework, "requested_device": device}
    report["model"] = "perf"
    report.update({k: v for k, v in floors.items() if v})
    try:
        result = runner.perf(device=device, allow_cpu=allow_cpu)  # type: ignore[attr-defined]
    except Exception as exc:
        report["error"] = f"{type(exc).__name__}: {exc}"
        report["traceback"] = traceback.format_exc(limit=3)[-2000:]
        return report
    ok, error = perf_verdict(device, result, floors, allow_cpu)
    report.update(result, ok=ok, seconds=round(float(result["seconds"]), 3))
    if result["device"] == "cpu" and device != "cpu" and ok:
        report["note"] = "--allow-cpu: the GPU path was NOT tested; performance floors not applied"
    if error:
        report["error"] = error
    return report


def run_one(
    framework: str,
    model: str,
    device: str,
    steps: int,
    allow_cpu: bool,
    floors: dict[str, float | None] | None = None,
) -> dict[str, object]:
    report: dict[str, object] = {
        "ok": False,
        "framework": framework,
        "framework_version": None,
        "requested_device": device,
        "device": None,
        "device_name": None,
        "model": model,
    }
    own_env = ISOLATED_ENV.get(framework, {})
    if any(os.environ.get(k) != v for k, v in own_env.items()):
        return run_in_child(framework, model, device, steps, allow_cpu, floors, own_env, report)
    try:
        runner = importlib.import_module(RUNNERS[framework])
    except Exception as exc:  # an import error is exactly what a smoke test must report
        report["error"] = f"import failed: {type(exc).__name__}: {exc}"
        return report
    if model == "perf":
        return run_perf(runner, framework, device, floors or {}, allow_cpu)
    report.update(steps=steps, loss_first=None, loss_last=None, samples_per_s=None, seconds=None)
    try:
        result = runner.train(model=model, device=device, steps=steps, allow_cpu=allow_cpu)
    except Exception as exc:
        report["error"] = f"{type(exc).__name__}: {exc}"
        report["traceback"] = traceback.format_exc(limit=3)[-2000:]
        return report
    losses = result.pop("losses")
    first, last = summarise_losses(losses)
    ok, error = verdict(device, str(result["device"]), losses, allow_cpu)
    report.update(result)
    report.update(
        ok=ok,
        loss_first=round(first, 6),
        loss_last=round(last, 6),
        samples_per_s=round(result["samples"] / result["seconds"], 1),
        seconds=round(result["seconds"], 3),
    )
    report.pop("samples", None)
    if result["device"] == "cpu" and device != "cpu" and ok:
        report["note"] = "--allow-cpu: the GPU path was NOT tested"
    if error:
        report["error"] = error
    return report


def run_in_child(
    framework: str,
    model: str,
    device: str,
    steps: int,
    allow_cpu: bool,
    floors: dict[str, float | None] | None,
    own_env: dict[str, str],
    report: dict[str, object],
) -> dict[str, object]:
    """Run one framework and model in a process of its own, with the environment it needs."""
    import subprocess

    command = [sys.executable, os.path.abspath(__file__), "--framework", framework, "--model", model]
    command += ["--device", device, "--steps", str(steps), *(["--allow-cpu"] if allow_cpu else [])]
    for key, value in (floors or {}).items():
        if value:
            command += [f"--{key.replace('_', '-')}", str(value)]
    env = {**os.environ, **own_env, "DLENV_SMOKE_NO_READINESS": "1"}
    child = subprocess.run(command, env=env, capture_output=True, text=True)
    lines = [line for line in child.stdout.splitlines() if line.startswith("{")]
    if lines:
        found: dict[str, object] = json.loads(lines[-1])
        return found
    report["error"] = (
        f"the {framework} run ended without a result (exit {child.returncode}): {child.stderr[-600:]}"
    )
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dlenv-smoke", description=__doc__.split("\n")[0])
    env = os.environ.get
    parser.add_argument(
        "--framework",
        default=env("DLENV_SMOKE_FRAMEWORKS", "pytorch"),
        help="comma-separated: " + ",".join(RUNNERS),
    )
    parser.add_argument("--device", default=env("DLENV_SMOKE_DEVICE", "cpu"), choices=("cpu", "cuda", "rocm"))
    parser.add_argument(
        "--model",
        default=env("DLENV_SMOKE_MODELS", ",".join(MODELS)),
        help="comma-separated: " + ",".join(MODELS),
    )
    parser.add_argument("--steps", type=int, default=int(env("DLENV_SMOKE_STEPS", "200")))
    parser.add_argument(
        "--allow-cpu",
        action="store_true",
        default=env("DLENV_SMOKE_ALLOW_CPU", "") == "1",
        help="accept a CPU run when a GPU was requested (says so in the JSON)",
    )
    parser.add_argument(
        "--min-tflops",
        type=float,
        default=float(env("DLENV_SMOKE_MIN_TFLOPS") or 0) or None,
        help="perf: fail when the matrix product runs below this many TFLOP/s",
    )
    parser.add_argument(
        "--min-copy-gbps",
        type=float,
        default=float(env("DLENV_SMOKE_MIN_COPY_GBPS") or 0) or None,
        help="perf: fail when the device copy moves fewer GB/s",
    )
    args = parser.parse_args(argv)
    floors = {"min_tflops": args.min_tflops, "min_copy_gbps": args.min_copy_gbps}
    frameworks = [f for f in args.framework.split(",") if f]
    models = [m for m in args.model.split(",") if m]
    unknown = [f for f in frameworks if f not in RUNNERS] + [
        m for m in models if m not in (*MODELS, READINESS)
    ]
    if unknown:
        parser.error(f"unknown framework or model: {', '.join(unknown)}")
    all_ok = True
    training = [m for m in models if m != READINESS]
    if (args.device == "cuda" or READINESS in models) and not env("DLENV_SMOKE_NO_READINESS"):
        import readiness

        for report in readiness.check(frameworks):
            all_ok = all_ok and bool(report["ok"])
            print(json.dumps(report, sort_keys=False), flush=True)
        if args.device == "cuda" and not args.allow_cpu and not readiness.gpu_present():
            # The readiness check is what a host without a GPU can prove; training on the CPU
            # would prove nothing about the GPU path, so it runs only when asked (--allow-cpu).
            training = []
            if models != [READINESS]:
                print(json.dumps(no_gpu_note(frameworks, models)), flush=True)
    for framework in frameworks:
        for model in training:
            report = run_one(framework, model, args.device, args.steps, args.allow_cpu, floors)
            all_ok = all_ok and bool(report["ok"])
            print(json.dumps(report, sort_keys=False), flush=True)
    return 0 if all_ok else 1


def no_gpu_note(frameworks: list[str], models: list[str]) -> dict[str, object]:
    """The line that says what a host without a GPU did not test."""
    skipped = [m for m in models if m != READINESS]
    return {
        "ok": True,
        "framework": ",".join(frameworks),
        "model": "training",
        "requested_device": "cuda",
        "device": None,
        "device_name": None,
        "note": "no NVIDIA GPU here: the CUDA readiness check above is what was tested; "
        f"{', '.join(skipped)} need a GPU (or --allow-cpu, which trains on the CPU)",
    }


if __name__ == "__main__":
    sys.exit(main())
