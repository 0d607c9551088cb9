"""The dlenv lock file: what a locked build installs, exactly (format in docs/lock-format.md).

A lock pins the base image (registry digest, or the image ID of a local-only image) and every
Python package of the image, transitive ones included, by exact version and the sha256 of each
wheel that fits the image's platform; split into the frameworks set and the extras set so that
changing extras never reinstalls the frameworks. It also records what it was made from
(`inputs`), so `dlenv lock --check` can say what changed without network or Docker.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from builder import __version__
from builder.errors import CheckFailed, LockError
from builder.inputs.prepare import LockedInstall
from builder.render.dockerfile import LockedBuild
from builder.resolve.uv import Package, Platform
from builder.spec import BuildSpec

LOCK_VERSION = 1
SUFFIX = ".dlenv.lock"
_HEADER = (
    "# dlenv lock file, written by `dlenv lock`; do not edit by hand.\n"
    "# `dlenv lock --check` says whether it still matches its profile; "
    "`dlenv build --locked` installs exactly this.\n"
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Inputs(_Strict):
    """What the lock was made from: `lock --check` names whichever of these changed."""

    dlenv: str
    matrix: str
    registry: str
    base_image: str = Field(alias="base-image")
    python: str
    platform: str
    frameworks: tuple[str, ...]
    packages: tuple[str, ...]


class Resolver(_Strict):
    tool: str
    index_strategy: str = Field(alias="index-strategy")
    sources: tuple[str, ...]


class Base(_Strict):
    ref: str
    digest: str = ""  # registry (manifest or index) digest, sha256:...
    image_id: str = Field(default="", alias="image-id")  # for an image that exists only locally

    @property
    def pinned(self) -> str:
        """The reference a locked build uses in FROM: repo:tag@digest (the digest wins)."""
        return f"{self.ref.split('@')[0]}@{self.digest}" if self.digest else self.ref


class LockFile(_Strict):
    lock_version: Literal[1] = Field(alias="lock-version")
    created_by: str = Field(alias="created-by")
    created: str
    profile: str
    spec_digest: str = Field(alias="spec-digest")
    lock_digest: str = Field(alias="lock-digest")
    inputs: Inputs
    resolver: Resolver
    base: Base
    frameworks: tuple[Package, ...]
    extras: tuple[Package, ...] = ()

    @property
    def source_date_epoch(self) -> int:
        """The lock's creation time: the clamp for file times and .pyc in a locked build."""
        return int(datetime.fromisoformat(self.created.replace("Z", "+00:00")).timestamp())

    def packages(self) -> tuple[Package, ...]:
        return (*self.frameworks, *self.extras)

    def installs(self) -> LockedInstall:
        """What a locked build of this lock renders and installs."""
        build = LockedBuild(
            base=self.base.pinned,
            base_digest=self.base.digest or self.base.image_id,
            lock_digest=self.lock_digest,
            source_date_epoch=self.source_date_epoch,
        )
        return LockedInstall(build, self.frameworks, self.extras)

    def as_toml(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def inputs_of(spec: BuildSpec, platform: Platform) -> Inputs:
    major_minor = ".".join(__version__.split(".")[:2])
    return Inputs(
        dlenv=major_minor,
        matrix=spec.matrix_updated,
        registry=spec.registry_as_of,
        base_image=spec.base_image,
        python=platform.python,
        platform=platform.uv_platform,
        frameworks=tuple(spec.framework_requirements()),
        packages=spec.packages,
    )


def content_digest(
    base: Base, frameworks: tuple[Package, ...], extras: tuple[Package, ...], platform: str
) -> str:
    """sha256 of what the lock installs (not when or how it was made): the image's label."""
    data = {
        "base": [base.ref, base.digest, base.image_id],
        "platform": platform,
        "packages": [[p.name, p.version, sorted(w.sha256 for w in p.wheels)] for p in (*frameworks, *extras)],
    }
    return "sha256:" + hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def strip_credentials(url: str) -> str:
    """A URL without user:password@ (index credentials never go into a lock)."""
    parts = urlsplit(url)
    if not parts.username and not parts.password:
        return url
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@dataclass(frozen=True)
class LockTarget:
    """A profile, resolved, and the lock file that goes with it."""

    spec: BuildSpec
    profile_dir: Path
    path: Path
    builtin: bool
    ref: str = ""  # PROFILE as given: what a hint tells the user to run
    explicit: bool = False  # the lock file was given (--lock)

    @property
    def lock_command(self) -> str:
        """The command that makes (or re-makes) this lock, as the user would type it."""
        return lock_command(
            self.ref or self.spec.profile, self.path if self.explicit else None, self.spec.platform
        )


def lock_command(ref: str, lock: Path | None = None, platform: str = "linux/amd64") -> str:
    return (
        f"dlenv lock {shlex.quote(ref)}"
        + (f" --platform {platform}" if platform != "linux/amd64" else "")
        + (f" --lock {shlex.quote(str(lock))}" if lock else "")
    )


def lock_target(ref: str, lock: Path | None, platform: str | None = None) -> LockTarget:
    """PROFILE resolved for a platform (default: its first), and its lock file (--lock, else
    the default place for that platform's)."""
    from builder import paths
    from builder.profile.load import load_profile
    from builder.resolve.decide import resolve

    profile, path = load_profile(ref)
    spec = resolve(profile, platform=platform)
    builtin = path.parent == paths.builtin_profiles_dir()
    target = lock or default_path(spec.profile, path, builtin, spec.platform)
    return LockTarget(spec, path.parent, target, builtin, ref, lock is not None)


def fresh_lock(spec: BuildSpec, path: Path, command: str | None = None) -> LockFile:
    """The lock file, checked against the profile (exit 1 when missing or stale); `command` is
    the one that re-makes it (LockTarget.lock_command), for the hint."""
    return check(path, spec, platform_of(spec), command)


def platform_of(spec: BuildSpec) -> Platform:
    """What uv resolves for: the image's Python, C library and architecture."""
    return Platform.of(spec)


def default_path(profile_name: str, profile_file: Path, builtin: bool, platform: str = "linux/amd64") -> Path:
    """<profile name>.dlenv.lock (<name>.arm64.dlenv.lock for linux/arm64) beside a profile
    file, or in the current directory."""
    folder = Path.cwd() if builtin else profile_file.parent
    arch = "" if platform == "linux/amd64" else "." + platform.split("/")[1]
    return folder / f"{profile_name}{arch}{SUFFIX}"


def read(path: Path) -> LockFile:
    """Parse and validate a lock file; malformed input is a LockError (exit 2)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LockError(f"cannot read lock file {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise LockError(f"{path} is not a valid TOML lock file: {exc}") from None
    try:
        return LockFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: "
            f"{'unknown key' if e['type'] == 'extra_forbidden' else e['msg']}"
            for e in exc.errors()[:6]
        )
        raise LockError(
            f"{path} is not a dlenv lock file this version understands: {problems}",
            hint="Recreate it with `dlenv lock PROFILE`.",
        ) from None


def same_pins(one: LockFile, other: LockFile) -> bool:
    """Whether two locks pin the same things from the same inputs: when, and by which dlenv and
    uv release, aside (a re-lock that finds nothing new keeps the previous lock as it is)."""
    aside = {"created", "created_by", "resolver"}
    return one.model_dump(exclude=aside) == other.model_dump(exclude=aside)


def write(lock: LockFile, path: Path) -> None:
    """Write atomically: a crash or Ctrl-C never leaves half a lock file. The same lock is not
    written again (same bytes, same file); a new file gets the mode the umask allows (0644
    under 0022, as any file the user writes), a replaced one keeps its mode."""
    import tomli_w

    text = _HEADER + tomli_w.dumps(lock.as_toml())
    try:
        if path.read_text(encoding="utf-8") == text:
            return
        mode = path.stat().st_mode & 0o7777
    except (OSError, UnicodeDecodeError):
        mode = 0o666 & ~_umask()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def changes(lock: LockFile, spec: BuildSpec, platform: Platform) -> list[str]:
    """What differs between the lock's inputs and the profile as it resolves now."""
    now = inputs_of(spec, platform)
    out: list[str] = []
    labels = {
        "dlenv": "dlenv",
        "matrix": "the curated matrix",
        "registry": "the registry data",
        "base_image": "the base image",
        "python": "the image's Python",
        "platform": "the platform",
    }
    for key, label in labels.items():
        old, new = getattr(lock.inputs, key), getattr(now, key)
        if old != new:
            out.append(f"{label}: {old} -> {new}")
    for key, label in (("frameworks", "framework requirements"), ("packages", "extra packages")):
        old_set, new_set = set(getattr(lock.inputs, key)), set(getattr(now, key))
        added, removed = sorted(new_set - old_set), sorted(old_set - new_set)
        if added or removed:
            out.append(f"{label}: " + ", ".join([*(f"+{a}" for a in added), *(f"-{r}" for r in removed)]))
    if not out and lock.spec_digest != spec.digest:
        out.append("the profile's other settings (apt, env, user, smoke)")
    if lock.profile != spec.profile:
        out.insert(0, f"profile name: {lock.profile} -> {spec.profile}")
    return out


def check(path: Path, spec: BuildSpec, platform: Platform, command: str | None = None) -> LockFile:
    """The lock, if it exists and matches the profile; CheckFailed (exit 1) saying what changed.
    `command` re-makes it (default: `dlenv lock NAME`, right for a built-in profile)."""
    if command is None:
        command = lock_command(spec.profile, path if path.name != f"{spec.profile}{SUFFIX}" else None)
    if not path.is_file():
        raise CheckFailed(f"no lock file at {path}", hint=f"Create it: {command}")
    lock = read(path)
    changed = changes(lock, spec, platform)
    if changed:
        raise CheckFailed(
            f"{path} is stale; since it was made, " + "; ".join(changed) + ".",
            hint=f"Re-lock (keeps every pin it can): {command}",
        )
    return lock


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def now_utc() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
