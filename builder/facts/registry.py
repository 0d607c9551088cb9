"""Typed, lazily parsed access to builder/facts/registry.json (written by `dlenv matrix refresh`).

The file is loaded once (a few milliseconds); each package's releases are parsed into Release
objects only when the solver first asks for that package.
"""

from __future__ import annotations

import json
import re
from collections.abc import Hashable
from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from builder import paths

_CUDA_RUNTIME = re.compile(r"^(nvidia-cuda-runtime(-cu\d+)?|cuda-toolkit)$")
# The machines dlenv images run on (uname -m, as markers spell them); pure wheels say "any".
MACHINES = ("x86_64", "aarch64")
# A CPython on glibc Linux: the platform of every dlenv image (the machine comes per image).
_PLATFORM = {
    "sys_platform": "linux",
    "platform_system": "Linux",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "platform_release": "",
    "platform_version": "",
}


def marker_env(python: Version, extra: str = "", machine: str = "x86_64") -> dict[str, str]:
    """The environment markers of a dlenv image's Python (never the host's)."""
    return {
        **_PLATFORM,
        "platform_machine": machine,
        "python_version": f"{python.major}.{python.minor}",
        "python_full_version": str(python),
        "implementation_version": str(python),
        "extra": extra,
    }


@dataclass(frozen=True)
class Wheel:
    """Where a release installs: a Python specifier and the lowest glibc of its wheels."""

    python: SpecifierSet
    glibc: Version


@dataclass(frozen=True)
class Release:
    name: str
    version: Version
    wheels: tuple[Wheel, ...]
    requires_python: SpecifierSet | None
    yanked: bool
    uploaded: str | None
    extras: frozenset[str]
    requires_text: tuple[str, ...]  # Requires-Dist as recorded; parsed on first use (`requires`)
    # A vendor build derived from this PyPI release (torch 2.13.0+cu126): its requirements on
    # CUDA libraries are not known from PyPI and were dropped.
    derived_from: str | None = field(default=None, compare=False)
    machine: str = field(default="x86_64", compare=False)  # the wheels and requirements are for

    @cached_property
    def requires(self) -> tuple[Requirement, ...]:
        """Requires-Dist, parsed: only the releases a resolution pins ever need it."""
        return tuple(_requirement(r) for r in self.requires_text)

    def python_ok(self, python: Version) -> bool:
        return self.requires_python is None or self.requires_python.contains(python, prereleases=True)

    def installs_on(self, python: Version, glibc: Version) -> bool:
        """A wheel for this Python and glibc exists, and Requires-Python allows it."""
        short = Version(f"{python.major}.{python.minor}")
        return self.python_ok(python) and any(
            w.python.contains(short, prereleases=True) and w.glibc <= glibc for w in self.wheels
        )

    def why_not(self, python: Version, glibc: Version) -> str | None:
        """Why it does not install on this Python and glibc, or None when it does."""
        short = Version(f"{python.major}.{python.minor}")
        if not self.wheels:
            return f"has no {self.machine} wheel"
        if not self.python_ok(python):
            return f"needs Python {self.requires_python}"
        wheels = [w for w in self.wheels if w.python.contains(short, prereleases=True)]
        if not wheels:
            listed = ", ".join(self.python_versions()) or "none"
            return f"has no wheel for Python {short} (wheels for Python {listed})"
        if all(w.glibc > glibc for w in wheels):
            return f"needs glibc >= {min(w.glibc for w in wheels)} (the image has {glibc})"
        return None

    def python_versions(self) -> list[str]:
        """The CPython minors this release has wheels for (3.8-3.15), for messages."""
        return [f"3.{m}" for m in range(8, 16) if self.installs_on(Version(f"3.{m}.0"), Version("99"))]

    def cuda_runtime(self, python: Version, extras: frozenset[str] = frozenset()) -> Version | None:
        """The CUDA version its CUDA libraries are built for, from the runtime pin or floor."""
        found = self.cuda_runtime_requirement(python, extras)
        return found[0] if found else None

    def cuda_runtime_requirement(
        self, python: Version, extras: frozenset[str] = frozenset()
    ) -> tuple[Version, bool] | None:
        """The CUDA (major.minor) of its nvidia-cuda-runtime requirement, and whether it is a pin
        (`==`: those libraries exactly) rather than a floor (`>=`: the newest of that major)."""
        for req in self.requires:
            if not _CUDA_RUNTIME.match(canonicalize_name(req.name)):
                continue
            if req.marker is not None and not any(
                req.marker.evaluate(marker_env(python, e, self.machine)) for e in (extras or {""})
            ):
                continue
            for spec in req.specifier:
                if spec.operator in ("==", ">=", "~=", "==="):
                    version = Version(spec.version.rstrip(".*"))
                    pinned = spec.operator in ("==", "===") and not spec.version.endswith(".*")
                    return Version(f"{version.major}.{version.minor}"), pinned
        return None

    def with_local(
        self, local: str, keep_cuda_libraries: bool, cuda_libraries: tuple[str, ...] = ()
    ) -> Release:
        """The vendor build `version+local` of this release (torch 2.13.0+cu126): PyPI's own
        requirements, with the CUDA libraries replaced by the vendor build's (when on record)."""
        requires = (
            self.requires_text
            if keep_cuda_libraries
            else (
                *(r for r in self.requires_text if not _is_accelerator_library(_requirement(r).name)),
                *cuda_libraries,
            )
        )
        return replace(
            self,
            version=Version(f"{self.version}+{local}"),
            requires_text=requires,
            derived_from=str(self.version),
        )


