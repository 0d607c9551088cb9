"""Apache MXNet (legacy) runner: Gluon LSTM and LeNet-5."""

from __future__ import annotations

import time

import mxnet as mx
import numpy as np
import tasks
from mxnet import autograd, gluon


def pick_context(requested: str) -> tuple[mx.Context, str, str]:
    if requested != "cpu" and mx.context.num_gpus() > 0:
        return mx.gpu(0), "cuda", "gpu(0)"
    return mx.cpu(), "cpu", "cpu"


class LSTMNet(gluon.nn.HybridBlock):
    def __init__(self, hidden: int = 32) -> None:
        super().__init__()
        with self.name_scope():
            self.lstm = gluon.rnn.LSTM(hidden, layout="NTC")
            self.fc = gluon.nn.Dense(1)

    def hybrid_forward(self, F, x):  # type: ignore[no-untyped-def]  # Gluon API
        out = self.lstm(x)
        return self.fc(F.squeeze(F.slice_axis(out, axis=1, begin=-1, end=None), axis=1))


def lenet() -> gluon.nn.HybridSequential:
    net = gluon.nn.HybridSequential()
    with net.name_scope():
        net.add(
            gluon.nn.Conv2D(6, 5, padding=2, activation="tanh"),
            gluon.nn.AvgPool2D(2),
            gluon.nn.Conv2D(16, 5, activation="tanh"),
            gluon.nn.AvgPool2D(2),
            gluon.nn.Flatten(),
            gluon.nn.Dense(120, activation="tanh"),
            gluon.nn.Dense(84, activation="tanh"),
            gluon.nn.Dense(tasks.CLASSES),
        )
    return net


def train(model: str, device: str, steps: int, allow_cpu: bool) -> dict[str, object]:
    mx.random.seed(0)
    rng = np.random.default_rng(0)
    ctx, kind, name = pick_context(device)
    if model == "lstm":
        net: gluon.Block = LSTMNet()
        loss_fn: gluon.loss.Loss = gluon.loss.L2Loss()
        lr = 1e-2
    else:
        net = lenet()
        loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
        lr = 2e-3
    net.initialize(mx.init.Xavier(), ctx=ctx)
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": lr})
    tmpl = tasks.templates()
    losses: list[float] = []
    start = time.perf_counter()
    for _ in range(steps):
        if model == "lstm":
            x_np, y_np = tasks.sine_batch(rng)
        else:
            x_np, y_np = tasks.image_batch(rng, tmpl)
            x_np = x_np.transpose(0, 3, 1, 2)
        x = mx.nd.array(x_np, ctx=ctx)
        y = mx.nd.array(y_np, ctx=ctx)
        with autograd.record():
            loss = loss_fn(net(x), y)
        loss.backward()
        trainer.step(tasks.BATCH)
        losses.append(float(loss.mean().asscalar()))
    seconds = time.perf_counter() - start
    return tasks.trained(mx.__version__, kind, name, losses, steps, seconds)


def perf(device: str, allow_cpu: bool) -> dict[str, object]:
    """Matrix product and device copy throughput (see perfstep.py). MXNet 1.9 has no bf16 on
    GPUs: fp16 stands in there."""
    import perfstep

    ctx, kind, name = pick_context(device)
    on_gpu = kind != "cpu"
    n, mib = perfstep.sizes(on_gpu)
    dtype = "float16" if on_gpu else "float32"
    start = time.perf_counter()
    a = mx.nd.random.normal(shape=(n, n), ctx=ctx).astype(dtype)
    b = mx.nd.random.normal(shape=(n, n), ctx=ctx).astype(dtype)
    matmul_s = perfstep.seconds_per_call(lambda: mx.nd.dot(a, b), mx.nd.waitall)
    src = mx.nd.ones((mib * 2**20 // 4,), ctx=ctx, dtype="float32")
    copy_s = perfstep.seconds_per_call(lambda: src.copy(), mx.nd.waitall)
    return perfstep.report(
        version=mx.__version__,
        device=kind,
        device_name=name,
        dtype=dtype,
        n=n,
        matmul_s=matmul_s,
        copy_mib=mib,
        copy_s=copy_s,
        seconds=time.perf_counter() - start,
    )
