"""The performance step: how fast a dense matrix product and a device memory copy run.

A smoke test that only trains proves the image works, not that it works at speed: a wrong
wheel variant or a CUDA fallback can leave a GPU image "working" at a fraction of its speed.
Each framework runner times two things with this module, in about a second:

* a dense n x n matrix product: bf16 on a GPU (what the tensor cores are for), fp32 on the
  CPU; reported as TFLOP/s = 2 n^3 / time;
* a copy of one buffer into another on the device; reported as GB/s of traffic = 2 x bytes /
  time (each byte is read once and written once, as STREAM's copy counts it).
"""

from __future__ import annotations

import time
from collections.abc import Callable

BUDGET_S = 0.25  # of timed calls per measurement, after one warm-up call
MATMUL_N = {"gpu": 8192, "cpu": 1024}
COPY_MIB = {"gpu": 1024, "cpu": 64}


def sizes(on_gpu: bool) -> tuple[int, int]:
    """(matrix side n, copy buffer MiB) for the device."""
    kind = "gpu" if on_gpu else "cpu"
    return MATMUL_N[kind], COPY_MIB[kind]


def seconds_per_call(call: Callable[[], object], sync: Callable[[], object]) -> float:
    """Warm up once, then double the number of calls until a batch takes BUDGET_S."""
    call()
    sync()
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            call()
        sync()
        elapsed = time.perf_counter() - start
        if elapsed >= BUDGET_S or calls >= 1 << 14:
            return elapsed / calls
        calls *= 2


def report(
    *,
    version: str,
    device: str,
    device_name: str,
    dtype: str,
    n: int,
    matmul_s: float,
    copy_mib: int,
    copy_s: float,
    seconds: float,
) -> dict[str, object]:
    """The runner's result for the perf step (smoke.py adds the verdict)."""
    return {
        "framework_version": version,
        "device": device,
        "device_name": device_name,
        "matmul_dtype": dtype,
        "matmul_n": n,
        "matmul_tflops": round(2 * n**3 / matmul_s / 1e12, 4),
        "copy_mib": copy_mib,
        "copy_gbps": round(2 * copy_mib * 2**20 / copy_s / 1e9, 2),
        "seconds": seconds,
    }