def _is_accelerator_library(name: str) -> bool:
    name = canonicalize_name(name)
    return name.startswith(("nvidia-", "cuda-", "pytorch-triton")) or name == "triton"


# The recorded strings repeat across releases (3761 wheel specifiers are 16 distinct ones,
# 4364 requirements 1157): parse each once. packaging's objects are never mutated here.
@cache
def _specifier(text: str) -> SpecifierSet:
    return SpecifierSet(text)


@cache
def _requirement(text: str) -> Requirement:
    return Requirement(text)


@cache
def _version(text: str) -> Version:
    return Version(text)


def _parse(name: str, version: str, raw: dict[str, Any], machine: str) -> Release:
    """One recorded release, as it installs on one machine: its wheels for that machine (or pure
    ones) and the Requires-Dist of that machine's wheel (recorded apart only where it differs)."""
    wheels = []
    for entry in raw.get("wheels", []):
        spec, glibc, arch = (*entry, "x86_64")[:3]  # schema 1 recorded x86_64 wheels only
        if arch in (machine, "any"):
            wheels.append(Wheel(_specifier("" if spec == "*" else spec), _version(glibc)))
    return Release(
        name=name,
        version=Version(version),
        wheels=tuple(wheels),
        requires_python=_specifier(raw["requires_python"]) if raw.get("requires_python") else None,
        yanked=bool(raw.get("yanked")),
        uploaded=raw.get("uploaded"),
        extras=frozenset(raw.get("extras", ())),
        requires_text=tuple(raw.get(f"requires_{machine}", raw.get("requires", ()))),
        machine=machine,
    )


class Registry:
    """Releases of the framework packages and of the dependencies that tie them together, as
    they install on one machine (`on("aarch64")` gives the view for another)."""

    def __init__(self, raw: dict[str, Any], machine: str = "x86_64") -> None:
        self.raw = raw
        self.machine = machine
        self._views: dict[str, Registry] = {machine: self}
        self.as_of: str | None = raw.get("as_of")
        self.index: str = raw.get("index", "https://pypi.org/simple")
        self._tables: dict[str, dict[str, Any]] = {
            **{canonicalize_name(k): v for k, v in raw.get("dependencies", {}).items()},
            **{canonicalize_name(k): v for k, v in raw.get("packages", {}).items()},
        }
        self._parsed: dict[str, list[Release]] = {}
        self._installable: dict[tuple[str, Version, Version], list[Release]] = {}
        # Answers derived from this (immutable) data, shared by every solver that reads it.
        self.memo: dict[Hashable, Any] = {}
        self._floors = {canonicalize_name(k): Version(v) for k, v in raw.get("scope", {}).items()}

    def on(self, machine: str) -> Registry:
        """The same data as it installs on another machine (one view per machine, kept)."""
        if machine not in self._views:
            view = Registry(self.raw, machine)
            view._views = self._views
            self._views[machine] = view
        return self._views[machine]

    def knows(self, name: str) -> bool:
        return canonicalize_name(name) in self._tables

    def releases(self, name: str) -> list[Release]:
        """All recorded releases, newest first (yanked ones included and marked)."""
        key = canonicalize_name(name)
        if key not in self._parsed:
            table = self._tables.get(key, {})
            self._parsed[key] = sorted(
                (_parse(key, v, r, self.machine) for v, r in table.items()),
                key=lambda r: r.version,
                reverse=True,
            )
        return self._parsed[key]

    def installable(self, name: str, python: Version, glibc: Version) -> list[Release]:
        """The releases with a wheel for this Python and glibc, newest first (cached)."""
        key = (canonicalize_name(name), python, glibc)
        if key not in self._installable:
            self._installable[key] = [r for r in self.releases(name) if r.installs_on(python, glibc)]
        return self._installable[key]

    def covers(self, requirement: Requirement) -> bool:
        """Whether the recorded releases can answer this requirement.

        Framework packages are recorded from a floor on (keras since 2.12): a requirement that
        only older releases could meet (keras<2.15 of TensorFlow 2.14) is outside the data, and
        the check leaves it to the real resolver rather than calling it a conflict.
        """
        name = canonicalize_name(requirement.name)
        if name not in self._tables:
            return False
        if name not in self._floors:
            return True
        return any(
            requirement.specifier.contains(r.version, prereleases=True) for r in self.releases(name)
        ) or not any(s.operator in ("<", "<=", "==", "~=") for s in requirement.specifier)

    def release(self, name: str, version: str | Version) -> Release | None:
        wanted = Version(str(version))
        return next((r for r in self.releases(name) if r.version == wanted), None)


def read_registry(path: Path) -> Registry:
    with path.open(encoding="utf-8") as fh:
        return Registry(json.load(fh))


@cache
def load_registry() -> Registry:
    """The packaged registry data (cached: it never changes within a process)."""
    return read_registry(paths.registry_file())
