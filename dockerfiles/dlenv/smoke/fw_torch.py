"""PyTorch runner: the seed document's LSTM and LeNet-5, trained with Adam."""

from __future__ import annotations

import time

import numpy as np
import tasks
import torch
from torch import nn


class LSTM(nn.Module):
    """The seed's LSTM: last hidden state through a linear layer."""

    def __init__(self, input_size: int = 1, hidden_size: int = 32, output_size: int = 1) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.lstm = nn.LSTM(input_size, hidden_size, batch_first=True)
        self.fc = nn.Linear(hidden_size, output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h0 = torch.zeros(1, x.size(0), self.hidden_size, device=x.device)
        c0 = torch.zeros(1, x.size(0), self.hidden_size, device=x.device)
        output, _ = self.lstm(x, (h0, c0))
        return self.fc(output[:, -1, :])


class LeNet5(nn.Module):
    def __init__(self, classes: int = tasks.CLASSES) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2),
            nn.Tanh(),
            nn.AvgPool2d(2),
            nn.Conv2d(6, 16, 5),
            nn.Tanh(),
            nn.AvgPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120),
            nn.Tanh(),
            nn.Linear(120, 84),
            nn.Tanh(),
            nn.Linear(84, classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def pick_device(requested: str, allow_cpu: bool) -> tuple[torch.device, str, str]:
    """(torch device, dlenv device name, human device name). ROCm builds expose 'cuda' too."""
    if requested != "cpu" and torch.cuda.is_available():
        kind = "rocm" if getattr(torch.version, "hip", None) else "cuda"
        return torch.device("cuda"), kind, torch.cuda.get_device_name(0)
    return torch.device("cpu"), "cpu", "cpu"


def train(model: str, device: str, steps: int, allow_cpu: bool) -> dict[str, object]:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    dev, kind, name = pick_device(device, allow_cpu)
    if model == "lstm":
        net: nn.Module = LSTM().to(dev)
        loss_fn: nn.Module = nn.MSELoss()
        lr = 1e-2
    else:
        net = LeNet5().to(dev)
        loss_fn = nn.CrossEntropyLoss()
        tmpl = tasks.templates()
        lr = 2e-3
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    losses: list[float] = []
    start = time.perf_counter()
    for _ in range(steps):
        if model == "lstm":
            x_np, y_np = tasks.sine_batch(rng)
            x, y = torch.from_numpy(x_np).to(dev), torch.from_numpy(y_np).to(dev)
        else:
            x_np, y_np = tasks.image_batch(rng, tmpl)
            x = torch.from_numpy(x_np).permute(0, 3, 1, 2).contiguous().to(dev)
            y = torch.from_numpy(y_np).to(dev)
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach().cpu()))
    if dev.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return tasks.trained(torch.__version__, kind, name, losses, steps, seconds)


def perf(device: str, allow_cpu: bool) -> dict[str, object]:
    """Matrix product and device copy throughput (see perfstep.py)."""
    import perfstep

    dev, kind, name = pick_device(device, allow_cpu)
    on_gpu = dev.type == "cuda"
    n, mib = perfstep.sizes(on_gpu)
    dtype = torch.bfloat16 if on_gpu else torch.float32
    start = time.perf_counter()
    with torch.no_grad():
        a = torch.randn(n, n, device=dev, dtype=dtype)
        b = torch.randn(n, n, device=dev, dtype=dtype)
        c = torch.empty(n, n, device=dev, dtype=dtype)

        def sync() -> None:
            if on_gpu:
                torch.cuda.synchronize()

        matmul_s = perfstep.seconds_per_call(lambda: torch.matmul(a, b, out=c), sync)
        src = torch.ones(mib * 2**20 // 4, device=dev, dtype=torch.float32)
        dst = torch.empty_like(src)
        copy_s = perfstep.seconds_per_call(lambda: dst.copy_(src), sync)
    return perfstep.report(
        version=torch.__version__,
        device=kind,
        device_name=name,
        dtype=str(dtype).removeprefix("torch."),
        n=n,
        matmul_s=matmul_s,
        copy_mib=mib,
        copy_s=copy_s,
        seconds=time.perf_counter() - start,
    )
