"""Fakes for unit tests: FakeEngine implements the engine seam (builder.engine.protocol) for the
core and the CLI; FakeClient is the subset of the Docker SDK that builder.engine.docker_engine
uses, for testing that one module. Integration tests never use them: they drive the real engine.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from builder.engine.protocol import (
    BuildContainer,
    BuiltImage,
    ContainerInfo,
    EngineInfo,
    ImageInfo,
    RunRequest,
)
from builder.events import BuildOutput, BuildStep


class FakeImage:
    def __init__(self, image_id: str, labels: dict[str, str] | None = None, size: int = 123) -> None:
        self.id = image_id
        self.labels = labels or {}
        self.attrs = {"Size": size, "Id": image_id}


class NotFoundError(Exception):
    pass


class FakeImages:
    def __init__(self, api: FakeApi) -> None:
        self.api = api

    def get(self, ref: str) -> FakeImage:
        from docker.errors import ImageNotFound

        image_id = self.api.tags.get(ref, ref if ref in self.api.images else None)
        if image_id is None:
            raise ImageNotFound(f"No such image: {ref}")
        return self.api.images[image_id]

    def remove(self, ref: str, force: bool = False) -> None:
        self.api.tags.pop(ref, None)


class FakeApi:
    """Low-level API: a scripted build stream, tags, and a container table."""

    def __init__(
        self,
        chunks: list[dict[str, Any]],
        image_id: str = "sha256:feed",
        labels: dict[str, str] | None = None,
    ) -> None:
        self.chunks = chunks
        self.tags: dict[str, str] = {}
        self.images = {image_id: FakeImage(image_id, labels)}
        self.containers_table: list[dict[str, Any]] = []
        self.removed: list[str] = []
        self.build_kwargs: dict[str, Any] = {}

    def build(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        self.build_kwargs = kwargs
        return iter(self.chunks)

    def tag(self, image: str, repo: str, tag: str) -> None:
        self.tags[f"{repo}:{tag}"] = image if image in self.images else f"sha256:{image}"

    def containers(self, all: bool = False, filters: dict[str, str] | None = None) -> list[dict[str, Any]]:
        if "ancestor" in (filters or {}):  # the engine matches names and IDs; the caller filters
            return list(self.containers_table)
        wanted = (filters or {}).get("label", "")
        key, _, value = wanted.partition("=")
        return [
            c
            for c in self.containers_table
            if key in c["Labels"] and (not value or c["Labels"][key] == value)
        ]

    def remove_container(self, container: str, force: bool = False, v: bool = False) -> None:
        from docker.errors import NotFound

        match = [c for c in self.containers_table if container in (c["Id"], c["Name"])]
        if not match:
            raise NotFound(f"No such container: {container}")
        self.containers_table.remove(match[0])
        self.removed.append(container)

    def remove_image(self, ref: str, force: bool = False, noprune: bool = False) -> None:
        from docker.errors import ImageNotFound

        if ref not in self.tags:
            raise ImageNotFound(f"No such image: {ref}")
        del self.tags[ref]


class FakeClient:
    def __init__(self, chunks: list[dict[str, Any]] | None = None, **kwargs: Any) -> None:
        self.api = FakeApi(chunks or [], **kwargs)
        self.images = FakeImages(self.api)
        self.closed = False

    def ping(self) -> bool:
        return True

    def info(self) -> dict[str, Any]:
        """An engine on another host: builds are staged (no input server in unit tests)."""
        return {"Name": "fake-engine", "OSType": "linux", "Architecture": "x86_64", "SecurityOptions": []}

    def close(self) -> None:
        self.closed = True


def successful_build(image_id: str = "feed") -> list[dict[str, Any]]:
    """The stream of a two-step classic build that succeeds."""
    return [
        {"stream": "Step 1/2 : FROM debian\n"},
        {"stream": " ---> abcdef012345\n"},
        {"stream": "Step 2/2 : RUN true\n"},
        {"stream": " ---> Running in 0123456789ab\n"},
        {"stream": "Removing intermediate container 0123456789ab\n"},
        {"aux": {"ID": f"sha256:{image_id}"}},
        {"stream": f"Successfully built {image_id}\n"},
    ]


class FakeEngine:
    """An Engine (builder.engine.protocol) in memory: scripted builds, tags, containers.

    The core and the CLI are tested against it; `docker_engine` itself against FakeClient.
    `outputs` maps a command's first word to (exit code, stdout, stderr) for containers run
    to their end (the smoke test, verify, the probe).
    """

    def __init__(
        self,
        build_events: list[Any] | None = None,
        *,
        build_error: Exception | None = None,
        info: EngineInfo | None = None,
    ) -> None:
        self.address = "unix:///fake/docker.sock"
        self.build_events = build_events if build_events is not None else scripted_build()
        self.build_error = build_error
        self.build_calls: list[dict[str, Any]] = []
        self._info = info or EngineInfo(
            address=self.address, name="fake-engine", os_type="linux", arch="x86_64", rootless=False
        )
        self.images: dict[str, ImageInfo] = {}
        self.tags: dict[str, str] = {}
        self.containers_by_name: dict[str, ContainerInfo] = {}
        self.runs: list[RunRequest] = []
        self.removed: list[str] = []
        self.outputs: dict[str, tuple[int, str, str]] = {}
        self.pushed: list[tuple[str, str]] = []
        self.push_digest: str | None = "sha256:" + "d" * 64
        self.closed = False

    # -- images ---------------------------------------------------------------------------
    def add_image(
        self, image_id: str, *, labels: dict[str, str] | None = None, tags: tuple[str, ...] = ()
    ) -> None:
        self.images[image_id] = ImageInfo(id=image_id, labels=labels or {}, size=123, tags=tags)
        for ref in tags:
            self.tags[ref] = image_id

    def info(self) -> EngineInfo:
        return self._info

    def build(self, context: bytes, **options: Any) -> Iterator[Any]:
        self.build_calls.append({"context": context, **options})
        for event in self.build_events:
            if isinstance(event, BuiltImage):
                self.add_image(event.image_id)
            yield event
        if self.build_error is not None:
            raise self.build_error

    def image(self, ref: str) -> ImageInfo | None:
        image_id = self.tags.get(ref, ref)
        return self.images.get(image_id)

    def tag(self, image: str, ref: str) -> None:
        self.tags[ref] = image

    def remove_image(self, ref: str, *, force: bool = False) -> bool:
        if ref in self.tags:
            del self.tags[ref]
            self.removed.append(ref)
            return True
        return False

    def registry_digest(self, ref: str) -> str | None:
        return None

    def push(self, repository: str, tag: str, emit: Any) -> str | None:
        self.pushed.append((repository, tag))
        return self.push_digest

    # -- containers -----------------------------------------------------------------------
    def run(self, request: RunRequest) -> str:
        self.runs.append(request)
        code, _, _ = self.outputs.get(request.command[0], (0, "", ""))
        status = "exited" if request.command[0] in self.outputs else "running"
        self.containers_by_name[request.name] = ContainerInfo(
            id=f"id-{request.name}",
            name=request.name,
            status=status,
            labels=dict(request.labels),
            image=request.image,
            exit_code=code if status == "exited" else None,
        )
        return f"id-{request.name}"

    def container(self, name_or_id: str) -> ContainerInfo | None:
        return next(
            (c for c in self.containers_by_name.values() if name_or_id in (c.name, c.id)),
            None,
        )

    def containers_from(self, image_id: str, *, created_since: float) -> list[str]:
        return [c.id for c in self.containers_by_name.values() if c.image == image_id]

    def containers(self, label: str, value: str | None = None) -> list[ContainerInfo]:
        return [
            c
            for c in self.containers_by_name.values()
            if label in c.labels and (value is None or c.labels[label] == value)
        ]

    def logs(self, container: str, *, tail: int | None = None) -> tuple[bytes, bytes]:
        found = self.container(container)
        if found is None:
            return b"", b""
        run = next(r for r in self.runs if r.name == found.name)
        _, out, err = self.outputs.get(run.command[0], (0, "", ""))
        return out.encode(), err.encode()

    def start(self, container: str) -> None:
        found = self.container(container)
        if found is not None:
            self.containers_by_name[found.name] = dataclasses.replace(found, status="running")

    def stop(self, container: str, *, timeout: int = 5) -> None:
        found = self.container(container)
        if found is not None:
            self.containers_by_name[found.name] = dataclasses.replace(found, status="exited", exit_code=0)

    def remove_container(self, container: str) -> bool:
        found = self.container(container)
        if found is None:
            return False
        del self.containers_by_name[found.name]
        self.removed.append(found.name)
        return True

    def close(self) -> None:
        self.closed = True


def scripted_build(image_id: str = "sha256:feed") -> list[Any]:
    """What an Engine yields for a two-step build that succeeds."""
    return [
        BuildStep(1, 2, "FROM debian"),
        BuildOutput(" ---> abc"),
        BuildStep(2, 2, "RUN true"),
        BuildContainer("0123456789ab"),
        BuildOutput(" ---> Running in 0123456789ab"),
        BuiltImage(image_id),
    ]
