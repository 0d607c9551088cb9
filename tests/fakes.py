"""A fake Docker engine for unit tests: the subset of the SDK that builder.engine uses.

Integration tests never use it; they drive the real engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


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

    def containers(self, all: bool = False, filters: dict[str, str] | None = None) -> list[dict[str, Any]]:  # noqa: A002
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
        {"stream": " ---> abc\n"},
        {"stream": "Step 2/2 : RUN true\n"},
        {"stream": " ---> Running in 0123456789ab\n"},
        {"stream": "Removing intermediate container 0123456789ab\n"},
        {"aux": {"ID": f"sha256:{image_id}"}},
        {"stream": f"Successfully built {image_id}\n"},
    ]
