"""The exact check: resolve requirements with uv for the image's platform, from the host.

uv resolves for another platform without the image (`--python-version`, `--python-platform`
x86_64-manylinux_<glibc>), against the indexes the build would use, with `--only-binary :all:`
(nothing is built) and hashes for every wheel it picks (pylock.toml output). No Docker, no GPU.
`dlenv validate --resolve` and `dlenv lock` both use this one module.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from builder.errors import DlenvError, IndexUnreachable, ResolveError

if TYPE_CHECKING:
    from builder.spec import BuildSpec

# uv's messages for an index it could not reach (network, DNS, TLS, HTTP errors).
_UNREACHABLE = re.compile(
    r"Failed to fetch|error sending request|dns error|Connection refused|"
    r"certificate|tls|timed out|status code (401|403|407|5\d\d)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Platform:
    """The image's interpreter, C library and architecture."""

    python: str  # full version: uv assumes .0 otherwise
    glibc: str
    arch: str = "x86_64"

    @property
    def uv_platform(self) -> str:
        return f"{self.arch}-manylinux_{self.glibc.replace('.', '_')}"

    @classmethod
    def of(cls, spec: BuildSpec) -> Platform:
        """The platform a BuildSpec's image installs on."""
        from builder.facts.matrix import MACHINE

        return cls(spec.python_full, spec.glibc, MACHINE[spec.platform])


class Wheel(BaseModel):
    """One wheel of a pinned package, with the sha256 an install checks it against."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    url: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int | None = None


class Package(BaseModel):
    """A package pinned to one version, with every wheel that fits the platform."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: str
    wheels: tuple[Wheel, ...] = Field(min_length=1)

    def requirement_line(self) -> str:
        """`name==version --hash=...` for `pip install --require-hashes --no-deps`."""
        hashes = " ".join(f"--hash=sha256:{w.sha256}" for w in self.wheels)
        return f"{self.name}=={self.version} {hashes}"


@dataclass(frozen=True)
class Sources:
    """Where pip (in the build) and uv (on the host, for `--resolve` and `lock`) find packages."""

    index_url: str | None
    extra_index_urls: tuple[str, ...]  # the site's, then the frameworks' vendor indexes
    find_links: tuple[str, ...]  # URLs and absolute wheelhouse directories
    ca_bundle: Path | None
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Resolution:
    packages: tuple[Package, ...]
    tool: str  # "uv 0.13.9"
    seconds: float


def uv_binary() -> str:
    try:
        from uv import find_uv_bin
    except ImportError:  # pragma: no cover - uv is a dependency; a stripped install may lack it
        raise DlenvError("uv is not installed: pip install uv (dlenv resolves and locks with it)") from None
    return str(find_uv_bin())


def uv_version() -> str:
    out = subprocess.run([uv_binary(), "--version"], capture_output=True, text=True, check=False)
    return " ".join(out.stdout.split()[:2]) or "uv"


def _command(
    requirements: Path,
    output: Path,
    platform: Platform,
    sources: Sources,
    constraints: Path | None,
    upgrade: bool,
    upgrade_packages: Sequence[str],
) -> list[str]:
    cmd = [
        uv_binary(),
        "pip",
        "compile",
        str(requirements),
        "--quiet",
        "--no-header",
        "--python-version",
        platform.python,
        "--python-platform",
        platform.uv_platform,
        "--only-binary",
        ":all:",
        "--format",
        "pylock.toml",
        "-o",
        str(output),
        # pip's behaviour (the build installs with pip): best version across all indexes.
        "--index-strategy",
        "unsafe-best-match",
        "--no-config",
    ]
    if sources.index_url:
        cmd += ["--index-url", sources.index_url]
    for url in sources.extra_index_urls:
        cmd += ["--extra-index-url", url]
    for link in sources.find_links:
        cmd += ["--find-links", link]
    if constraints is not None:
        cmd += ["--constraint", str(constraints)]
    if upgrade:
        cmd.append("--upgrade")
    for name in upgrade_packages:
        cmd += ["--upgrade-package", name]
    return cmd


def _environment(sources: Sources) -> dict[str, str]:
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}
    if sources.ca_bundle is not None:
        env["SSL_CERT_FILE"] = str(sources.ca_bundle)
    return env


