"""Progress events of the core pipeline. The core emits them; only the CLI renders them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Note:
    """Something the user should know (a skipped host setting, a copied wheelhouse)."""

    text: str


@dataclass(frozen=True)
class BuildStarted:
    image: str
    base_image: str
    context_bytes: int
    engine: str


@dataclass(frozen=True)
class BuildStep:
    step: int
    total: int
    text: str


@dataclass(frozen=True)
class BuildOutput:
    text: str


@dataclass(frozen=True)
class BuildFinished:
    tags: tuple[str, ...]
    seconds: float
    size_bytes: int


@dataclass(frozen=True)
class SmokeStarted:
    image: str
    accelerator: str
    allow_cpu: bool


@dataclass(frozen=True)
class PushProgress:
    text: str


Event = Note | BuildStarted | BuildStep | BuildOutput | BuildFinished | SmokeStarted | PushProgress
Emit = Callable[[Event], None]


def ignore(_event: Event) -> None:
    """An Emit for callers that do not show progress (tests, benchmarks)."""
