"""The only code that talks to Docker: connect, build (as events), tag, inspect, run, remove.

Builds go through the SDK's low-level streaming API (`APIClient.build(decode=True)`), so the
CLI can show progress live. The SDK honours DOCKER_HOST (unix, tcp:// or ssh://), so remote
engines work unchanged. Every call has a timeout, and an engine that stops answering in the
middle of a call becomes EngineUnavailable (exit 3), never a traceback.
"""

from __future__ import annotations

import io
import os
import re
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from builder.errors import BuildFailed, ContainerStartFailed, EngineUnavailable
from builder.events import BuildOutput, BuildStep
from builder.inputs.layout import INPUTS_HOST

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container

_STEP_RE = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_RUNNING_IN_RE = re.compile(r"^ ---> Running in ([0-9a-f]{12,64})$")
_PULL_FAILURE = re.compile(
    r"pull access denied|manifest unknown|not found: manifest|no such host|"
    r"dial tcp|TLS handshake timeout|i/o timeout|repository does not exist|connection refused",
    re.IGNORECASE,
)
_DISK_FULL = re.compile(r"no space left on device", re.IGNORECASE)
TAIL_LINES = 25
# Short calls (inspect, tag, remove) answer in well under a second on a healthy engine.
SHORT_TIMEOUT = 30


@dataclass(frozen=True)
class BuiltImage:
    """The last event of a successful build."""

    image_id: str


@dataclass(frozen=True)
class BuildContainer:
    """The classic builder started an intermediate container (cleanup must know it)."""

    container_id: str


def engine_address() -> str:
    return os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")


@dataclass(frozen=True)
class EngineFacts:
    """What a build needs to know about the engine: where it runs and on what."""

    name: str  # the engine host's name
    os_type: str  # linux | windows
    arch: str  # x86_64 | aarch64 | ...
    rootless: bool


def engine_facts(client: docker.DockerClient) -> EngineFacts:
    with answering("reading the engine's facts"):
        info = client.info()
    security = [str(option) for option in info.get("SecurityOptions") or []]
    return EngineFacts(
        name=str(info.get("Name", "")),
        os_type=str(info.get("OSType", "linux")),
        arch=str(info.get("Architecture", "")),
        rootless=any("name=rootless" in option for option in security),
    )


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


def connect(timeout: int = 60) -> docker.DockerClient:
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


@contextmanager
def answering(doing: str) -> Iterator[None]:
    """Turn a dropped or silent engine connection into EngineUnavailable (exit 3)."""
    import requests
    from docker.errors import DockerException
    from urllib3.exceptions import HTTPError as Urllib3Error

    try:
        yield
    except (
        requests.exceptions.ConnectionError,
        requests.exceptions.ChunkedEncodingError,
        requests.exceptions.Timeout,
        Urllib3Error,
    ) as exc:
        raise EngineUnavailable(
            f"The Docker engine at {engine_address()} stopped answering while {doing}: {_short(exc)}.",
            hint="Check that dockerd is running (`docker info`) and run the command again; "
            "nothing half-built was tagged.",
        ) from None
    except DockerException as exc:
        if "Connection aborted" in str(exc) or "connection refused" in str(exc).lower():
            raise EngineUnavailable(
                f"The Docker engine at {engine_address()} went away while {doing}: {_short(exc)}."
            ) from None
        raise


def image_exists(client: docker.DockerClient, ref: str) -> bool:
    from docker.errors import ImageNotFound

    with answering(f"looking up {ref}"):
        try:
            client.images.get(ref)
        except ImageNotFound:
            return False
    return True


def image_id(client: docker.DockerClient, ref: str) -> str | None:
    from docker.errors import ImageNotFound

    with answering(f"looking up {ref}"):
        try:
            return str(client.images.get(ref).id)
        except ImageNotFound:
            return None


