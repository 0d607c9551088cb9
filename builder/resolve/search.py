"""The search: which toolkit, OS and build of each framework fit together.

For every toolkit and OS, each framework's candidate builds are its releases matching the pin
(newest first) whose wheels install on the OS's Python and whose libraries fit the toolkit; a
release's fitting builds come closest CUDA first, then in the matrix's order of preference. A
depth-first search in the profile's framework order takes the first combination whose builds
agree (one CUDA major, one base flavour, Keras' backend minimum) and whose requirements resolve
together on the recorded registry data. The best combination over all toolkits and OSes wins:
verified builds, then the newest frameworks, then the toolkit (for CUDA the one closest to the
CUDA the wheels carry, so the image asks no newer driver than they need; for ROCm the newest,
whose libraries the wheels use), then the preferred OS. Every refusal along the way is kept as
a reason, in words, for the error message.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from packaging.version import Version

from builder.facts.gpus import Gpu
from builder.facts.matrix import DEFAULT_PLATFORM, CudaEntry, Framework, Matrix, OsEntry, Toolkit
from builder.facts.registry import Registry, Release
from builder.resolve.builds import Build, builds_of
from builder.resolve.gpus import misfit
from builder.resolve.installable import Conflict, Target, resolve
from builder.resolve.request import Request, Wanted, companion_release

_SHOWN = {"cpu": "CPU", "cuda": "CUDA", "rocm": "ROCm"}


# Verified builds (minus the count of unverified ones), framework versions, the toolkit they
# carry, how closely the base fits it, the builds' places in the matrix's order of preference
# (negated), -OS rank.
Score = tuple[int, tuple[Version, ...], tuple[int, int], int, int, int]


def carried(toolkit: Toolkit | None, builds: tuple[Build, ...]) -> tuple[int, int]:
    """The toolkit the image really runs, higher is better: for CUDA the newest CUDA the wheels
    carry (a profile without `cuda` gets the newest every framework supports); for ROCm the base
    image's release, whose libraries the wheels use; nothing for CPU."""
    if isinstance(toolkit, CudaEntry):
        cudas = [b.cuda for b in builds if b.cuda is not None]
        newest = max(cudas) if cudas else Version(toolkit.version)
        return (newest.major, newest.minor)
    if toolkit is not None:
        version = Version(toolkit.version)
        return (version.major, version.minor)
    return (0, 0)


def base_gap(toolkit: Toolkit | None, builds: tuple[Build, ...]) -> int:
    """Minor versions between a CUDA base and the CUDA its wheels carry (0: exactly theirs), so
    the image asks no newer driver than the wheels need."""
    if not isinstance(toolkit, CudaEntry):
        return 0
    return Version(toolkit.version).minor - carried(toolkit, builds)[1]


@dataclass(frozen=True)
class Choice:
    toolkit: Toolkit | None
    os: OsEntry
    builds: tuple[Build, ...]
    os_rank: int
    resolved: Mapping[str, Version]

    def score(self) -> Score:
        """Verified builds first, then the newest frameworks, the newest toolkit they run on, the
        closest base, the preferred builds, the preferred OS."""
        unverified = sum(b.confidence == "U" for b in self.builds)
        versions = tuple(b.version for b in self.builds)
        runs = carried(self.toolkit, self.builds)
        gap = base_gap(self.toolkit, self.builds)
        return -unverified, versions, runs, -gap, -sum(b.rank for b in self.builds), -self.os_rank

    def build(self, name: str) -> Build:
        return next(b for b in self.builds if b.framework == name)


# How telling a refusal is, for the error message: clashes between requirements first, then
# what the OS's Python or the builds rule out, then a toolkit merely tried along the way.
CLASH, GATE, TRIED = 0, 1, 2


@dataclass
class Reasons:
    """Why candidates were refused, without repeats: the most telling first, then in the order
    they were found."""

    lines: dict[str, int] = field(default_factory=dict)

    def add(self, line: str, weight: int = GATE) -> None:
        self.lines[line] = min(weight, self.lines.get(line, weight))

    def first(self, count: int) -> list[str]:
        order = {line: i for i, line in enumerate(self.lines)}
        return sorted(self.lines, key=lambda line: (self.lines[line], order[line]))[:count]


