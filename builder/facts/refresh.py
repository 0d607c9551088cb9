"""`dlenv matrix refresh`: rebuild everything the package registry can tell, from the registry.

For each framework package in scope (matrix.yaml `registry.packages`) it records every final and
post release since the scope's floor: the Linux x86_64 and aarch64 wheels (Python versions from
the cpXY tags, the glibc level from the manylinux tag, the machine), `Requires-Python`, yanked
state, upload date, the extras it provides and its `Requires-Dist` (from the wheel's own
metadata; an aarch64 wheel's is recorded apart, as `requires_aarch64`, where it differs).
Dependencies that tie frameworks together (required by two frameworks, or CUDA libraries) are
recorded too, with their releases, so the solver can check numpy, ml_dtypes, keras and nvidia-*
ranges; `extra_requirements` (the curated vendor pins) name dependencies and extras to record.

The output is deterministic: the same registry answers give the same bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.parser import HeaderParser
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from builder.facts.pypi import Fetcher, IndexFile
from builder.facts.registry import MACHINES, marker_env

SCHEMA = 2
PYTHONS = ("3.9", "3.10", "3.11", "3.12", "3.13", "3.14")
_MANYLINUX = re.compile(r"^manylinux_(\d+)_(\d+)_(x86_64|aarch64)$")
_LEGACY_MANYLINUX = {
    "manylinux1_x86_64": ("2.5", "x86_64"),
    "manylinux2010_x86_64": ("2.12", "x86_64"),
    "manylinux2014_x86_64": ("2.17", "x86_64"),
    "manylinux2014_aarch64": ("2.17", "aarch64"),
    "linux_x86_64": ("0", "x86_64"),
    "linux_aarch64": ("0", "aarch64"),
}
Support = tuple[str, str, str]  # (Python specifier, minimum glibc, machine or "any")


@dataclass(frozen=True)
class ScopeEntry:
    """A package whose releases refresh records, with metadata, and the framework it serves."""

    framework: str
    since: str


def wheel_support(filename: str) -> list[Support]:
    """(Python specifier, minimum glibc, machine) triples under which a wheel installs on Linux
    (x86_64 or aarch64; "any" for a pure wheel)."""
    try:
        _, _, _, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return []
    out = set()
    for tag in tags:
        if tag.platform == "any":
            glibc, machine = "0", "any"
        elif tag.platform in _LEGACY_MANYLINUX:
            glibc, machine = _LEGACY_MANYLINUX[tag.platform]
        elif match := _MANYLINUX.match(tag.platform):
            glibc, machine = f"{match.group(1)}.{match.group(2)}", match.group(3)
        else:
            continue
        if tag.abi.endswith("t") and tag.abi.startswith("cp"):  # free-threaded builds
            continue
        interpreter = tag.interpreter
        if interpreter.startswith("cp") and interpreter[2:].isdigit():
            minor = f"{interpreter[2]}.{interpreter[3:]}"
            out.add((f">={minor}" if tag.abi == "abi3" else f"=={minor}", glibc, machine))
        elif interpreter in ("py3", "py2.py3") or interpreter.startswith("py3"):
            out.add(("*", glibc, machine))
    return sorted(out)


def _merge_wheels(triples: Iterable[Support]) -> list[list[str]]:
    """The lowest glibc per Python specifier and machine: any wheel for that Python will do."""
    best: dict[tuple[str, str], str] = {}
    for spec, glibc, machine in triples:
        key = (spec, machine)
        if key not in best or Version(glibc) < Version(best[key]):
            best[key] = glibc
    return [[spec, glibc, machine] for (spec, machine), glibc in sorted(best.items())]


def _release_version(filename: str) -> Version | None:
    try:
        _, version, _, _ = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return None
    return version


def group_releases(files: Iterable[IndexFile], since: str | None) -> dict[Version, list[IndexFile]]:
    """Wheels by release: final and post releases only, from `since` on."""
    floor = Version(since) if since else None
    out: dict[Version, list[IndexFile]] = {}
    for f in files:
        if not f.filename.endswith(".whl"):
            continue
        version = _release_version(f.filename)
        if version is None or version.is_prerelease or version.is_devrelease or version.local:
            continue
        if floor is not None and version < floor:
            continue
        if wheel_support(f.filename):
            out.setdefault(version, []).append(f)
    return out


def _representative(files: list[IndexFile], machine: str | None = None) -> IndexFile | None:
    """The wheel whose metadata stands for the release (on a machine, or on any: x86_64 first):
    the newest CPython's Linux wheel."""

    def machines(f: IndexFile) -> set[str]:
        return {m for _, _, m in wheel_support(f.filename)}

    def rank(f: IndexFile) -> tuple[int, int, str]:
        specs = [spec for spec, _, _ in wheel_support(f.filename)]
        newest = max((Version(s[2:]) for s in specs if s.startswith(("==", ">="))), default=Version("0"))
        main = int("x86_64" in machines(f) or "any" in machines(f))
        return (main, newest.minor, f.filename)

    fitting = [f for f in files if machine is None or machines(f) & {machine, "any"}]
    return max(fitting, key=rank) if fitting else None


