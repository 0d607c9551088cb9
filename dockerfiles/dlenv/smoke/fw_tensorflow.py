"""TensorFlow runner: tf.keras LSTM and LeNet-5 trained with a tf.function step."""

from __future__ import annotations

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tasks  # noqa: E402
import tensorflow as tf  # noqa: E402


def gpu_device(requested: str) -> tuple[str, str]:
    gpus = tf.config.list_physical_devices("GPU")
    if requested == "cpu" or not gpus:
        return "cpu", "cpu"
    details = tf.config.experimental.get_device_details(gpus[0])
    kind = "rocm" if tf.test.is_built_with_rocm() else "cuda"
    return kind, str(details.get("device_name", gpus[0].name))


def build(model: str) -> tf.keras.Model:
    layers = tf.keras.layers
    if model == "lstm":
        return tf.keras.Sequential([tf.keras.Input((tasks.SEQ_LEN, 1)), layers.LSTM(32), layers.Dense(1)])
    return tf.keras.Sequential(
        [
            tf.keras.Input((28, 28, 1)),
            layers.Conv2D(6, 5, padding="same", activation="tanh"),
            layers.AveragePooling2D(2),
            layers.Conv2D(16, 5, activation="tanh"),
            layers.AveragePooling2D(2),
            layers.Flatten(),
            layers.Dense(120, activation="tanh"),
            layers.Dense(84, activation="tanh"),
            layers.Dense(tasks.CLASSES),
        ]
    )


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
    return {
        "framework_version": tf.__version__,
        "device": kind,
        "device_name": name,
        "losses": losses,
        "samples": steps * tasks.BATCH,
        "seconds": seconds,
    }
