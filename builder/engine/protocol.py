"""The engine seam: everything dlenv asks of a container engine, as one protocol and plain data.

The core (pipeline, smoke, pin, host, dev) talks to an `Engine` it is handed; the Docker SDK
lives behind it in `docker_engine.py`, the only module that imports the SDK. Unit tests hand the
core a fake that implements this protocol (tests/fakes.py); integration tests the real one.
Every answer is plain data (IDs, names, labels), never an SDK object, so nothing above this
line depends on how Docker spells things.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from builder.events import BuildOutput, BuildStep, Emit
from builder.spec import RuntimeOptions


@dataclass(frozen=True)
class EngineInfo:
    """Where the engine runs and what it offers (`docker info`)."""

    address: str  # unix:///var/run/docker.sock, tcp://host:2376, ssh://...
    name: str  # the engine host's name
    os_type: str  # linux | windows
    arch: str  # x86_64 | aarch64 | ...
    rootless: bool
    version: str | None = None
    storage_driver: str | None = None
    root_dir: str | None = None
    runtimes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImageInfo:
    id: str
    labels: Mapping[str, str] = field(default_factory=dict)
    size: int = 0
    tags: tuple[str, ...] = ()
    repo_digests: tuple[str, ...] = ()  # repo@sha256:... of the registries it came from
    platform: str = "linux/amd64"  # os/architecture of the image config


@dataclass(frozen=True)
class ContainerInfo:
    id: str
    name: str
    status: str  # created | running | exited | dead | ...
    labels: Mapping[str, str] = field(default_factory=dict)
    image: str = ""  # the reference it was created from
    exit_code: int | None = None


@dataclass(frozen=True)
class BuiltImage:
    """The last event of a successful build."""

    image_id: str


@dataclass(frozen=True)
class BuildContainer:
    """The classic builder started an intermediate container (cleanup must know it)."""

    container_id: str


@dataclass(frozen=True)
class BuildLayer:
    """A step's image (committed or from the cache): the next step's container starts from it.

    The engine may create that container before the stream names it; an interrupted build's
    cleanup finds it by this parent image.
    """

    image_id: str


BuildEvent = BuildStep | BuildOutput | BuildContainer | BuildLayer | BuiltImage


@dataclass(frozen=True)
class RunRequest:
    """A container to create and start, named and labelled before it exists."""

    image: str
    command: tuple[str, ...]
    name: str
    labels: Mapping[str, str]
    runtime: RuntimeOptions | None = None  # the accelerator's options (shm size, GPUs, devices)
    devices: bool = True  # False: leave the GPU out (a CPU run of a GPU image)
    environment: Mapping[str, str] = field(default_factory=dict)
    volumes: Mapping[str, str] = field(default_factory=dict)  # host path -> container path (rw)
    ports: Mapping[int, tuple[str, int]] = field(default_factory=dict)  # container port -> (ip, port)
    working_dir: str | None = None
    network: bool = True
    platform: str | None = None  # os/arch of the image, for emulated runs


class Engine(Protocol):
    """What dlenv needs of a container engine. Calls raise EngineUnavailable (exit 3) when the
    engine stops answering; image lookups answer None for what does not exist."""

    @property
    def address(self) -> str: ...

    def info(self) -> EngineInfo: ...

    def build(
        self,
        context: bytes,
        *,
        no_cache: bool = False,
        base_image: str = "",
        extra_hosts: Mapping[str, str] | None = None,
        platform: str | None = None,
    ) -> Iterator[BuildEvent]:
        """Build an untagged image from a tar context; raises BuildFailed on any failure."""
        ...

    def image(self, ref: str) -> ImageInfo | None: ...

    def tag(self, image: str, ref: str) -> None: ...

    def remove_image(self, ref: str, *, force: bool = False) -> bool:
        """Remove a tag (and the image, once untagged and unused); False when absent."""
        ...

    def registry_digest(self, ref: str) -> str | None:
        """The digest the registry serves for a reference, or None when it cannot be asked."""
        ...

    def push(self, repository: str, tag: str, emit: Emit) -> str | None:
        """Push one tag; the digest the registry answered (None: it did not say)."""
        ...

    def run(self, request: RunRequest) -> str:
        """Create and start a detached container; its ID. ContainerStartFailed if refused."""
        ...

    def container(self, name_or_id: str) -> ContainerInfo | None: ...

    def containers_from(self, image_id: str, *, created_since: float) -> list[str]:
        """IDs of containers created from this image *ID* (not a name) since an epoch time."""
        ...

    def containers(self, label: str, value: str | None = None) -> list[ContainerInfo]:
        """Every container (any state) with a label (and value)."""
        ...

    def logs(self, container: str, *, tail: int | None = None) -> tuple[bytes, bytes]: ...

    def start(self, container: str) -> None: ...

    def stop(self, container: str, *, timeout: int = 5) -> None: ...

    def remove_container(self, container: str) -> bool:
        """Kill and remove a container and its anonymous volumes; False when absent."""
        ...

    def close(self) -> None: ...


# How the core opens a (fresh) engine connection with a call timeout in seconds: cleanup uses
# its own short-timeout connection, never the one a signal may have interrupted mid-request.
Connect = Callable[[int], Engine]
