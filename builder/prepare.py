"""From a BuildSpec and build options to the exact Dockerfile and tar context to send."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from builder import paths
from builder.context import make_context
from builder.errors import ProfileError
from builder.pipconf import build_inputs, read_host_pip
from builder.render import LockedBuild, render_dockerfile, smoke_files
from builder.spec import BuildSpec

if TYPE_CHECKING:
    from builder.lockfile import LockFile, Package


def _requirements(packages: tuple[Package, ...]) -> bytes:
    return "".join(p.requirement_line() + "\n" for p in packages).encode()


@dataclass(frozen=True)
class BuildOptions:
    """Build-time choices that are not part of the profile (where pip fetches from)."""

    ca_bundle: Path | None = None
    keep_ca: bool = False
    pip_from_host: bool = False


@dataclass(frozen=True)
class PreparedBuild:
    spec: BuildSpec
    dockerfile: str
    context: bytes
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Sources:
    """Where pip (in the build) and uv (on the host, for `--resolve` and `lock`) find packages."""

    index_url: str | None
    extra_index_urls: tuple[str, ...]  # the site's, then the frameworks' vendor indexes
    find_links: tuple[str, ...]  # URLs and absolute wheelhouse directories
    ca_bundle: Path | None
    notes: tuple[str, ...]


def sources_for(spec: BuildSpec, options: BuildOptions, profile_dir: Path) -> tuple[BuildSpec, Sources]:
    """The spec with the build options folded in, and the package sources it implies."""
    spec, notes, ca, links = apply_options(spec, options)
    local = []
    for link in links:
        if link.startswith(("http://", "https://")):
            local.append(link)
        else:
            path = (profile_dir / Path(link.removeprefix("file://")).expanduser()).resolve()
            if not path.is_dir():
                raise ProfileError(f"pip.find_links: {link} is not a directory ({path})")
            local.append(str(path))
    extra = tuple(dict.fromkeys((*spec.pip.extra_index_urls, *spec.vendor_indexes())))
    return spec, Sources(spec.pip.index_url, extra, (*local, *spec.vendor_find_links()), ca, tuple(notes))


def apply_options(
    spec: BuildSpec, options: BuildOptions
) -> tuple[BuildSpec, list[str], Path | None, tuple[str, ...]]:
    """Fold build options into the spec; returns (spec, notes, CA file, find-links)."""
    notes: list[str] = []
    pip = spec.pip
    ca = options.ca_bundle
    links = pip.find_links
    if options.pip_from_host:
        host = read_host_pip()
        # A host with its own sources (a mirror or a wheelhouse) is set up for this site:
        # those stand in for the vendor indexes, which such sites usually cannot reach.
        site_sources = bool(host.index_url or host.find_links)
        pip = pip.model_copy(
            update={
                "index_url": pip.index_url or host.index_url,
                "extra_index_urls": tuple(dict.fromkeys(pip.extra_index_urls + host.extra_index_urls)),
                "vendor_indexes": pip.vendor_indexes and not site_sources,
            }
        )
        links = tuple(dict.fromkeys(links + host.find_links))
        if ca is None and host.cert:
            ca = Path(host.cert)
        notes.append(
            "--pip-from-host: pip uses the host's index, find-links and CA"
            + ("; framework vendor indexes are left out" if site_sources else "")
        )
        notes.extend(f"skipped host pip setting {s}" for s in host.skipped)
    pip = pip.model_copy(
        update={
            "find_links": links,
            "ca_bundle": ca is not None,
            "keep_ca": options.keep_ca and ca is not None,
        }
    )
    return spec.model_copy(update={"pip": pip}), notes, ca, links


def prepare_build(
    spec: BuildSpec, options: BuildOptions, profile_dir: Path, lock: LockFile | None = None
) -> PreparedBuild:
    """The Dockerfile and the tar context; with a lock, the hash-pinned requirement files too."""
    spec, notes, ca, links = apply_options(spec, options)
    inputs = build_inputs(
        index_url=spec.pip.index_url,
        extra_index_urls=spec.pip.extra_index_urls,
        find_links=links,
        ca_bundle=ca,
        base_dir=profile_dir,
    )
    locked = None
    lock_files: dict[str, bytes] = {}
    if lock is not None:
        locked = LockedBuild(
            base=lock.base.pinned,
            base_digest=lock.base.digest or lock.base.image_id,
            lock_digest=lock.lock_digest,
            source_date_epoch=lock.source_date_epoch,
        )
        lock_files = {
            "dlenv/lock/frameworks.txt": _requirements(lock.frameworks),
            "dlenv/lock/extras.txt": _requirements(lock.extras),
            "dlenv/lock/check_installed.py": (paths.PACKAGE_DIR / "data" / "check_installed.py").read_bytes(),
        }
    dockerfile = render_dockerfile(spec, locked)
    files = {"Dockerfile": dockerfile.encode(), **smoke_files(), **inputs.files, **lock_files}
    context = make_context(files, executables=frozenset({"dlenv/smoke/dlenv-smoke"}))
    return PreparedBuild(spec, dockerfile, context, notes + inputs.notes)
