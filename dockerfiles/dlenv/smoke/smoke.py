"""dlenv smoke test: prove an image trains on its accelerator.

For each framework and model, train on a learnable synthetic task and print one JSON line:
ok, framework, framework_version, device, device_name, model, steps, loss_first, loss_last,
samples_per_s, seconds. Passes only if the loss fell clearly on the requested device; it never
falls back to the CPU silently (--allow-cpu accepts a CPU run and says so).
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
MODELS = ("lstm", "lenet")
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
    if requested != "cpu" and used == "cpu" and not allow_cpu:
        return False, f"no {requested.upper()} GPU visible: the framework ran on the CPU"
    if requested != "cpu" and used not in (requested, "cpu"):
        return False, f"ran on {used}, but {requested} was requested"
    if not last < REQUIRED_DROP * first:
        return False, f"loss did not fall clearly: {first:.4f} -> {last:.4f} (needs < {REQUIRED_DROP:.0%})"
    return True, None


def run_one(framework: str, model: str, device: str, steps: int, allow_cpu: bool) -> dict[str, object]:
    report: dict[str, object] = {
        "ok": False,
        "framework": framework,
        "framework_version": None,
        "requested_device": device,
        "device": None,
        "device_name": None,
        "model": model,
        "steps": steps,
        "loss_first": None,
        "loss_last": None,
        "samples_per_s": None,
        "seconds": None,
    }
    try:
        runner = importlib.import_module(RUNNERS[framework])
    except Exception as exc:  # an import error is exactly what a smoke test must report
        report["error"] = f"import failed: {type(exc).__name__}: {exc}"
        return report
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
        "--model", default=env("DLENV_SMOKE_MODELS", ",".join(MODELS)), help="comma-separated: lstm,lenet"
    )
    parser.add_argument("--steps", type=int, default=int(env("DLENV_SMOKE_STEPS", "200")))
    parser.add_argument(
        "--allow-cpu",
        action="store_true",
        default=env("DLENV_SMOKE_ALLOW_CPU", "") == "1",
        help="accept a CPU run when a GPU was requested (says so in the JSON)",
    )
    args = parser.parse_args(argv)
    frameworks = [f for f in args.framework.split(",") if f]
    models = [m for m in args.model.split(",") if m]
    unknown = [f for f in frameworks if f not in RUNNERS] + [m for m in models if m not in MODELS]
    if unknown:
        parser.error(f"unknown framework or model: {', '.join(unknown)}")
    all_ok = True
    for framework in frameworks:
        for model in models:
            report = run_one(framework, model, args.device, args.steps, args.allow_cpu)
            all_ok = all_ok and bool(report["ok"])
            print(json.dumps(report, sort_keys=False), flush=True)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
