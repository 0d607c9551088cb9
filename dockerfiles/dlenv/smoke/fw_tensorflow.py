"""TensorFlow runner: tf.keras LSTM and LeNet-5 trained with a tf.function step."""

from __future__ import annotations

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tasks
import tensorflow as tf


def gpu_device(requested: str) -> tuple[str, str]:
    gpus = tf.config.list_physical_devices("GPU")
    if requested == "cpu" or not gpus:
        return "cpu", "cpu"
    details = tf.config.experimental.get_device_details(gpus[0])
    kind = "rocm" if tf.test.is_built_with_rocm() else "cuda"
    return kind, str(details.get("device_name", gpus[0].name))


def build(model: str) -> tf.keras.Model:
    return tasks.keras_net(tf.keras, model)


def train(model: str, device: str, steps: int, allow_cpu: bool) -> dict[str, object]:
    tf.random.set_seed(0)
    rng = np.random.default_rng(0)
    kind, name = gpu_device(device)
    with tf.device("/GPU:0" if kind != "cpu" else "/CPU:0"):
        net = build(model)
        if model == "lstm":
            loss_fn = tf.keras.losses.MeanSquaredError()
            opt = tf.keras.optimizers.Adam(1e-2)
        else:
            loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            opt = tf.keras.optimizers.Adam(2e-3)

        @tf.function
        def step(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
            with tf.GradientTape() as tape:
                loss = loss_fn(y, net(x, training=True))
            opt.apply_gradients(
                zip(tape.gradient(loss, net.trainable_variables), net.trainable_variables, strict=True)
            )
            return loss

        tmpl = tasks.templates()
        losses: list[float] = []
        start = time.perf_counter()
        for _ in range(steps):
            x, y = tasks.sine_batch(rng) if model == "lstm" else tasks.image_batch(rng, tmpl)
            losses.append(float(step(tf.constant(x), tf.constant(y))))
        seconds = time.perf_counter() - start
    return tasks.trained(tf.__version__, kind, name, losses, steps, seconds)


def perf(device: str, allow_cpu: bool) -> dict[str, object]:
    """Matrix product and device copy throughput (see perfstep.py)."""
    import perfstep

    kind, name = gpu_device(device)
    on_gpu = kind != "cpu"
    n, mib = perfstep.sizes(on_gpu)
    dtype = tf.bfloat16 if on_gpu else tf.float32
    start = time.perf_counter()
    last: list[tf.Tensor] = []

    def sync() -> None:  # reading one element waits for the op that produced it
        float(last[-1][0, 0] if len(last[-1].shape) == 2 else last[-1][0])

    def keep(tensor: tf.Tensor) -> None:
        last[:] = [tensor]

    with tf.device("/GPU:0" if on_gpu else "/CPU:0"):
        a = tf.cast(tf.random.normal((n, n)), dtype)
        b = tf.cast(tf.random.normal((n, n)), dtype)
        matmul_s = perfstep.seconds_per_call(lambda: keep(tf.linalg.matmul(a, b)), sync)
        src = tf.ones((mib * 2**20 // 4,), tf.float32)
        copy_s = perfstep.seconds_per_call(lambda: keep(tf.raw_ops.DeepCopy(x=src)), sync)
    return perfstep.report(
        version=tf.__version__,
        device=kind,
        device_name=name,
        dtype=dtype.name,
        n=n,
        matmul_s=matmul_s,
        copy_mib=mib,
        copy_s=copy_s,
        seconds=time.perf_counter() - start,
    )