def summarize(files: list[IndexFile]) -> dict[str, Any]:
    """What the solver needs of one release, from its files alone (no metadata)."""
    rep = _representative(files) or files[0]
    uploads = sorted(f.upload_time for f in files if f.upload_time)
    return {
        "wheels": _merge_wheels(p for f in files for p in wheel_support(f.filename)),
        "requires_python": rep.requires_python,
        "yanked": all(f.yanked for f in files),
        "uploaded": uploads[0][:10] if uploads else None,
    }


def parse_metadata(text: str) -> tuple[list[str], list[str]]:
    """(Requires-Dist, Provides-Extra) of a METADATA file."""
    headers = HeaderParser().parsestr(text, headersonly=True)
    requires = [" ".join(r.split()) for r in headers.get_all("Requires-Dist") or []]
    extras = sorted({str(canonicalize_name(e)) for e in headers.get_all("Provides-Extra") or []})
    return requires, extras


def _can_apply(req: Requirement, extras: Iterable[str | None]) -> bool:
    """Whether a requirement's marker can be true on our platforms, for some Python and extra."""
    if req.marker is None:
        return True
    return any(
        req.marker.evaluate(marker_env(Version(python + ".0"), extra or "", machine))
        for python in PYTHONS
        for extra in extras
        for machine in MACHINES
    )


def relevant_requirements(requires: list[str], extras: list[str]) -> list[Requirement]:
    out = []
    for text in requires:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        if _can_apply(req, [None, *extras]):
            out.append(req)
    return out


def is_cuda_library(name: str) -> bool:
    return name.startswith(("nvidia-", "cuda-"))


def shared_dependencies(
    requirements: Mapping[str, Iterable[Requirement]], framework_of: Mapping[str, str]
) -> set[str]:
    """Dependencies that tie frameworks together: needed by two of them, or CUDA libraries."""
    users: dict[str, set[str]] = {}
    for package, reqs in requirements.items():
        for req in reqs:
            users.setdefault(canonicalize_name(req.name), set()).add(framework_of[package])
    return {
        name
        for name, frameworks in users.items()
        if name not in framework_of and (len(frameworks) > 1 or is_cuda_library(name))
    }


def refresh(
    fetcher: Fetcher,
    scope: Mapping[str, ScopeEntry],
    *,
    index_url: str = "https://pypi.org/simple",
    progress: Callable[[str], None] = lambda _: None,
    workers: int = 8,
    extra_requirements: Iterable[str] = (),
) -> dict[str, Any]:
    """The registry data for `scope`, as a JSON-ready dict (see module docstring)."""
    packages: dict[str, dict[str, Any]] = {}
    requirements: dict[str, list[Requirement]] = {"(curated)": [Requirement(r) for r in extra_requirements]}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for name, entry in sorted(scope.items()):
            progress(f"{name} (releases since {entry.since})")
            packages[name], requirements[name] = _record_releases(
                fetcher, pool, group_releases(fetcher.project(name), entry.since)
            )
        framework_of = {name: entry.framework for name, entry in scope.items()} | {"(curated)": "(curated)"}
        dependencies: dict[str, dict[str, Any]] = {}
        for name in sorted(shared_dependencies(requirements, framework_of)):
            progress(f"{name} (dependency)")
            releases = group_releases(fetcher.project(name), None)
            dependencies[name] = {str(v): summarize(files) for v, files in sorted(releases.items())}
            _add_extras_metadata(fetcher, pool, name, releases, dependencies[name], requirements)
    uploads = [
        r["uploaded"]
        for table in (*packages.values(), *dependencies.values())
        for r in table.values()
        if r.get("uploaded")
    ]
    return {
        "schema": SCHEMA,
        "index": index_url,
        "platform": "linux x86_64 and aarch64 (glibc), CPython",
        "as_of": max(uploads) if uploads else None,
        "scope": {name: entry.since for name, entry in sorted(scope.items())},
        "packages": packages,
        "dependencies": dependencies,
    }