class Solver:
    def __init__(self, matrix: Matrix, registry: Registry, request: Request) -> None:
        self.matrix = matrix
        self.registry = registry
        self.request = request
        self.reasons = Reasons()
        self.misfits: dict[tuple[str, str], Gpu] = {}  # (framework, GPU id): no build runs on it
        # Builds and resolutions depend only on the data: they are kept on the registry object,
        # so the alternative searches of an error message reuse them.
        self._memo = registry.memo

    # -- the search -----------------------------------------------------------------------
    def solve(self) -> Choice | None:
        """The best-scoring choice over every toolkit and OS.

        Each toolkit and OS is searched in the order of the best score it could reach (its
        newest candidates, all verified), and the search stops once none left could beat the
        best found: that bound never under-estimates, so the answer is the exhaustive one's,
        without resolving the toolkits that cannot win. With no answer, all were searched, so
        the reasons are complete.
        """
        best: Choice | None = None
        for bound, toolkit, os_entry, rank, lists in sorted(self._plans(), key=lambda p: p[0], reverse=True):
            if best is not None and bound < best.score():
                break
            found = self._search(toolkit, os_entry, rank, lists, ())
            if found is not None and (best is None or found.score() > best.score()):
                best = found
        return best

    def _plans(self) -> Iterator[tuple[Score, Toolkit | None, OsEntry, int, list[list[Build]]]]:
        """Every toolkit and OS with candidates for each framework, with its score bound."""
        for toolkit in self._toolkits():
            for rank, os_entry in self._oses(toolkit):
                lists = [self._candidates(w, toolkit, os_entry) for w in self.request.frameworks]
                if all(lists):
                    unverified = sum(all(b.confidence == "U" for b in options) for options in lists)
                    newest = tuple(max(b.version for b in options) for options in lists)
                    runs = max(carried(toolkit, (b,)) for options in lists for b in options)
                    yield (-unverified, newest, runs, 0, 0, -rank), toolkit, os_entry, rank, lists

    def _toolkits(self) -> list[Toolkit | None]:
        req = self.request
        if req.accelerator == "cpu":
            return [None]
        entries: list[Toolkit] = [
            t for t in self.matrix.toolkit_entries(req.accelerator) if req.toolkit in (None, t.version)
        ]
        return [*sorted(entries, key=lambda t: Version(t.version), reverse=True)]

    def _oses(self, toolkit: Toolkit | None) -> list[tuple[int, OsEntry]]:
        req = self.request
        names = [req.os] if req.os else list(self.matrix.default_os[req.accelerator])
        out = []
        for rank, name in enumerate(names):
            entry = self.matrix.os_entry(name)
            if entry is None or entry.image_for(req.platform) is None:
                continue
            # CUDA images on an OS without nvidia/cuda tags are assembled from the wheels alone.
            wheels_only = isinstance(toolkit, CudaEntry) and entry.cuda_from_wheels
            if toolkit is not None and not wheels_only and name not in toolkit.os:
                continue
            if toolkit is not None and not wheels_only and req.platform not in toolkit.platforms:
                kind = "nvidia/cuda" if isinstance(toolkit, CudaEntry) else "rocm/dev"
                self.reasons.add(f"{kind} {toolkit.version} has no {req.platform} image on record", TRIED)
                continue
            if req.python is not None and entry.python_minor != req.python:
                continue
            out.append((rank, entry))
        return out

    def _search(
        self,
        toolkit: Toolkit | None,
        os_entry: OsEntry,
        rank: int,
        lists: list[list[Build]],
        chosen: tuple[Build, ...],
    ) -> Choice | None:
        if len(chosen) == len(lists):
            resolved = self._resolve(chosen, os_entry)
            assert not isinstance(resolved, Conflict)
            return Choice(toolkit, os_entry, chosen, rank, resolved)
        for build in lists[len(chosen)]:
            combo = (*chosen, build)
            if self._agree(combo, os_entry):
                found = self._search(toolkit, os_entry, rank, lists, combo)
                if found is not None:
                    return found
        return None

    # -- candidates -----------------------------------------------------------------------
    def _builds(self, name: str, release: Release) -> list[Build]:
        key = (
            "builds",
            id(self.matrix),
            name,
            str(release.version),
            self.request.accelerator,
            self.request.platform,
        )
        if key not in self._memo:
            self._memo[key] = builds_of(
                self.matrix, self.registry, name, release, self.request.accelerator, self.request.platform
            )
        builds: list[Build] = self._memo[key]
        return builds

    def _candidates(self, wanted: Wanted, toolkit: Toolkit | None, os_entry: OsEntry) -> list[Build]:
        fw = self.matrix.frameworks[wanted.name]
        acc = self.request.accelerator
        python, glibc = Version(os_entry.python), Version(os_entry.glibc)
        out: list[Build] = []
        since = Version(fw.since)
        for release in self.registry.releases(fw.package):
            if release.version < since or (wanted.pin and not wanted.pin.matches(release.version)):
                continue
            if release.yanked and not (wanted.pin and wanted.pin.exact):
                self.reasons.add(f"{wanted.name} {release.version} was yanked from PyPI")
                continue
            builds = self._builds(wanted.name, release)
            fitting = sorted(
                (b for b in builds if b.fits(toolkit)), key=lambda b: (base_gap(toolkit, (b,)), b.rank)
            )
            if not builds:
                note, everywhere = self._elsewhere(fw)
                if everywhere:  # no such build on this platform at all: said once, for every release
                    self.reasons.add(f"{wanted.name} has no {_SHOWN[acc]} build{note}", GATE)
                else:
                    self.reasons.add(f"{wanted.name} {release.version} has no {_SHOWN[acc]} build{note}")
                continue
            if not fitting:
                weight = GATE if self.request.toolkit else TRIED
                self.reasons.add(self._toolkit_reason(wanted.name, release, builds, toolkit), weight)
                continue
            for build in fitting:
                why = build.gate.why_not(python, glibc)
                if build.base_flavour and os_entry.cuda_from_wheels:
                    self.reasons.add(
                        f"{wanted.name} {release.version} ({build.variant}) needs NVIDIA's "
                        f"{build.base_flavour} base image (system CUDA libraries), which "
                        f"{os_entry.name} has no tag of"
                    )
                elif why and not build.gate.wheels:  # nothing for this machine at all
                    self.reasons.add(f"{wanted.name} {release.version} ({build.variant}) {why}")
                elif why:
                    self.reasons.add(
                        f"{wanted.name} {release.version} ({build.variant}) {why}, but "
                        f"{os_entry.name} provides Python {os_entry.python_minor}"
                    )
                elif (lacking := misfit(build, self.request.gpus, self.request.platform)) is not None:
                    self.reasons.add(lacking[0])
                    for gpu in lacking[1]:
                        self.misfits.setdefault((wanted.name, gpu.id), gpu)
                elif build.confidence == "U" and wanted.pin is None:
                    self.reasons.add(
                        f"{wanted.name} {release.version} ({build.variant}): that "
                        "build is unverified (pin the version to use it)"
                    )
                else:
                    out.append(build)  # in order of preference; the search tries the next on a clash
        # A pinned request may use unverified builds, but verified ones come first.
        return sorted(out, key=lambda b: b.confidence == "U")

    def _elsewhere(self, fw: Framework) -> tuple[str, bool]:
        """On another platform than amd64: why its builds exist on amd64 only (the matrix's
        notes), and whether no build of this accelerator exists on the platform at all."""
        req = self.request
        if req.platform == DEFAULT_PLATFORM:
            return "", False
        rules = [r for r in fw.builds if req.accelerator in r.accelerator]
        notes = [r.elsewhere for r in rules if r.elsewhere]
        everywhere = all(req.platform not in r.platforms for r in rules)
        text = f" for {req.platform}" + (f": {'; '.join(dict.fromkeys(notes))}" if notes else "")
        return text, everywhere

    def _toolkit_reason(
        self, name: str, release: Release, builds: list[Build], toolkit: Toolkit | None
    ) -> str:
        acc = self.request.accelerator
        if toolkit is None:
            return f"{name} {release.version} has no {_SHOWN[acc]} build"
        if isinstance(toolkit, CudaEntry):  # a CUDA build runs on its CUDA or newer, same major
            cudas = sorted({b.cuda for b in builds if b.cuda is not None})
            listed = ", ".join(str(c) for c in cudas) + " (or newer of the same major)"
        else:
            rocms = sorted({b.rocm for b in builds if b.rocm is not None}, key=Version)
            listed = ", ".join(r if "." in r else f"{r}.x" for r in rocms)
        # Only a toolkit the profile asked for is worth naming; every other one was merely tried.
        asked = f", not {toolkit.version}" if self.request.toolkit else ""
        return f"{name} {release.version} has {_SHOWN[acc]} builds for {acc} {listed} only{asked}"

    # -- agreement between frameworks -------------------------------------------------------
    def _agree(self, combo: tuple[Build, ...], os_entry: OsEntry) -> bool:
        majors = {b.cuda.major: b for b in combo if b.cuda is not None}
        if len(majors) > 1:
            a, b = list(majors.values())[:2]
            self.reasons.add(
                f"{a.framework} {a.version} ({a.variant}) uses CUDA {a.cuda} libraries "
                f"and {b.framework} {b.version} ({b.variant}) CUDA {b.cuda}: one "
                "image would carry both CUDA library sets",
                CLASH,
            )
            return False
        flavours = {b.base_flavour for b in combo if b.base_flavour}
        if len(flavours) > 1:
            self.reasons.add(
                "the frameworks need different CUDA base images ("
                + ", ".join(f"{b.framework} {b.version}: {b.base_flavour or 'base'}" for b in combo)
                + ")"
            )
            return False
        if not self._backend_ok(combo):
            return False
        resolved = self._resolve(combo, os_entry)
        if isinstance(resolved, Conflict):
            for line in resolved.lines:
                self.reasons.add(line, CLASH)
            return False
        return True

    def _backend_ok(self, combo: tuple[Build, ...]) -> bool:
        backend = self.request.keras_backend
        keras = next((b for b in combo if b.framework == "keras"), None)
        target = self.matrix.framework_of_backend(backend) if backend else None
        provider = next((b for b in combo if b.framework == target), None)
        if keras is None or provider is None:
            return True
        minimum = self.matrix.frameworks["keras"].min_backend.get(provider.framework)
        if minimum and provider.version < Version(minimum):
            self.reasons.add(
                f"keras {keras.version} needs {provider.framework} >= {minimum} as its "
                f"backend, not {provider.version}"
            )
            return False
        return True

    def requirements_of(self, combo: tuple[Build, ...]) -> dict[str, str | None]:
        """Every requirement of a combination, mapped to who adds it (None: the profile).

        A build whose wheels come from outside PyPI (repo.radeon.com) takes part as the PyPI
        release it was built from: same version, same Requires-Dist.
        """
        out: dict[str, str | None] = {}
        for build in combo:
            who = f"{build.framework} {build.version} ({build.variant})"
            fw = self.matrix.frameworks[build.framework]
            own = (f"{fw.package}=={build.version}",) if build.find_links else build.requirements
            for req in own:
                out.setdefault(req, None if req.startswith(f"{fw.package}==") else who)
            for req in fw.extra_requirements:
                out.setdefault(req, who)
            wanted = next(w for w in self.request.frameworks if w.name == build.framework)
            for companion in wanted.companions:
                out[self.companion_requirement(build, companion) or f"{companion}==0+none"] = who
        return out

    def companion_requirement(self, build: Build, companion: str) -> str | None:
        release = companion_release(self.registry, companion, build.release)
        if release is None:
            return None
        local = f"+{build.variant}" if build.index and "+" in build.requirements[0] else ""
        return f"{companion}=={release.version}{local}"

    def _resolve(self, combo: tuple[Build, ...], os_entry: OsEntry) -> Mapping[str, Version] | Conflict:
        requirements = self.requirements_of(combo)
        for req, owner in requirements.items():
            if req.endswith("==0+none"):
                who = (owner or "").split(" (")[0]
                return Conflict((f"{req.split('==')[0]} has no release made for {who}",))
        key = ("resolve", os_entry.python, os_entry.glibc, frozenset(requirements.items()))
        if key not in self._memo:
            target = Target(Version(os_entry.python), Version(os_entry.glibc))
            self._memo[key] = resolve(self.registry, requirements, target)
        result: Mapping[str, Version] | Conflict = self._memo[key]
        return result
