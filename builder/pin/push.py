"""Push an image to a registry through the engine and report the digest it got.

Always with an explicit tag (without one the engine pushes every tag of the repository). The
digest comes from the push itself (engine/build_stream.py reads every event, errors included),
else from the registry. Authentication is the engine's and Docker's own (`docker login`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from builder import names
from builder.errors import RegistryUnreachable, UsageError
from builder.events import Emit, ignore

if TYPE_CHECKING:
    from builder.engine.protocol import Engine
    from builder.engine.resources import Resources

_REFERENCE = re.compile(
    r"^(?P<repo>(?:[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?/)*[a-z0-9]+(?:[._-][a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?$"
)


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


def push(engine: Engine, image: str, ref: str, *, resources: Resources, emit: Emit = ignore) -> PushResult:
    """Tag `image` as `ref` and push that one tag; RegistryUnreachable (exit 6) on any failure.

    The new tag is removed again when the push fails or is interrupted.
    """
    repo, tag = parse_reference(ref)
    found = engine.image(image)
    if found is None:
        raise UsageError(f"{image} is not an image in this engine")
    target = f"{repo}:{tag}"
    existing = engine.image(target)
    if existing is None or existing.id != found.id:
        resources.tag(target)
        engine.tag(found.id, target)
    digest = engine.push(repo, tag, emit) or engine.registry_digest(target)
    if not digest:
        raise RegistryUnreachable(f"pushed {target}, but neither the push nor the registry told its digest")
    resources.keep(target)
    return PushResult(found.id, target, digest, found.labels.get(names.LABEL_LOCK_DIGEST))