def untracked_members(names: Iterable[str], tracked: Iterable[str], families: Iterable[str]) -> list[str]:
    """Projects of the index in a known family (regular expressions of the matrix's
    `registry.families`) that the registry data does not track: a new jax-cuda14-plugin,
    mxnet-cu130, tensorflow-... would otherwise go unnoticed."""
    patterns = [re.compile(f) for f in families]
    known = {canonicalize_name(n) for n in tracked}
    return sorted(
        {
            canonicalize_name(n)
            for n in names
            if canonicalize_name(n) not in known and any(p.fullmatch(canonicalize_name(n)) for p in patterns)
        }
    )


def _record_releases(
    fetcher: Fetcher, pool: ThreadPoolExecutor, releases: Mapping[Version, list[IndexFile]]
) -> tuple[dict[str, Any], list[Requirement]]:
    """Each release's summary and metadata: one read for x86_64 (or a pure wheel), one more for
    aarch64 where that machine has a wheel of its own, kept only if its Requires-Dist differs."""
    reads: list[tuple[Version, str, IndexFile]] = []
    for version, files in releases.items():
        main = _representative(files)
        if main is None:
            continue
        reads.append((version, "main", main))
        arm = _representative(files, "aarch64")
        if arm is not None and arm.filename != main.filename:
            reads.append((version, "aarch64", arm))
    texts = dict(
        zip(
            [(v, which) for v, which, _ in reads],
            pool.map(fetcher.metadata, [f for _, _, f in reads]),
            strict=True,
        )
    )
    table: dict[str, Any] = {}
    requirements: list[Requirement] = []
    for version in sorted(releases):
        if (version, "main") not in texts:
            continue
        requires, extras = parse_metadata(texts[(version, "main")])
        kept = relevant_requirements(requires, extras)
        requirements += kept
        table[str(version)] = {
            **summarize(releases[version]),
            "extras": extras,
            "requires": [str(r) for r in kept],
        }
        if (version, "aarch64") in texts:
            arm_requires, arm_extras = parse_metadata(texts[(version, "aarch64")])
            arm_kept = [str(r) for r in relevant_requirements(arm_requires, arm_extras)]
            if arm_kept != table[str(version)]["requires"]:
                table[str(version)]["requires_aarch64"] = arm_kept
                requirements += [Requirement(r) for r in arm_kept]
    return table, requirements


def _add_extras_metadata(
    fetcher: Fetcher,
    pool: ThreadPoolExecutor,
    name: str,
    releases: Mapping[Version, list[IndexFile]],
    table: dict[str, Any],
    requirements: Mapping[str, list[Requirement]],
) -> None:
    """Record Requires-Dist for a dependency required *with extras* (cuda-toolkit[cublas]).

    Only the releases some framework's specifier allows are read, so this stays a handful of
    requests; the extras' own pins (nvidia-cublas==13.0.x) are what the solver must see.
    """
    wanted = [
        r for reqs in requirements.values() for r in reqs if canonicalize_name(r.name) == name and r.extras
    ]
    if not wanted:
        return
    versions = [v for v in releases if any(v in _spec(r.specifier) for r in wanted)]
    reps = [_representative(releases[v]) or releases[v][0] for v in versions]
    for version, text in zip(versions, pool.map(fetcher.metadata, reps), strict=True):
        requires, extras = parse_metadata(text)
        table[str(version)]["extras"] = extras
        table[str(version)]["requires"] = [str(r) for r in relevant_requirements(requires, extras)]


def _spec(specifier: SpecifierSet) -> SpecifierSet:
    return SpecifierSet(str(specifier), prereleases=False)


def dumps(data: Mapping[str, Any]) -> str:
    """Stable JSON: sorted keys, versions in release order, one package per line block."""

    def order(table: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return {k: table[k] for k in sorted(table, key=Version)}
        except InvalidVersion:
            return dict(sorted(table.items()))

    out = dict(data)
    for key in ("packages", "dependencies"):
        out[key] = {name: order(releases) for name, releases in sorted(data[key].items())}
    return json.dumps(out, indent=1, sort_keys=False, ensure_ascii=True) + "\n"
