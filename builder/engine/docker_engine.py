"""The Docker implementation of the engine seam: the only module that imports the Docker SDK.

Builds go through the SDK's low-level streaming API (`APIClient.build(decode=True)`), so the
CLI can show progress live. The SDK honours DOCKER_HOST (unix, tcp:// or ssh://), so remote
engines work unchanged. Every call has a timeout, and an engine that stops answering in the
middle of a call becomes EngineUnavailable (exit 3), never a traceback.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from builder.engine import build_stream
from builder.engine.protocol import BuildEvent, ContainerInfo, EngineInfo, ImageInfo, RunRequest
from builder.errors import BuildFailed, ContainerStartFailed, EngineUnavailable, RegistryUnreachable
from builder.events import Emit, PushProgress
from builder.spec import RuntimeOptions

if TYPE_CHECKING:
    import docker

DEFAULT_TIMEOUT = 60


def engine_address() -> str:
    return os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


def connect(timeout: int = DEFAULT_TIMEOUT) -> DockerEngine:
    """The engine at DOCKER_HOST (or the local socket), or EngineUnavailable with how to fix it."""
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
    return DockerEngine(client)


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


def run_kwargs(runtime: RuntimeOptions | None, *, devices: bool = True) -> dict[str, Any]:
    """The accelerator's run options as SDK arguments; devices=False for a CPU-only run."""
    if runtime is None:
        return {}
    kwargs: dict[str, Any] = {"shm_size": runtime.shm_size}
    if not devices:
        return kwargs
    if runtime.gpus:
        from docker.types import DeviceRequest

        kwargs["device_requests"] = [DeviceRequest(count=-1, capabilities=[["gpu"]])]
    if runtime.devices:
        kwargs["devices"] = [f"{d}:{d}:rwm" for d in runtime.devices]
    if runtime.group_add:
        kwargs["group_add"] = list(runtime.group_add)
    if runtime.security_opt:
        kwargs["security_opt"] = list(runtime.security_opt)
    return kwargs


def _platform(attrs: Mapping[str, Any]) -> str:
    arch = str(attrs.get("Architecture") or "amd64")
    variant = attrs.get("Variant")
    return f"{attrs.get('Os') or 'linux'}/{arch}" + (f"/{variant}" if variant and arch != "arm64" else "")


