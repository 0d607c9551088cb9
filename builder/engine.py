"""The only code that talks to Docker: connect, build (as events), inspect, remove.

Builds go through the SDK's low-level streaming API (`APIClient.build(decode=True)`), so the
CLI can show progress live; the high-level `images.build` only returns at the end.
The SDK honours DOCKER_HOST (unix, tcp:// or ssh://), so remote engines work unchanged.
"""

from __future__ import annotations

import io
import os
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from builder.errors import BuildFailed, EngineUnavailable

if TYPE_CHECKING:
    import docker

_STEP_RE = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_PULL_FAILURE = re.compile(
    r"pull access denied|manifest unknown|not found: manifest|no such host|"
    r"dial tcp|TLS handshake timeout|i/o timeout|repository does not exist|connection refused",
    re.IGNORECASE,
)
TAIL_LINES = 25


@dataclass(frozen=True)
class BuildEvent:
    """One thing that happened during a build."""

    kind: Literal["step", "output", "done"]
    text: str
    step: int = 0
    total: int = 0
    image_id: str = ""


def engine_address() -> str:
    return os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")


def connect(timeout: int = 30) -> docker.DockerClient:
    """A client for the engine, or EngineUnavailable with how to fix it."""
    import docker  # heavy import; kept off the start-up path of render/validate
    from docker.errors import DockerException

    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except DockerException as exc:
        raise EngineUnavailable(
            f"The Docker engine at {engine_address()} cannot be reached: {_short(exc)}.",
            hint="Start it (`sudo systemctl start docker`, or `dockerd &` on a machine without "
            "systemd), check that you may use its socket (the docker group), or point "
            "DOCKER_HOST at a remote engine (ssh://user@host or tcp://host:2376).",
        ) from None
    return client


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


def image_exists(client: docker.DockerClient, ref: str) -> bool:
    from docker.errors import ImageNotFound

    try:
        client.images.get(ref)
    except ImageNotFound:
        return False
    return True


def build(
    client: docker.DockerClient,
    context: bytes,
    *,
    tags: list[str],
    base_image: str,
    no_cache: bool = False,
) -> Iterator[BuildEvent]:
    """Build from a tar context; yields events; raises BuildFailed on any failure.

    The classic builder tags only on success, so a failed build leaves no tagged image;
    `forcerm` removes intermediate containers of failed steps too.
    """
    from docker.errors import APIError

    tail: deque[str] = deque(maxlen=TAIL_LINES)
    current = "(before the first step)"
    image_id = ""
    try:
        stream: Iterator[dict[str, Any]] = client.api.build(
            fileobj=io.BytesIO(context), custom_context=True, tag=tags[0], rm=True,
            forcerm=True, nocache=no_cache, pull=False, decode=True,
        )
        for chunk in stream:
            if "error" in chunk:
                raise _build_error(chunk, current, tail, base_image)
            text = chunk.get("stream", "")
            if "aux" in chunk and isinstance(chunk["aux"], dict) and "ID" in chunk["aux"]:
                image_id = str(chunk["aux"]["ID"])
            for line in text.splitlines():
                match = _STEP_RE.match(line.strip())
                if match:
                    current = line.strip()
                    yield BuildEvent("step", match.group(3), int(match.group(1)), int(match.group(2)))
                elif line.strip():
                    tail.append(line)
                    yield BuildEvent("output", line)
                    found = re.match(r"^Successfully built ([0-9a-f]+)", line.strip())
                    if found and not image_id:
                        image_id = found.group(1)
            if chunk.get("status"):  # pulling a base image
                yield BuildEvent("output", str(chunk["status"]))
    except APIError as exc:
        raise BuildFailed(f"The engine rejected the build: {_short(exc)}") from None
    if not image_id:
        raise BuildFailed("The build ended without producing an image.",
                          hint="Last output:\n" + "\n".join(tail))
    for extra in tags[1:]:
        repo, _, tag = extra.rpartition(":")
        client.api.tag(image_id, repo, tag)
    yield BuildEvent("done", image_id, image_id=image_id)


def _build_error(chunk: dict[str, Any], step: str, tail: deque[str], base: str) -> BuildFailed:
    message = str(chunk.get("error", "")).strip()
    if _PULL_FAILURE.search(message) and ("FROM" in step or "(before" in step):
        return BuildFailed(
            f"The base image {base} is not in the engine and cannot be pulled: {message}",
            hint="Fix: pull or `docker load` it on this engine; for debian:bookworm-slim run "
            "scripts/make-base-image.sh (debootstrap, no registry needed); or pass --base-image "
            "with a mirror you can reach.",
        )
    lines = "\n".join(f"    {line}" for line in tail) or "    (no output)"
    return BuildFailed(f"The build failed at {step}\n  error: {message}",
                       hint=f"Last output lines:\n{lines}")


def remove_image(client: docker.DockerClient, ref: str) -> None:
    from docker.errors import DockerException

    try:
        client.images.remove(ref, force=True)
    except DockerException:
        pass


def image_labels(client: docker.DockerClient, ref: str) -> dict[str, str]:
    image = client.images.get(ref)
    return dict(image.labels or {})


def image_size(client: docker.DockerClient, ref: str) -> int:
    return int(client.images.get(ref).attrs.get("Size", 0))


DEV_LABEL = "io.dlenv.dev"


def dev_container_name(profile: str) -> str:
    return f"dlenv-dev-{profile}"


def find_container(client: docker.DockerClient, name: str) -> Any | None:
    from docker.errors import NotFound

    try:
        return client.containers.get(name)
    except NotFound:
        return None


def list_dev_containers(client: docker.DockerClient) -> list[Any]:
    return list(client.containers.list(all=True, filters={"label": DEV_LABEL}))


def run_dev_container(client: docker.DockerClient, *, image: str, name: str, command: list[str],
                      workspace: str, ports: dict[str, tuple[str, int]], labels: dict[str, str],
                      environment: dict[str, str], device_kwargs: dict[str, Any]) -> Any:
    """Start a long-running dev container; the workspace is bind-mounted at /workspace."""
    return client.containers.run(
        image, command, name=name, detach=True, labels={DEV_LABEL: "1", **labels},
        volumes={workspace: {"bind": "/workspace", "mode": "rw"}}, working_dir="/workspace",
        ports=ports, environment=environment, **device_kwargs)


def remove_container(container: Any, timeout: int = 5) -> None:
    from docker.errors import NotFound

    try:
        container.stop(timeout=timeout)
        container.remove(force=True)
    except NotFound:
        pass
