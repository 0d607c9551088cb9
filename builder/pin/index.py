"""One image index (manifest list) for the images of several platforms, made by `docker manifest`.

The Docker SDK pushes images but cannot make an index, and the registry protocol is not
something to hand-write: the docker CLI's `manifest create` / `manifest push` does it with the
same credentials (`docker login`) and prints the index's digest. Each platform's image is pushed
first (as `<tag>-<arch>`, through the engine, as `dlenv push` does), then the index is pushed as
`<tag>`; `docker pull REF@sha256:<index>` then gets each host its own platform's image.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from builder.errors import RegistryUnreachable, UsageError
from builder.events import Emit, Note, ignore
from builder.pin.push import PushResult, parse_reference, push

if TYPE_CHECKING:
    from builder.engine.protocol import Engine
    from builder.engine.resources import Resources

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class IndexResult:
    reference: str  # repo:tag of the index
    digest: str
    images: tuple[tuple[str, PushResult], ...]  # (platform, its push)

    @property
    def pinned(self) -> str:
        return f"{self.reference.rsplit(':', 1)[0]}@{self.digest}"

    def as_json(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "digest": self.digest,
            "pinned": self.pinned,
            "platforms": {platform: pushed.as_json() for platform, pushed in self.images},
        }


def docker_cli() -> str:
    """The docker CLI (`manifest` needs 20.10 or newer); a UsageError naming the fix when absent."""
    found = shutil.which("docker")
    if found is None:
        raise UsageError(
            "pushing an image index for several platforms needs the docker CLI (`docker manifest`)",
            hint="Install Debian's docker.io (or Docker's docker-ce-cli), then push again.",
        )
    return found


def push_index(
    engine: Engine,
    images: dict[str, str],
    ref: str,
    *,
    resources: Resources,
    emit: Emit = ignore,
) -> IndexResult:
    """Push each platform's image, then one index of them as `ref`; prints nothing.

    `images` maps a platform (linux/arm64) to a local image. Every image must be of the platform
    it is given for (the engine's own record says), so an index never lies about what it holds.
    """
    repo, tag = parse_reference(ref)
    cli = docker_cli()
    for platform, image in images.items():
        found = engine.image(image)
        if found is None:
            raise UsageError(f"{image} is not an image in this engine")
        if not found.platform.startswith(platform):
            raise UsageError(f"{image} is a {found.platform} image, not {platform}")
    pushed = tuple(
        (
            platform,
            push(engine, image, f"{repo}:{tag}-{platform.split('/')[1]}", resources=resources, emit=emit),
        )
        for platform, image in images.items()
    )
    target = f"{repo}:{tag}"
    insecure = ["--insecure"] if _insecure(repo) else []
    members = [p.pinned for _, p in pushed]
    emit(Note(f"making the image index {target} of {', '.join(members)}"))
    _run([cli, "manifest", "rm", target], check=False)  # a local list of an earlier push
    _run([cli, "manifest", "create", *insecure, target, *members])
    answer = _run([cli, "manifest", "push", *insecure, "--purge", target])
    found_digest = _DIGEST.findall(answer)
    if not found_digest:
        raise RegistryUnreachable(f"pushed the index {target}, but docker did not print its digest: {answer}")
    return IndexResult(target, found_digest[-1], pushed)


def _member_ref(repo: str, tag: str, platform: str) -> str:
    return f"{repo}:{tag}-{platform.split('/')[1]}"


def _insecure(repo: str) -> bool:
    """A registry on this host's loopback speaks plain HTTP (as the engine allows by default)."""
    host = repo.split("/")[0]
    return host.startswith(("localhost", "127.")) or host == "[::1]"


def _run(command: list[str], *, check: bool = True) -> str:
    env = {**os.environ, "DOCKER_CLI_EXPERIMENTAL": "enabled"}  # `manifest` on CLIs before 20.10
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    if check and result.returncode != 0:
        raise RegistryUnreachable(
            f"`{' '.join(command[1:4])} ...` failed: {(result.stderr or result.stdout).strip()[:600]}",
            hint="Log in with `docker login REGISTRY` when it needs credentials; check that it is up.",
        )
    return result.stdout + result.stderr
