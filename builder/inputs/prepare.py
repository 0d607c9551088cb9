"""From a BuildSpec and build options to the exact Dockerfile and tar context to send."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from builder import paths
from builder.errors import ProfileError
from builder.image_paths import CONTEXT_BUILD, CONTEXT_LOCK, CONTEXT_SMOKE, INPUTS_DIR, LOCK_DIR
from builder.inputs.context import make_context
from builder.inputs.pip_settings import build_inputs, read_host_pip
from builder.render.context_files import smoke_files
from builder.render.dockerfile import LockedBuild, render_dockerfile
from builder.render.layout import STANDALONE, Bundle, Layout, make_bundle
from builder.resolve.uv import Sources
from builder.spec import BuildSpec

if TYPE_CHECKING:
    from builder.resolve.uv import Package


WHEELS = f"{CONTEXT_BUILD}/wheels/"
UV_INPUTS = f"{CONTEXT_BUILD}/uv"  # the binary and uv.toml


def _requirements(packages: tuple[Package, ...]) -> bytes:
    return "".join(p.requirement_line() + "\n" for p in packages).encode()


@dataclass(frozen=True)
class LockedInstall:
    """What a locked build installs: the pinned FROM and labels, and the hash-pinned packages."""

    build: LockedBuild
    frameworks: tuple[Package, ...]
    extras: tuple[Package, ...]


@dataclass(frozen=True)
class BuildOptions:
    """Build-time choices that are not part of the profile (where pip fetches from)."""

    ca_bundle: Path | None = None
    keep_ca: bool = False
    pip_from_host: bool = False
    inputs: str = "auto"  # auto | served | staged (builder/layout.py)


@dataclass(frozen=True)
class PreparedBuild:
    spec: BuildSpec
    dockerfile: str
    context: bytes
    notes: list[str] = field(default_factory=list)
    bundles: tuple[Bundle, ...] = ()  # served layout: each step's inputs, by file name
    wheels: dict[str, bytes] = field(default_factory=dict)  # served layout: wheelhouse, by name


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


def has_credentials(spec: BuildSpec) -> bool:
    """Whether an index or find-links URL carries a user name or password (a secret)."""
    pip = spec.pip
    urls = (pip.index_url or "", *pip.extra_index_urls, *pip.find_links)
    return any("@" in url.split("://", 1)[-1].split("/", 1)[0] for url in urls if "://" in url)


def prepare_build(
    spec: BuildSpec,
    options: BuildOptions,
    profile_dir: Path,
    lock: LockedInstall | None = None,
    *,
    layout: Layout = STANDALONE,
    uv_binary: Path | None = None,
) -> PreparedBuild:
    """The Dockerfile and the tar context (staged) or step bundles (served); with a lock, the
    hash-pinned requirement files too. `uv_binary` is required when the layout installs with uv."""
    spec, notes, ca, links = apply_options(spec, options)
    if layout.installer == "uv" and uv_binary is None:
        raise ValueError("a uv layout needs the uv binary")  # a programming error, not input
    inputs = build_inputs(
        index_url=spec.pip.index_url,
        extra_index_urls=spec.pip.extra_index_urls,
        find_links=links,
        ca_bundle=ca,
        base_dir=profile_dir,
        uv_binary=uv_binary if layout.installer == "uv" else None,
        wheelhouse_url=layout.wheelhouse_url if layout.served else None,
    )
    locked = lock.build if lock is not None else None
    lock_files: dict[str, bytes] = {}
    if lock is not None:
        lock_files = {
            f"{CONTEXT_LOCK}/frameworks.txt": _requirements(lock.frameworks),
            f"{CONTEXT_LOCK}/extras.txt": _requirements(lock.extras),
            f"{CONTEXT_LOCK}/check_installed.py": paths.in_image_script("check_installed.py").read_bytes(),
        }
    if layout.installer == "uv" and not layout.served and any(p.startswith(WHEELS) for p in inputs.files):
        # uv marks wheels installed from a local directory with the time it saw them
        # (uv_cache.json): a staged build with a wheelhouse installs with pip instead.
        layout = Layout(layout.delivery, "pip", layout.port)
        inputs.files = {p: d for p, d in inputs.files.items() if not p.startswith(UV_INPUTS)}
        inputs.notes.append(
            "the wheelhouse is staged: pip installs the frameworks (uv would not be reproducible)"
        )
    executables = frozenset({f"{CONTEXT_SMOKE}/dlenv-smoke", f"{CONTEXT_BUILD}/uv"})
    bundles: tuple[Bundle, ...] = ()
    wheels: dict[str, bytes] = {}
    if layout.served:
        wheels = {
            path.removeprefix(WHEELS): data for path, data in inputs.files.items() if path.startswith(WHEELS)
        }
        rest = {path: data for path, data in inputs.files.items() if not path.startswith(WHEELS)}
        if wheels:  # their digests stand in for them, so a new wheel changes the step's cache key
            rest[f"{CONTEXT_BUILD}/wheels.sha256"] = "".join(
                f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(wheels.items())
            ).encode()
        bundles = _bundles(rest, lock_files, bool(spec.packages), executables)
        layout = Layout("served", layout.installer, layout.port, tuple((b.step, b.name) for b in bundles))
        build_files: dict[str, bytes] = {}
    else:
        build_files = {**inputs.files, **lock_files}
    dockerfile = render_dockerfile(spec, locked, layout)
    files = {"Dockerfile": dockerfile.encode(), **smoke_files(), **build_files}
    context = make_context(files, executables=executables)
    return PreparedBuild(spec, dockerfile, context, notes + inputs.notes, bundles, wheels)


def _bundles(
    inputs: dict[str, bytes], lock_files: dict[str, bytes], extras: bool, executables: frozenset[str]
) -> tuple[Bundle, ...]:
    """Each served step gets what it uses: the extras' lock never changes the frameworks' bundle
    (so changing extras keeps the framework layer cached)."""

    def in_image(context_path: str) -> str:
        if context_path.startswith(f"{CONTEXT_BUILD}/"):
            return f"{INPUTS_DIR}/{context_path.removeprefix(CONTEXT_BUILD + '/')}"
        return f"{LOCK_DIR}/{context_path.removeprefix(CONTEXT_LOCK + '/')}"

    def bundle(step: str, files: dict[str, bytes]) -> Bundle:
        named = {in_image(path): data for path, data in files.items()}
        return make_bundle(step, named, frozenset(in_image(p) for p in executables if p in files))

    framework_lock = {k: v for k, v in lock_files.items() if not k.endswith("/extras.txt")}
    steps = [bundle("frameworks", {**inputs, **framework_lock})]
    if extras:
        pip_inputs = {k: v for k, v in inputs.items() if not k.startswith(UV_INPUTS)}
        steps.append(bundle("extras", {**pip_inputs, **lock_files}))
    return tuple(steps)
