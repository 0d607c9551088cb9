"""`dlenv verify`: a content digest of what an image installed, and its comparison with a lock.

The digest covers the virtual environment (every path, its type, permission bits, size and
sha256; file times ignored), the Python distributions and the Debian package list. Two locked
builds of one lock give the same digest even though the classic builder gives them different
image IDs (it stamps creation times into every image config).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from builder import paths
from builder.engine.protocol import RunRequest
from builder.engine.run_once import TimedOut, run_to_end
from builder.errors import CheckFailed, ContainerStartFailed
from builder.image_paths import VENV

if TYPE_CHECKING:
    from builder.engine.protocol import Engine
    from builder.engine.resources import Resources
    from builder.pin.lockfile import LockFile

MANIFEST_TIMEOUT = 600


@dataclass(frozen=True)
class Manifest:
    image: str
    image_id: str
    digest: str
    entries: int
    python: tuple[str, ...]
    debian: tuple[str, ...]
    raw: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "image_id": self.image_id,
            "content_digest": self.digest,
            "files": self.entries,
            "python_packages": len(self.python),
            "debian_packages": len(self.debian),
        }


def manifest(engine: Engine, image: str, resources: Resources) -> Manifest:
    """Run the manifest script in a throw-away container of the image (removed afterwards)."""
    found = engine.image(image)
    if found is None:
        raise CheckFailed(f"{image} is not an image in this engine")
    image_id = found.id
    code = paths.in_image_script("content_manifest.py").read_text()
    name = resources.container_name("verify")
    request = RunRequest(
        image=image_id,
        command=(f"{VENV}/bin/python", "-c", code, VENV),
        name=name,
        labels=resources.labels,
        network=False,
        platform=found.platform,
    )
    try:
        finished = run_to_end(engine, request, MANIFEST_TIMEOUT)
    except (ContainerStartFailed, TimedOut) as exc:
        raise CheckFailed(f"{image} could not be read: {exc}") from None
    resources.forget(name)
    if finished.exit_code != 0:
        raise CheckFailed(
            f"{image} has no {VENV} to verify (not a dlenv image?): {finished.stderr.strip()[-200:]}"
        )
    out = finished.stdout
    data = json.loads(out.strip().splitlines()[-1])
    canonical = json.dumps(
        {k: data[k] for k in ("entries", "python", "debian")}, sort_keys=True, separators=(",", ":")
    )
    digest = "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    return Manifest(
        image, image_id, digest, len(data["entries"]), tuple(data["python"]), tuple(data["debian"]), data
    )


def against_lock(found: Manifest, lock: LockFile) -> list[str]:
    """Differences between an image's Python packages and a lock (empty: they agree)."""

    def key(name: str) -> str:
        return name.lower().replace("_", "-").replace(".", "-")

    have = {key(p.split("==")[0]): p.split("==")[1] for p in found.python}
    want = {key(p.name): p.version for p in lock.packages()}
    seed = {"pip", "setuptools", "wheel"}
    out = [f"missing {n}=={v}" for n, v in sorted(want.items()) if n not in have]
    out += [f"{n}: lock {v}, image {have[n]}" for n, v in sorted(want.items()) if n in have and have[n] != v]
    out += [f"not in the lock: {n}=={v}" for n, v in sorted(have.items()) if n not in want and n not in seed]
    return out


def first_differences(a: Manifest, b: Manifest, limit: int = 8) -> list[str]:
    """Paths whose content differs between two manifests, for a readable report."""
    left = {e[0]: e for e in a.raw["entries"]}
    right = {e[0]: e for e in b.raw["entries"]}
    out = []
    for path in sorted(set(left) | set(right)):
        if path not in right:
            out.append(f"{path}: only in {a.image}")
        elif path not in left:
            out.append(f"{path}: only in {b.image}")
        elif left[path] != right[path]:
            out.append(f"{path}: content differs")
    if set(a.python) != set(b.python):
        out.append("Python packages: " + ", ".join(sorted(set(a.python) ^ set(b.python))))
    return out[:limit]
