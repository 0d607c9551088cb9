"""Keras 3 runner, on whichever backend KERAS_BACKEND selects (tensorflow, jax or torch)."""

from __future__ import annotations

import os
import time

import numpy as np
import tasks


def backend_device(requested: str) -> tuple[str, str]:
    """Which device the active Keras backend will use: (dlenv device, human name)."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import fw_tensorflow

        return fw_tensorflow.gpu_device(requested)
    if backend == "jax":
        import fw_jax

        return fw_jax.jax_device()
    if backend == "torch":
        import fw_torch

        _, kind, name = fw_torch.pick_device(requested, allow_cpu=True)
        return kind, name
    return "cpu", "cpu"


def _version() -> str:
    import keras

    return f"{keras.__version__} ({os.environ.get('KERAS_BACKEND', 'tensorflow')})"


def build(model: str):  # type: ignore[no-untyped-def]
    import keras

    net = tasks.keras_net(keras, model)
    if model == "lstm":
        net.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    else:
        net.compile(
            optimizer=keras.optimizers.Adam(2e-3),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
    return net


def train(model: str, device: str, steps: int, allow_cpu: bool) -> dict[str, object]:
    import keras

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    kind, name = backend_device(device)
    net = build(model)
    tmpl = tasks.templates()
    losses: list[float] = []
    start = time.perf_counter()
    for _ in range(steps):
        x, y = tasks.sine_batch(rng) if model == "lstm" else tasks.image_batch(rng, tmpl)
        losses.append(float(net.train_on_batch(x, y)))
    seconds = time.perf_counter() - start
    return tasks.trained(_version(), kind, name, losses, steps, seconds)


def perf(device: str, allow_cpu: bool) -> dict[str, object]:
    """Matrix product and device copy throughput through keras.ops (see perfstep.py)."""
    import keras
    import perfstep

    kind, name = backend_device(device)
    on_gpu = kind != "cpu"
    n, mib = perfstep.sizes(on_gpu)
    dtype = "bfloat16" if on_gpu else "float32"
    start = time.perf_counter()
    last: list[object] = []

    def sync() -> None:  # converting one element waits for the op that produced it
        tensor = last[-1]
        keras.ops.convert_to_numpy(tensor[0, 0] if len(tensor.shape) == 2 else tensor[0])  # type: ignore[attr-defined,index]

    def keep(tensor: object) -> None:
        last[:] = [tensor]

    a = keras.random.normal((n, n), dtype=dtype, seed=1)
    b = keras.random.normal((n, n), dtype=dtype, seed=2)
    matmul_s = perfstep.seconds_per_call(lambda: keep(keras.ops.matmul(a, b)), sync)
    src = keras.ops.ones((mib * 2**20 // 4,), dtype="float32")
    copy_s = perfstep.seconds_per_call(lambda: keep(keras.ops.copy(src)), sync)
    return perfstep.report(
        version=_version(),
        device=kind,
        device_name=name,
        dtype=dtype,
        n=n,
        matmul_s=matmul_s,
        copy_mib=mib,
        copy_s=copy_s,
        seconds=time.perf_counter() - start,
    )
