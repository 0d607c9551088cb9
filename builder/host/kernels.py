"""Does this host's GPU have kernels in the image? From nvidia-smi and the image's architectures.

doctor checks a profile's builds; `dev up` and `smoke IMAGE` check an image's label
(io.dlenv.gpu-archs) before they start a container, so "no kernel image is available for
execution on the device" is said up front, with the fix, instead of inside the container.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from builder import names
from builder.facts.gpus import Gpu, load_gpu_facts, runs_on, sm
from builder.host.probe import NvidiaGpu, NvidiaReport

Architectures = Mapping[str, Mapping[str, Sequence[str]]]  # framework -> {"sass": [...], "ptx": [...]}


@dataclass(frozen=True)
class Verdict:
    """How one framework of the image runs on one GPU of the host."""

    framework: str
    gpu: Gpu
    runs: str | None  # "sass", "ptx" (compiled by the driver on first use) or None: no kernels
    carried: str

    def sentence(self, device: str) -> str:
        if self.runs is None:
            return (
                f"{device} ({sm(self.gpu.cc)}) has no kernels in the image's {self.framework}: "
                f"it carries {self.carried}"
            )
        return (
            f"{device} ({sm(self.gpu.cc)}) runs the image's {self.framework} through PTX, which the "
            "driver compiles on first use (a slow first start)"
        )


def host_gpu(reported: NvidiaGpu) -> Gpu | None:
    """The facts of a GPU nvidia-smi listed: its row in the table, else its compute capability."""
    facts = load_gpu_facts()
    known = facts.from_name(reported.name)
    if known is not None:
        return known
    return facts.gpu(reported.compute_cap) if reported.compute_cap else None


def verdicts(archs: Architectures, gpu: Gpu) -> list[Verdict]:
    """Each framework's verdict for a GPU (only those that do not simply run its SASS)."""
    out = []
    for framework, built in sorted(archs.items()):
        sass, ptx = list(built.get("sass", ())), list(built.get("ptx", ()))
        runs = runs_on(sass, ptx, gpu)
        if runs != "sass":
            carried = " ".join(sm(c) for c in sass) + (" + PTX" if ptx else "")
            out.append(Verdict(framework, gpu, runs, carried or "no architecture"))
    return out


def label_architectures(labels: Mapping[str, str]) -> Architectures:
    """The architectures an image's label records (empty for images without one)."""
    raw = labels.get(names.LABEL_GPU_ARCHS)
    try:
        data = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def preflight(labels: Mapping[str, str], report: NvidiaReport | None) -> list[str]:
    """Why an image cannot run on this host's GPUs (empty: it can, or nothing to tell)."""
    archs = label_architectures(labels)
    if not archs or report is None:
        return []
    problems = []
    for reported in report.gpus:
        gpu = host_gpu(reported)
        if gpu is None:
            continue
        problems += [v.sentence(reported.name) for v in verdicts(archs, gpu) if v.runs is None]
    return problems
