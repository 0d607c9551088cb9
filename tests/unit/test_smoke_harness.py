"""The in-image smoke harness's verdicts (pure logic; the real runs are integration tests)."""

from __future__ import annotations

import importlib.util
import sys

from builder import paths
from builder.smoke import container_kwargs, parse_results

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


def test_container_kwargs_per_vendor() -> None:
    cuda = container_kwargs("cuda", {"gpus": True, "shm_size": "8g"}, allow_cpu=False)
    assert cuda["device_requests"][0]["Capabilities"] == [["gpu"]]
    rocm = container_kwargs("rocm", {"devices": ["/dev/kfd", "/dev/dri"], "group_add": ["video"],
                                     "security_opt": ["seccomp=unconfined"]}, allow_cpu=False)
    assert rocm["devices"] == ["/dev/kfd:/dev/kfd:rwm", "/dev/dri:/dev/dri:rwm"]
    assert rocm["security_opt"] == ["seccomp=unconfined"]
    assert "device_requests" not in container_kwargs("cuda", {"gpus": True}, allow_cpu=True)


def test_parse_results_skips_noise() -> None:
    out = 'warning: something\n{"ok": true, "framework": "jax"}\n{broken\n'
    assert parse_results(out) == [{"ok": True, "framework": "jax"}]