def build(
    client: docker.DockerClient,
    context: bytes,
    *,
    no_cache: bool = False,
    base_image: str = "",
    extra_hosts: dict[str, str] | None = None,
) -> Iterator[BuildStep | BuildOutput | BuildContainer | BuiltImage]:
    """Build from a tar context, untagged; yields events; raises BuildFailed on any failure.

    Nothing is tagged here: the caller tags the image only once the build has succeeded, so an
    interrupted or failed build never leaves a tag behind. `forcerm` removes the intermediate
    containers of failed steps too. With `extra_hosts` (served inputs) the RUN steps use the
    host's network, so they reach dlenv's input server on this host's loopback.
    """
    from docker.errors import APIError

    tail: deque[str] = deque(maxlen=TAIL_LINES)
    current = "(before the first step)"
    found = ""
    with answering("building"):
        try:
            stream: Iterator[dict[str, Any]] = client.api.build(
                fileobj=io.BytesIO(context),
                custom_context=True,
                rm=True,
                forcerm=True,
                nocache=no_cache,
                pull=False,
                decode=True,
                **({"network_mode": "host", "extra_hosts": extra_hosts} if extra_hosts else {}),
            )
            for chunk in stream:
                if "error" in chunk:
                    raise _build_error(chunk, current, tail, base_image)
                aux = chunk.get("aux")
                if isinstance(aux, dict) and "ID" in aux:
                    found = str(aux["ID"])
                for line in str(chunk.get("stream", "")).splitlines():
                    step = _STEP_RE.match(line.strip())
                    running = _RUNNING_IN_RE.match(line.rstrip())
                    if step:
                        current = line.strip()
                        yield BuildStep(int(step.group(1)), int(step.group(2)), step.group(3))
                    elif line.strip():
                        tail.append(line)
                        if running:
                            yield BuildContainer(running.group(1))
                        yield BuildOutput(line)
                        built = re.match(r"^Successfully built ([0-9a-f]+)", line.strip())
                        if built and not found:
                            found = built.group(1)
                if chunk.get("status"):  # pulling a base image
                    yield BuildOutput(str(chunk["status"]))
        except APIError as exc:
            raise BuildFailed(f"The engine rejected the build: {_short(exc)}") from None
        except BaseException:
            # Dropping the connection makes the engine cancel the build (and remove the step's
            # container) instead of running it to the end for nobody.
            client.close()
            raise
    if not found:
        raise BuildFailed(
            "The build ended without producing an image.", hint="Last output:\n" + "\n".join(tail)
        )
    yield BuiltImage(found)


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
    if any("DO NOT MATCH THE HASHES" in line or "Hash mismatch for" in line for line in tail):
        return _hash_mismatch(list(tail), step, lines)
    if INPUTS_HOST in step and any("urlopen error" in line or "URLError" in line for line in tail):
        return BuildFailed(
            f"The build could not fetch its inputs from dlenv ({INPUTS_HOST}, this host's "
            f"loopback) at {step.split(' : ')[0]}.",
            hint="The engine's RUN steps use the host network for served inputs; a firewall on "
            "the loopback or an engine in its own network namespace (rootless, a VM) prevents it. "
            f"Build with --inputs staged instead.\nLast output lines:\n{lines}",
        )
    if any("differ from the lock" in line for line in tail):
        detail = "; ".join(line.strip() for line in tail if line.startswith("  ") and ":" in line)
        return BuildFailed(
            f"The installed packages differ from the lock: {detail}", hint=f"Last output lines:\n{lines}"
        )
    if _DISK_FULL.search(message) or any(_DISK_FULL.search(line) for line in tail):
        return BuildFailed(
            f"The engine ran out of disk space at {step}: {message}",
            hint="Free space where the engine keeps images (`docker system df`; "
            "`docker builder prune` and `docker image prune` remove build cache and dangling "
            "images), or move its data-root to a larger disk; then build again.\n"
            f"Last output lines:\n{lines}",
        )
    return BuildFailed(f"The build failed at {step}\n  error: {message}", hint=f"Last output lines:\n{lines}")


