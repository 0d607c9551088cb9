"""`dlenv lock`: resolve a spec with uv for its platform and pin its base image.

Frameworks are resolved on their own; the extras are resolved with the frameworks' pins as
constraints and keep only what they add, so changing the extras never changes the frameworks
set (and a locked build reuses the framework layer). A previous lock's pins are kept unless an
upgrade is asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from builder import __version__
from builder.errors import ResolveError
from builder.pin.lockfile import (
    Base,
    LockFile,
    Resolver,
    content_digest,
    inputs_of,
    now_utc,
    platform_of,
    same_pins,
    strip_credentials,
)
from builder.resolve.uv import Package, Platform, Sources, resolve
from builder.spec import BuildSpec

if TYPE_CHECKING:
    from builder.engine.protocol import Engine


@dataclass(frozen=True)
class LockOutcome:
    lock: LockFile
    seconds: float
    base_note: str
    unchanged: bool = False  # the previous lock pins the same things: it is kept, byte for byte


def pin_base(engine: Engine | None, ref: str) -> tuple[Base, str]:
    """The base image by registry digest, else by local image ID; with a note saying which."""
    if engine is None:
        return Base(ref=ref), "no Docker engine reachable: the base image is not pinned"
    repo = ref.split("@")[0].rsplit(":", 1)[0] if ":" in ref.rsplit("/", 1)[-1] else ref
    image = engine.image(ref)
    if image is not None:
        for repo_digest in image.repo_digests:
            name, _, pinned = repo_digest.partition("@")
            if name == repo or name.endswith("/" + repo):
                return Base(ref=ref, digest=pinned), f"base {ref} pinned to {pinned} (registry digest)"
    asked = engine.registry_digest(ref)
    if asked:
        return Base(ref=ref, digest=asked), f"base {ref} pinned to {asked} (asked the registry)"
    if image is not None:
        return (
            Base(ref=ref, image_id=image.id),
            f"base {ref} exists only in this engine: pinned to its image ID {image.id[:19]}",
        )
    return Base(ref=ref), f"base {ref} is neither in the engine nor on a reachable registry: not pinned"


def _without_credentials(packages: Sequence[Package]) -> tuple[Package, ...]:
    """The packages as a lock records them: index credentials never written."""
    return tuple(
        p.model_copy(
            update={"wheels": tuple(w.model_copy(update={"url": strip_credentials(w.url)}) for w in p.wheels)}
        )
        for p in packages
    )


def make_lock(
    spec: BuildSpec,
    sources: Sources,
    *,
    previous: LockFile | None,
    engine: Engine | None,
    upgrade: bool = False,
    upgrade_packages: Sequence[str] = (),
) -> LockOutcome:
    """Resolve frameworks, then extras constrained to them; pin the base; assemble the lock.
    The previous lock's pins are preferred unless everything is upgraded; a lock that pins the
    same things as the previous one is the previous one (its `created` too: same bytes)."""
    platform = platform_of(spec)
    same_platform = previous is not None and previous.inputs.platform == platform.uv_platform
    keep = previous if same_platform and not (upgrade and not upgrade_packages) else None
    frameworks = resolve(
        spec.framework_requirements(),
        platform,
        sources,
        preferences=keep.frameworks if keep else (),
        upgrade=upgrade,
        upgrade_packages=upgrade_packages,
    )
    seconds = frameworks.seconds
    extras: tuple[Package, ...] = ()
    if spec.packages:
        pins = [f"{p.name}=={p.version}" for p in frameworks.packages]
        resolved = resolve(
            spec.packages,
            platform,
            sources,
            constraints=pins,
            preferences=keep.extras if keep else (),
            upgrade=upgrade,
            upgrade_packages=upgrade_packages,
        )
        seconds += resolved.seconds
        framework_set = {(p.name, p.version) for p in frameworks.packages}
        extras = tuple(p for p in resolved.packages if (p.name, p.version) not in framework_set)
        changed = {p.name for p in extras} & {p.name for p in frameworks.packages}
        if changed:
            raise ResolveError(
                "the extra packages need other versions of framework dependencies: "
                + ", ".join(sorted(changed))
            )
    base, note = pin_base(engine, spec.base_image)
    lock = _assemble(spec, platform, frameworks.tool, sources, base, frameworks.packages, extras)
    if previous is not None and same_pins(lock, previous):
        return LockOutcome(previous, seconds, note, unchanged=True)
    return LockOutcome(lock, seconds, note)


def _assemble(
    spec: BuildSpec,
    platform: Platform,
    tool: str,
    sources: Sources,
    base: Base,
    frameworks: Sequence[Package],
    extras: Sequence[Package],
) -> LockFile:
    fw_packages, extra_packages = _without_credentials(frameworks), _without_credentials(extras)
    return LockFile(
        lock_version=1,
        created_by=f"dlenv {__version__}",
        created=now_utc(),
        profile=spec.profile,
        spec_digest=spec.digest,
        lock_digest=content_digest(base, fw_packages, extra_packages, platform.uv_platform),
        inputs=inputs_of(spec, platform),
        resolver=Resolver(
            tool=tool,
            index_strategy="unsafe-best-match",
            sources=tuple(
                strip_credentials(s)
                for s in (
                    sources.index_url or "https://pypi.org/simple",
                    *sources.extra_index_urls,
                    *sources.find_links,
                )
            ),
        ),
        base=base,
        frameworks=fw_packages,
        extras=extra_packages,
    )


def pylock(lock: LockFile) -> dict[str, object]:
    """The lock as a PEP 751 pylock.toml document (the packages; dlenv's own data under [tool])."""
    return {
        "lock-version": "1.0",
        "created-by": lock.created_by,
        "requires-python": f"=={lock.inputs.python}",
        "environments": [
            f"python_full_version == '{lock.inputs.python}' and "
            f"sys_platform == 'linux' and platform_machine == '{lock.inputs.platform.split('-')[0]}'"
        ],
        "packages": [
            {
                "name": p.name,
                "version": p.version,
                "wheels": [
                    {
                        "name": w.name,
                        "url": w.url,
                        "hashes": {"sha256": w.sha256},
                        **({"size": w.size} if w.size else {}),
                    }
                    for w in p.wheels
                ],
            }
            for p in lock.packages()
        ],
        "tool": {
            "dlenv": {"profile": lock.profile, "lock-digest": lock.lock_digest, "base": lock.base.pinned}
        },
    }
