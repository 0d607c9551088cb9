"""Push an image to a registry through the Docker SDK and report the digest it got.

Always with an explicit tag (without one the engine pushes every tag of the repository).
Errors arrive inside the push stream of an HTTP 200 answer (docker/docker-py#1772): every event
is read. The digest comes from the stream's aux record (graphdriver store), else from its
"<tag>: digest: sha256:… size: N" status line (containerd store), else from the registry.
Authentication is the engine's and Docker's own (~/.docker/config.json, `docker login`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from builder import names
from builder.engine import docker_engine as engine
from builder.errors import RegistryUnreachable, UsageError
from builder.events import Emit, PushProgress, ignore

if TYPE_CHECKING:
    import docker

    from builder.engine.resources import Resources

_DIGEST_LINE = re.compile(r"^(?P<tag>\S+): digest: (?P<digest>sha256:[0-9a-f]{64}) size: \d+$")
_REFERENCE = re.compile(
    r"^(?P<repo>(?:[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?/)*[a-z0-9]+(?:[._-][a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?$"
)
_AUTH = re.compile(r"unauthorized|authentication required|denied|no basic auth credentials", re.IGNORECASE)


@dataclass(frozen=True)
class PushResult:
    image_id: str
    reference: str  # repo:tag
    digest: str
    lock_digest: str | None

    @property
    def pinned(self) -> str:
        return f"{self.reference.rsplit(':', 1)[0]}@{self.digest}"

    def as_json(self) -> dict[str, Any]:
        return {
            "image_id": self.image_id,
            "reference": self.reference,
            "digest": self.digest,
            "pinned": self.pinned,
            "lock_digest": self.lock_digest,
        }


def parse_reference(ref: str) -> tuple[str, str]:
    """(repository, tag) of a push target; the tag defaults to `latest`, explicitly."""
    match = _REFERENCE.fullmatch(ref)
    if not match or len(ref) > 255:
        raise UsageError(
            f"{ref!r} is not a valid image reference: use [registry[:port]/]name[:tag] "
            "in lowercase (for example localhost:5000/team/pytorch-cpu:2026-11)"
        )
    return match.group("repo"), match.group("tag") or "latest"


def _registry_of(repo: str) -> str:
    first = repo.split("/")[0]
    return first if "/" in repo and ("." in first or ":" in first or first == "localhost") else "docker.io"


def push(
    client: docker.DockerClient, image: str, ref: str, *, resources: Resources, emit: Emit = ignore
) -> PushResult:
    """Tag `image` as `ref` and push that one tag; RegistryUnreachable (exit 6) on any failure.

    The new tag is removed again when the push fails or is interrupted.
    """
    from docker.errors import APIError

    repo, tag = parse_reference(ref)
    image_id = engine.image_id(client, image)
    if image_id is None:
        raise UsageError(f"{image} is not an image in this engine")
    target = f"{repo}:{tag}"
    if engine.image_id(client, target) != image_id:
        resources.tag(target)
        engine.tag(client, image_id, target)
    digest = ""
    with engine.answering(f"pushing {target}"):
        try:
            for event in client.api.push(repo, tag=tag, stream=True, decode=True):
                digest = _read_event(event, repo, tag) or digest
                if event.get("status") and not event.get("progressDetail"):
                    emit(PushProgress(f"{event.get('id', '')} {event['status']}".strip()))
        except APIError as exc:
            raise RegistryUnreachable(f"the engine refused to push {target}: {str(exc)[:300]}") from None
    if not digest:
        digest = _ask_registry(client, target)
    resources.keep(target)
    labels = engine.image_labels(client, image_id)
    return PushResult(image_id, target, digest, labels.get(names.LABEL_LOCK_DIGEST))


def _read_event(event: dict[str, Any], repo: str, tag: str) -> str | None:
    if "error" in event or "errorDetail" in event:
        message = str(event.get("error") or event.get("errorDetail", {}).get("message", "")).strip()
        hint = (
            f"Log in first: docker login {_registry_of(repo)}"
            if _AUTH.search(message)
            else "Check that the registry is up and reachable from the engine."
        )
        raise RegistryUnreachable(f"the push of {repo}:{tag} failed: {message}", hint=hint)
    aux = event.get("aux")
    if isinstance(aux, dict) and str(aux.get("Digest", "")).startswith("sha256:"):
        return str(aux["Digest"])
    match = _DIGEST_LINE.match(str(event.get("status", "")))
    if match and match.group("tag") == tag:
        return match.group("digest")
    return None


def _ask_registry(client: docker.DockerClient, ref: str) -> str:
    from docker.errors import DockerException

    try:
        return str(client.images.get_registry_data(ref).id)
    except DockerException as exc:
        raise RegistryUnreachable(
            f"pushed {ref}, but neither the push nor the registry told its digest: {str(exc)[:200]}"
        ) from None