def _hash_mismatch(tail: list[str], step: str, lines: str) -> BuildFailed:
    """A --require-hashes failure (pip's or uv's), with each package's expected and actual sha256."""
    found = []
    for i, line in enumerate(tail):
        match = re.match(r"^\s+(\S+==\S+) from ", line)  # pip
        if match:
            expected = next((t.split()[-1] for t in tail[i + 1 : i + 3] if "Expected sha256" in t), "?")
            got = next((t.split()[-1] for t in tail[i + 1 : i + 4] if t.strip().startswith("Got")), "?")
            found.append(f"{match.group(1)} (lock {expected[:12]}..., downloaded {got[:12]}...)")
        match = re.search(r"Hash mismatch for `([^`]+)`", line)  # uv
        if match:
            digests = [t.strip().removeprefix("sha256:") for t in tail[i + 1 : i + 9] if "sha256:" in t]
            expected, got = (digests + ["?", "?"])[:2]
            found.append(f"{match.group(1)} (lock {expected[:12]}..., downloaded {got[:12]}...)")
    where = step.split(" : ")[0]
    return BuildFailed(
        f"A wheel's sha256 does not match the lock ({where}): " + ("; ".join(found) or "see below"),
        hint="The lock or the index changed under it. If the index legitimately republished the "
        "wheel, re-lock (`dlenv lock PROFILE`); vendor indexes have served wrong hashes before "
        "(pytorch/pytorch#181056). Nothing was tagged.\nLast output lines:\n" + lines,
    )


def tag(client: docker.DockerClient, image: str, ref: str) -> None:
    repo, _, name = ref.rpartition(":")
    if not repo or "/" in name:  # "registry:5000/repo" has no tag: use latest
        repo, name = ref, "latest"
    with answering(f"tagging {ref}"):
        client.api.tag(image, repo, name)


def remove_image(client: docker.DockerClient, ref: str) -> None:
    from docker.errors import DockerException

    try:
        client.images.remove(ref, force=True)
    except DockerException:
        pass


def image_labels(client: docker.DockerClient, ref: str) -> dict[str, str]:
    with answering(f"inspecting {ref}"):
        return dict(client.images.get(ref).labels or {})


def image_size(client: docker.DockerClient, ref: str) -> int:
    with answering(f"inspecting {ref}"):
        return int(client.images.get(ref).attrs.get("Size", 0))


def find_container(client: docker.DockerClient, name: str) -> Container | None:
    from docker.errors import NotFound

    with answering(f"looking up {name}"):
        try:
            return client.containers.get(name)
        except NotFound:
            return None


def containers_labelled(client: docker.DockerClient, key: str, value: str | None = None) -> list[str]:
    """IDs of all containers (any state) with a label, without inspecting each one."""
    selector = key if value is None else f"{key}={value}"
    return [str(c["Id"]) for c in client.api.containers(all=True, filters={"label": selector})]


def list_containers(client: docker.DockerClient, label: str) -> list[Container]:
    with answering("listing containers"):
        return list(client.containers.list(all=True, filters={"label": label}))


def start_failure_hint(text: str) -> str | None:
    """What to do when the engine refuses to start a container, for the failures we know."""
    hint = None
    if "could not select device driver" in text:
        hint = (
            "No GPU runtime: install the NVIDIA container toolkit and run "
            "`nvidia-ctk runtime configure --runtime=docker`, or use --allow-cpu."
        )
    elif "/dev/kfd" in text or "/dev/dri" in text:
        hint = "No AMD GPU device nodes on this host (/dev/kfd, /dev/dri); or use --allow-cpu."
    elif "bridge" in text and "no such network interface" in text:
        hint = (
            "The engine's default bridge (docker0) is gone: restart dockerd "
            "(`sudo systemctl restart docker`) to recreate it."
        )
    return hint


def run_detached(
    client: docker.DockerClient,
    *,
    image: str,
    name: str,
    command: list[str],
    labels: dict[str, str],
    **kwargs: Any,
) -> Container:
    """Create and start a long-running container (named and labelled before it exists)."""
    from docker.errors import APIError

    with answering(f"starting {name}"):
        try:
            return client.containers.run(image, command, name=name, detach=True, labels=labels, **kwargs)
        except APIError as exc:
            text = str(exc.explanation or exc)
            raise ContainerStartFailed(
                f"The Docker engine could not start container {name} from {image}: {text[:400]}",
                hint=start_failure_hint(text),
            ) from None


def force_remove(client: docker.DockerClient, container: str) -> bool:
    """Kill and remove a container by ID or name; False when it did not exist."""
    from docker.errors import NotFound

    try:
        client.api.remove_container(container, force=True, v=True)
    except NotFound:
        return False
    return True


def stop_and_remove(container: Container, timeout: int = 5) -> None:
    from docker.errors import NotFound

    try:
        container.stop(timeout=timeout)
        container.remove(force=True)
    except NotFound:
        pass
