"""Synthetic, learnable tasks shared by every framework runner (NumPy only; the Keras net is
built from whichever Keras API the runner passes in).

LSTM: read a noisy sine wave of random frequency and phase, predict its next value.
LeNet-5: classify 28x28 images of ten fixed random templates plus noise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SEQ_LEN = 24
BATCH = 64
CLASSES = 10


def sine_batch(rng: np.random.Generator, batch: int = BATCH) -> tuple[np.ndarray, np.ndarray]:
    """x: (batch, SEQ_LEN, 1) float32, y: (batch, 1): the next value of each wave."""
    freq = rng.uniform(0.2, 0.6, size=(batch, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(batch, 1))
    t = np.arange(SEQ_LEN + 1)[None, :]
    wave = np.sin(freq * t + phase) + rng.normal(0, 0.02, size=(batch, SEQ_LEN + 1))
    x = wave[:, :SEQ_LEN, None].astype(np.float32)
    y = wave[:, SEQ_LEN:].astype(np.float32)
    return x, y


def templates(seed: int = 7) -> np.ndarray:
    """Ten fixed 28x28 class templates."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 1, size=(CLASSES, 28, 28))
    # Smooth them a little so a 5x5 convolution has structure to find.
    kernel = np.ones(3) / 3
    for axis in (1, 2):
        base = np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="same"), axis, base)
    return base.astype(np.float32)


def image_batch(
    rng: np.random.Generator, tmpl: np.ndarray, batch: int = BATCH
) -> tuple[np.ndarray, np.ndarray]:
    """x: (batch, 28, 28, 1) float32 (NHWC), y: (batch,) int class labels."""
    labels = rng.integers(0, CLASSES, size=batch)
    x = tmpl[labels] + rng.normal(0, 0.5, size=(batch, 28, 28)).astype(np.float32)
    return x[..., None].astype(np.float32), labels.astype(np.int64)


def trained(
    version: str, kind: str, name: str, losses: list[float], steps: int, seconds: float
) -> dict[str, object]:
    """What every framework's train() reports to smoke.py."""
    return {
        "framework_version": version,
        "device": kind,
        "device_name": name,
        "losses": losses,
        "samples": steps * BATCH,
        "seconds": seconds,
    }


def keras_net(api: Any, model: str) -> Any:
    """The seed's LSTM or LeNet-5 as a Sequential, from Keras 3 (`keras`) or `tf.keras`."""
    layers = api.layers
    if model == "lstm":
        return api.Sequential([api.Input((SEQ_LEN, 1)), layers.LSTM(32), layers.Dense(1)])
    return api.Sequential(
        [
            api.Input((28, 28, 1)),
            layers.Conv2D(6, 5, padding="same", activation="tanh"),
            layers.AveragePooling2D(2),
            layers.Conv2D(16, 5, activation="tanh"),
            layers.AveragePooling2D(2),
            layers.Flatten(),
            layers.Dense(120, activation="tanh"),
            layers.Dense(84, activation="tanh"),
            layers.Dense(CLASSES),
        ]
    )