def parse_pylock(text: str) -> tuple[Package, ...]:
    """The packages of uv's pylock.toml output; ResolveError for one without a hashed wheel."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    data: dict[str, Any] = tomllib.loads(text)
    packages = []
    for entry in data.get("packages", []):
        try:
            wheels = tuple(
                Wheel(
                    name=str(wheel.get("url") or wheel.get("path") or "").rsplit("/", 1)[-1],
                    url=str(wheel.get("url") or wheel.get("path") or ""),
                    sha256=str(wheel.get("hashes", {}).get("sha256", "")),
                    size=wheel.get("size"),
                )
                for wheel in entry.get("wheels", [])
            )
            packages.append(Package(name=str(entry["name"]), version=str(entry["version"]), wheels=wheels))
        except (ValidationError, KeyError):
            raise ResolveError(
                f"uv found no wheel with a sha256 hash for {entry.get('name')} "
                f"{entry.get('version')}: a lock needs one for every package"
            ) from None
    return tuple(sorted(packages, key=lambda p: p.name))


def failure_of(stderr: str, platform: Platform) -> DlenvError:
    """What uv's stderr means: a real conflict (exit 2) or an index it could not reach (exit 6)."""
    text = "\n".join(line.rstrip() for line in stderr.strip().splitlines() if line.strip())
    if "No solution found" in text or "unsatisfiable" in text:
        explanation = text.split("No solution found when resolving dependencies", 1)[-1]
        explanation = re.sub(r"^[:\s]*", "", explanation)
        explanation = re.sub(r"\s+", " ", re.sub(r"cause:|[╰─▶│×]", " ", explanation)).strip()
        return ResolveError(
            f"the requirements conflict for Python {platform.python} on {platform.uv_platform} "
            f"(uv, the real resolver): {explanation}"
        )
    if _UNREACHABLE.search(text):
        first = next(
            (line.strip() for line in text.splitlines() if "Failed to fetch" in line), text.splitlines()[0]
        )
        return IndexUnreachable(
            f"a package index could not be reached while resolving: {first.removeprefix('cause: ')}",
            hint="Check the network or proxy, the index URLs (profile `pip:` or --pip-from-host), "
            "and the CA bundle (--ca-bundle) of a TLS-intercepting proxy.",
        )
    return ResolveError(f"uv could not resolve the requirements: {text[-1500:]}")


def resolve(
    requirements: Sequence[str],
    platform: Platform,
    sources: Sources,
    *,
    constraints: Sequence[str] = (),
    preferences: Sequence[Package] = (),
    upgrade: bool = False,
    upgrade_packages: Sequence[str] = (),
    timeout: int = 1800,
) -> Resolution:
    """Resolve with uv for the platform; hashes for every wheel; ResolveError / IndexUnreachable."""
    import tomli_w

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dlenv-resolve-") as tmp:
        folder = Path(tmp)
        (folder / "requirements.in").write_text("\n".join(requirements) + "\n")
        constraint_file = None
        if constraints:
            constraint_file = folder / "constraints.txt"
            constraint_file.write_text("\n".join(constraints) + "\n")
        output = folder / "pylock.toml"
        if preferences:  # uv keeps the pins of an existing output file unless told to upgrade
            output.write_text(
                tomli_w.dumps(
                    {
                        "lock-version": "1.0",
                        "created-by": "dlenv",
                        "packages": [
                            {
                                "name": p.name,
                                "version": p.version,
                                "wheels": [{"url": w.url, "hashes": {"sha256": w.sha256}} for w in p.wheels],
                            }
                            for p in preferences
                        ],
                    }
                )
            )
        cmd = _command(
            folder / "requirements.in", output, platform, sources, constraint_file, upgrade, upgrade_packages
        )
        try:
            result = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                timeout=timeout,
                env=_environment(sources),
                cwd=folder,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise IndexUnreachable(f"uv did not finish resolving within {timeout} s") from None
        if result.returncode != 0:
            raise failure_of(result.stderr, platform)
        packages = parse_pylock(output.read_text())
    return Resolution(packages, uv_version(), time.monotonic() - started)
