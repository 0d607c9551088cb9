"""JAX runner: an LSTM (lax.scan) and LeNet-5 (lax.conv) in plain JAX, with a hand-written Adam."""

from __future__ import annotations

import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import tasks

Params = dict[str, Any]


def jax_device() -> tuple[str, str]:
    dev = jax.devices()[0]
    platform = dev.platform.lower()
    if platform == "gpu":  # older jaxlib names both vendors "gpu"
        platform = "rocm" if "rocm" in str(getattr(dev, "client", "")).lower() else "cuda"
    kind = platform if platform in ("cuda", "rocm") else "cpu"
    return kind, str(getattr(dev, "device_kind", platform))


def _dense(key: jax.Array, fan_in: int, fan_out: int) -> Params:
    return {"w": jax.random.normal(key, (fan_in, fan_out)) / np.sqrt(fan_in), "b": jnp.zeros((fan_out,))}


def init_lstm(key: jax.Array, hidden: int = 32) -> Params:
    k1, k2, k3 = jax.random.split(key, 3)
    return {
        "wx": jax.random.normal(k1, (1, 4 * hidden)) * 0.3,
        "wh": jax.random.normal(k2, (hidden, 4 * hidden)) / np.sqrt(hidden),
        "b": jnp.zeros((4 * hidden,)).at[hidden : 2 * hidden].set(1.0),  # forget-gate bias 1
        "out": _dense(k3, hidden, 1),
    }


def lstm_forward(p: Params, x: jax.Array) -> jax.Array:
    hidden = p["wh"].shape[0]

    def cell(carry: tuple[jax.Array, jax.Array], xt: jax.Array) -> tuple[Any, None]:
        h, c = carry
        z = xt @ p["wx"] + h @ p["wh"] + p["b"]
        i, f, g, o = jnp.split(z, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), None

    zeros = jnp.zeros((x.shape[0], hidden))
    (h, _), _ = jax.lax.scan(cell, (zeros, zeros), jnp.swapaxes(x, 0, 1))
    return h @ p["out"]["w"] + p["out"]["b"]


def init_lenet(key: jax.Array) -> Params:
    k = jax.random.split(key, 5)
    return {
        "c1": jax.random.normal(k[0], (5, 5, 1, 6)) / 5.0,
        "c2": jax.random.normal(k[1], (5, 5, 6, 16)) / np.sqrt(150.0),
        "f1": _dense(k[2], 400, 120),
        "f2": _dense(k[3], 120, 84),
        "f3": _dense(k[4], 84, tasks.CLASSES),
    }


def _conv(x: jax.Array, w: jax.Array, padding: str) -> jax.Array:
    return jax.lax.conv_general_dilated(x, w, (1, 1), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _pool(x: jax.Array) -> jax.Array:
    return jax.lax.reduce_window(x, 0.0, jax.lax.add, (1, 2, 2, 1), (1, 2, 2, 1), "VALID") / 4.0


def lenet_forward(p: Params, x: jax.Array) -> jax.Array:
    x = _pool(jnp.tanh(_conv(x, p["c1"], "SAME")))
    x = _pool(jnp.tanh(_conv(x, p["c2"], "VALID")))
    x = x.reshape(x.shape[0], -1)
    x = jnp.tanh(x @ p["f1"]["w"] + p["f1"]["b"])
    x = jnp.tanh(x @ p["f2"]["w"] + p["f2"]["b"])
    return x @ p["f3"]["w"] + p["f3"]["b"]


def train(model: str, device: str, steps: int, allow_cpu: bool) -> dict[str, object]:
    rng = np.random.default_rng(0)
    key = jax.random.PRNGKey(0)
    kind, name = jax_device()
    if model == "lstm":
        params, lr = init_lstm(key), 1e-2

        def loss_fn(p: Params, x: jax.Array, y: jax.Array) -> jax.Array:
            return jnp.mean((lstm_forward(p, x) - y) ** 2)
    else:
        params, lr = init_lenet(key), 2e-3

        def loss_fn(p: Params, x: jax.Array, y: jax.Array) -> jax.Array:
            logits = lenet_forward(p, x)
            return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))

    m = jax.tree_util.tree_map(jnp.zeros_like, params)
    v = jax.tree_util.tree_map(jnp.zeros_like, params)

    @jax.jit
    def step(
        params: Params, m: Params, v: Params, t: jax.Array, x: jax.Array, y: jax.Array
    ) -> tuple[Params, Params, Params, jax.Array]:
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        m = jax.tree_util.tree_map(lambda a, g: 0.9 * a + 0.1 * g, m, grads)
        v = jax.tree_util.tree_map(lambda a, g: 0.999 * a + 0.001 * g * g, v, grads)
        scale = lr * jnp.sqrt(1 - 0.999**t) / (1 - 0.9**t)
        params = jax.tree_util.tree_map(lambda p, a, b: p - scale * a / (jnp.sqrt(b) + 1e-8), params, m, v)
        return params, m, v, loss

    tmpl = tasks.templates()
    losses: list[float] = []
    start = time.perf_counter()
    for t in range(1, steps + 1):
        x, y = tasks.sine_batch(rng) if model == "lstm" else tasks.image_batch(rng, tmpl)
        params, m, v, loss = step(params, m, v, jnp.float32(t), jnp.asarray(x), jnp.asarray(y))
        losses.append(float(loss))
    seconds = time.perf_counter() - start
    return tasks.trained(jax.__version__, kind, name, losses, steps, seconds)


def perf(device: str, allow_cpu: bool) -> dict[str, object]:
    """Matrix product and device copy throughput, jitted (see perfstep.py)."""
    import perfstep

    kind, name = jax_device()
    on_gpu = kind != "cpu"
    n, mib = perfstep.sizes(on_gpu)
    dtype = jnp.bfloat16 if on_gpu else jnp.float32
    start = time.perf_counter()
    ka, kb = jax.random.split(jax.random.PRNGKey(0))
    a = jax.random.normal(ka, (n, n), dtype=dtype)
    b = jax.random.normal(kb, (n, n), dtype=dtype)
    last: list[jax.Array] = []
    matmul = jax.jit(jnp.matmul)
    copy = jax.jit(lambda x: jnp.copy(x))  # a new buffer: the input is not donated

    def sync() -> None:
        last[-1].block_until_ready()

    def keep(array: jax.Array) -> None:
        last[:] = [array]

    matmul_s = perfstep.seconds_per_call(lambda: keep(matmul(a, b)), sync)
    src = jnp.ones((mib * 2**20 // 4,), jnp.float32)
    copy_s = perfstep.seconds_per_call(lambda: keep(copy(src)), sync)
    return perfstep.report(
        version=jax.__version__,
        device=kind,
        device_name=name,
        dtype=jnp.dtype(dtype).name,
        n=n,
        matmul_s=matmul_s,
        copy_mib=mib,
        copy_s=copy_s,
        seconds=time.perf_counter() - start,
    )