class DockerEngine:
    """An Engine (builder.engine.protocol) over one Docker SDK client."""

    def __init__(self, client: docker.DockerClient, address: str | None = None) -> None:
        self._client = client
        self._address = address or engine_address()

    @property
    def address(self) -> str:
        return self._address

    def info(self) -> EngineInfo:
        with answering("reading the engine's facts"):
            info = self._client.info()
        security = [str(option) for option in info.get("SecurityOptions") or []]
        return EngineInfo(
            address=self._address,
            name=str(info.get("Name", "")),
            os_type=str(info.get("OSType", "linux")),
            arch=str(info.get("Architecture", "")),
            rootless=any("name=rootless" in option for option in security),
            version=str(info.get("ServerVersion")) if info.get("ServerVersion") else None,
            storage_driver=str(info.get("Driver")) if info.get("Driver") else None,
            root_dir=str(info.get("DockerRootDir") or "") or None,
            runtimes=tuple(sorted((info.get("Runtimes") or {}).keys())),
        )

    def build(
        self,
        context: bytes,
        *,
        no_cache: bool = False,
        base_image: str = "",
        extra_hosts: Mapping[str, str] | None = None,
        platform: str | None = None,
    ) -> Iterator[BuildEvent]:
        """Build from a tar context, untagged; yields events; raises BuildFailed on any failure.

        Nothing is tagged here: the caller tags the image only once the build has succeeded, so
        an interrupted or failed build never leaves a tag behind. `forcerm` removes the
        intermediate containers of failed steps too. With `extra_hosts` (served inputs) the RUN
        steps use the host's network, so they reach dlenv's input server on this host's loopback.
        """
        from docker.errors import APIError

        options: dict[str, Any] = {}
        if extra_hosts:
            options.update(network_mode="host", extra_hosts=dict(extra_hosts))
        if platform:
            options["platform"] = platform
        with answering("building"):
            try:
                stream: Iterator[dict[str, Any]] = self._client.api.build(
                    fileobj=io.BytesIO(context),
                    custom_context=True,
                    rm=True,
                    forcerm=True,
                    nocache=no_cache,
                    pull=False,
                    decode=True,
                    **options,
                )
                yield from build_stream.build_events(stream, base_image)
            except APIError as exc:
                raise BuildFailed(f"The engine rejected the build: {_short(exc)}") from None
            except BaseException:
                # Dropping the connection makes the engine cancel the build (and remove the step's
                # container) instead of running it to the end for nobody.
                self._client.close()
                raise

    def image(self, ref: str) -> ImageInfo | None:
        from docker.errors import ImageNotFound

        with answering(f"looking up {ref}"):
            try:
                image = self._client.images.get(ref)
            except ImageNotFound:
                return None
        attrs = image.attrs
        return ImageInfo(
            id=str(image.id),
            labels=dict(image.labels or {}),
            size=int(attrs.get("Size", 0)),
            tags=tuple(image.tags),
            repo_digests=tuple(attrs.get("RepoDigests") or ()),
            platform=_platform(attrs),
        )

    def tag(self, image: str, ref: str) -> None:
        repo, _, name = ref.rpartition(":")
        if not repo or "/" in name:  # "registry:5000/repo" has no tag: use latest
            repo, name = ref, "latest"
        with answering(f"tagging {ref}"):
            self._client.api.tag(image, repo, name)

    def remove_image(self, ref: str, *, force: bool = False) -> bool:
        from docker.errors import ImageNotFound

        with answering(f"removing {ref}"):
            try:
                self._client.api.remove_image(ref, force=force, noprune=False)
            except ImageNotFound:
                return False
        return True

    def registry_digest(self, ref: str) -> str | None:
        from docker.errors import DockerException

        try:
            return str(self._client.images.get_registry_data(ref).id)
        except DockerException:
            return None

    def push(self, repository: str, tag: str, emit: Emit) -> str | None:
        from docker.errors import APIError

        digest = None
        with answering(f"pushing {repository}:{tag}"):
            try:
                for event in self._client.api.push(repository, tag=tag, stream=True, decode=True):
                    digest = build_stream.push_digest(event, repository, tag) or digest
                    if event.get("status") and not event.get("progressDetail"):
                        emit(PushProgress(f"{event.get('id', '')} {event['status']}".strip()))
            except APIError as exc:
                raise RegistryUnreachable(
                    f"the engine refused to push {repository}:{tag}: {str(exc)[:300]}"
                ) from None
        return digest

    def run(self, request: RunRequest) -> str:
        from docker.errors import APIError, ImageNotFound

        kwargs = run_kwargs(request.runtime, devices=request.devices)
        if request.volumes:
            kwargs["volumes"] = {
                host: {"bind": inside, "mode": "rw"} for host, inside in request.volumes.items()
            }
        if request.ports:
            kwargs["ports"] = {f"{port}/tcp": bound for port, bound in request.ports.items()}
        if request.working_dir:
            kwargs["working_dir"] = request.working_dir
        if request.platform:
            kwargs["platform"] = request.platform
        with answering(f"starting {request.name}"):
            try:
                container = self._client.containers.run(
                    request.image,
                    list(request.command),
                    name=request.name,
                    labels=dict(request.labels),
                    environment=dict(request.environment),
                    network_disabled=not request.network,
                    detach=True,
                    **kwargs,
                )
            except ImageNotFound:
                raise ContainerStartFailed(f"{request.image} is not an image in this engine") from None
            except APIError as exc:
                text = str(exc.explanation or exc)
                raise ContainerStartFailed(
                    f"The Docker engine could not start container {request.name} from "
                    f"{request.image}: {text[:400]}",
                    hint=build_stream.start_failure_hint(text),
                ) from None
        return str(container.id)

    def container(self, name_or_id: str) -> ContainerInfo | None:
        from docker.errors import NotFound

        with answering(f"looking up {name_or_id}"):
            try:
                attrs = self._client.api.inspect_container(name_or_id)
            except NotFound:
                return None
        state = attrs.get("State") or {}
        return ContainerInfo(
            id=str(attrs.get("Id", "")),
            name=str(attrs.get("Name", "")).lstrip("/"),
            status=str(state.get("Status", "")),
            labels=dict((attrs.get("Config") or {}).get("Labels") or {}),
            image=str((attrs.get("Config") or {}).get("Image", "")),
            exit_code=int(state["ExitCode"]) if "ExitCode" in state else None,
        )

    def containers_from(self, image_id: str, *, created_since: float) -> list[str]:
        short = image_id.removeprefix("sha256:")
        with answering("listing containers"):
            rows = self._client.api.containers(all=True, filters={"ancestor": short})
        # A user's container names its image (`debian:bookworm-slim`); a build step's is the ID.
        return [
            str(row["Id"])
            for row in rows
            if str(row.get("Image", "")).removeprefix("sha256:").startswith(short)
            and float(row.get("Created", 0)) >= created_since
        ]

    def containers(self, label: str, value: str | None = None) -> list[ContainerInfo]:
        selector = label if value is None else f"{label}={value}"
        with answering("listing containers"):
            rows = self._client.api.containers(all=True, filters={"label": selector})
        return [
            ContainerInfo(
                id=str(row["Id"]),
                name=str((row.get("Names") or ["/"])[0]).lstrip("/"),
                status=str(row.get("State", "")),
                labels=dict(row.get("Labels") or {}),
                image=str(row.get("Image", "")),
            )
            for row in rows
        ]

    def logs(self, container: str, *, tail: int | None = None) -> tuple[bytes, bytes]:
        with answering(f"reading the output of {container}"):
            api = self._client.api
            options: dict[str, Any] = {"tail": tail} if tail is not None else {}
            out = api.logs(container, stdout=True, stderr=False, **options)
            err = api.logs(container, stdout=False, stderr=True, **options)
        return bytes(out), bytes(err)

    def start(self, container: str) -> None:
        with answering(f"starting {container}"):
            self._client.api.start(container)

    def stop(self, container: str, *, timeout: int = 5) -> None:
        from docker.errors import NotFound

        with answering(f"stopping {container}"):
            try:
                self._client.api.stop(container, timeout=timeout)
            except NotFound:
                pass

    def remove_container(self, container: str) -> bool:
        from docker.errors import NotFound

        with answering(f"removing {container}"):
            try:
                self._client.api.remove_container(container, force=True, v=True)
            except NotFound:
                return False
        return True

    def close(self) -> None:
        self._client.close()
