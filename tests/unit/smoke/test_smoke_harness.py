"""The in-image smoke harness's verdicts (pure logic; the real runs are integration tests)."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from builder import paths
from builder.engine.docker_engine import run_kwargs
from builder.render import runopts
from builder.smoke.report import SmokeReport, SmokeResult, parse_results
from builder.spec import RuntimeOptions

_spec = importlib.util.spec_from_file_location("dlenv_smoke", paths.smoke_scripts_dir() / "smoke.py")
assert _spec and _spec.loader
harness = importlib.util.module_from_spec(_spec)
sys.modules["dlenv_smoke"] = harness
_spec.loader.exec_module(harness)

FALLING = [1.0] * 5 + [0.5] * 10 + [0.1] * 5


def test_loss_falling_on_requested_device_passes() -> None:
    assert harness.verdict("cuda", "cuda", FALLING, allow_cpu=False) == (True, None)


def test_flat_loss_fails() -> None:
    ok, why = harness.verdict("cpu", "cpu", [1.0] * 20, allow_cpu=False)
    assert not ok and "did not fall" in why


def test_nan_fails() -> None:
    ok, why = harness.verdict("cpu", "cpu", FALLING + [float("nan")], allow_cpu=False)
    assert not ok and "not finite" in why


def test_silent_cpu_fallback_fails_unless_allowed() -> None:
    ok, why = harness.verdict("cuda", "cpu", FALLING, allow_cpu=False)
    assert not ok and "no CUDA GPU visible" in why
    assert harness.verdict("cuda", "cpu", FALLING, allow_cpu=True)[0]


def test_wrong_vendor_fails() -> None:
    ok, why = harness.verdict("rocm", "cuda", FALLING, allow_cpu=False)
    assert not ok and "ran on cuda" in why


CUDA = RuntimeOptions(gpus=True, devices=(), group_add=(), security_opt=(), shm_size="8g")
ROCM = RuntimeOptions(
    gpus=False,
    devices=("/dev/kfd", "/dev/dri"),
    group_add=("video", "render"),
    security_opt=("seccomp=unconfined",),
    shm_size="8g",
)


def test_sdk_kwargs_per_vendor() -> None:
    cuda = run_kwargs(CUDA)
    assert cuda["device_requests"][0]["Capabilities"] == [["gpu"]]
    assert cuda["device_requests"][0]["Count"] == -1
    rocm = run_kwargs(ROCM)
    assert rocm["devices"] == ["/dev/kfd:/dev/kfd:rwm", "/dev/dri:/dev/dri:rwm"]
    assert rocm["security_opt"] == ["seccomp=unconfined"]
    assert rocm["group_add"] == ["video", "render"]
    assert run_kwargs(CUDA, devices=False) == {"shm_size": "8g"}


def test_every_format_comes_from_the_same_options() -> None:
    compose = runopts.compose_keys(ROCM)
    assert compose["devices"] == list(ROCM.devices)
    assert compose["group_add"] == list(ROCM.group_add)
    args = runopts.cli_args(ROCM)
    assert args == [
        "--device",
        "/dev/kfd",
        "--device",
        "/dev/dri",
        "--group-add",
        "video",
        "--group-add",
        "render",
        "--security-opt",
        "seccomp=unconfined",
        "--shm-size",
        "8g",
    ]
    assert runopts.run_hint(CUDA) == "docker run --rm --gpus all --shm-size 8g IMAGE dlenv-smoke"
    assert "deploy" in runopts.compose_keys(CUDA) and "deploy" not in compose


def test_parse_results_skips_noise() -> None:
    out = 'warning: something\n{"ok": true, "framework": "jax"}\n{broken\n[1, 2]\n'
    assert parse_results(out) == (SmokeResult(ok=True, framework="jax"),)


def test_results_keep_unknown_fields_and_print_back() -> None:
    line = {
        "ok": False,
        "framework": "pytorch",
        "model": "lstm",
        "device": "cpu",
        "future_field": 3,
        "error": "loss did not fall",
    }
    result = SmokeResult.from_json(line)
    assert result.extra == {"future_field": 3}
    assert result.as_json()["future_field"] == 3 and result.as_json()["error"] == "loss did not fall"
    report = SmokeReport("img", 1, (result,), "")
    assert not report.ok and "pytorch/lstm: loss did not fall" in report.explain()


def test_report_without_results_shows_the_stderr_tail() -> None:
    report = SmokeReport("img", 137, (), "line1\nKilled\n")
    assert not report.ok and "exit 137" in report.explain() and "Killed" in report.explain()


def test_tensorflow_trains_in_its_own_process_when_keras_runs_on_another_backend(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """tf.keras is Keras 3 and follows KERAS_BACKEND: with Keras on JAX, TensorFlow's own
    training would build JAX layers ("Cannot convert a symbolic tf.Tensor to a numpy array")."""
    import subprocess

    seen: dict[str, object] = {}

    def fake_run(command: list[str], env: dict[str, str], **kw: object) -> subprocess.CompletedProcess[str]:
        seen.update(command=command, backend=env["KERAS_BACKEND"], skip=env["DLENV_SMOKE_NO_READINESS"])
        line = '{"ok": true, "framework": "tensorflow", "model": "lstm", "device": "cpu"}'
        return subprocess.CompletedProcess(command, 0, line + "\n", "")

    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    report = harness.run_one("tensorflow", "lstm", "cpu", 30, False)
    assert report["ok"] is True and seen["backend"] == "tensorflow" and seen["skip"] == "1"
    assert seen["command"][-6:] == ["--model", "lstm", "--device", "cpu", "--steps", "30"]  # type: ignore[index]
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 3, "", "boom"))
    failed = harness.run_one("tensorflow", "lstm", "cpu", 30, False)
    assert failed["ok"] is False and "exit 3" in str(failed["error"]) and "boom" in str(failed["error"])
