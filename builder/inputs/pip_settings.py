"""Build-time package sources: profile settings, --ca-bundle and --pip-from-host.

Everything here ends up in the build's pip.conf and uv.toml (and wheelhouse), never in an image
layer: a build stage or a served step uses it (builder/layout.py).
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import tomli_w

from builder.errors import ProfileError
from builder.image_paths import CONTEXT_BUILD, INPUTS_DIR


@dataclass(frozen=True)
class HostPip:
    """What the host's pip would use: environment first, then pip.conf files."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    cert: str | None = None
    skipped: tuple[str, ...] = ()  # settings that cannot travel into a build, with why


def _config_files() -> list[Path]:
    env_file = os.environ.get("PIP_CONFIG_FILE")
    if env_file == os.devnull:
        return []
    home = Path.home()
    xdg = Path(os.environ.get("XDG_CONFIG_HOME", home / ".config"))
    files = [
        Path("/etc/xdg/pip/pip.conf"),
        Path("/etc/pip.conf"),
        home / ".pip" / "pip.conf",
        xdg / "pip" / "pip.conf",
    ]
    if env_file:
        files.append(Path(env_file))
    return [f for f in files if f.is_file()]


def read_host_pip() -> HostPip:
    """Read the host's pip settings the way pip does (later files and env vars win)."""
    values: dict[str, str] = {}
    for path in _config_files():
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except configparser.Error:
            continue
        for section in ("global", "install"):
            if parser.has_section(section):
                values.update({k.replace("_", "-"): v for k, v in parser.items(section)})
    for key in ("index-url", "extra-index-url", "find-links", "cert"):
        env_value = os.environ.get("PIP_" + key.upper().replace("-", "_"))
        if env_value:
            values[key] = env_value
    skipped: list[str] = []

    def usable(url: str) -> bool:
        if url.startswith(("http://", "https://")):
            return True
        skipped.append(f"{url} (a host-local index cannot travel into a build; use find-links)")
        return False

    index = values.get("index-url")
    if index and not usable(index):
        index = None
    extras = tuple(u for u in values.get("extra-index-url", "").split() if usable(u))
    links = tuple(values.get("find-links", "").split())
    return HostPip(
        index_url=index,
        extra_index_urls=extras,
        find_links=links,
        cert=values.get("cert"),
        skipped=tuple(skipped),
    )


@dataclass
class BuildInputs:
    """The build-only files: pip.conf, CA bundle, wheelhouse, by path in the context."""

    files: dict[str, bytes] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _wheelhouse(dirs: list[Path], inputs: BuildInputs) -> None:
    for directory in dirs:
        for wheel in sorted(directory.iterdir()):
            if wheel.is_file() and wheel.name.endswith((".whl", ".tar.gz", ".zip")):
                inputs.files.setdefault(f"{CONTEXT_BUILD}/wheels/{wheel.name}", wheel.read_bytes())
        inputs.notes.append(f"wheelhouse {directory} added to the build inputs")


def build_inputs(
    *,
    index_url: str | None,
    extra_index_urls: tuple[str, ...],
    find_links: tuple[str, ...],
    ca_bundle: Path | None,
    base_dir: Path,
    uv_binary: Path | None = None,
    wheelhouse_url: str | None = None,
) -> BuildInputs:
    """Assemble pip.conf (and, for uv, uv.toml and the binary) and their files.

    Local find-links dirs are resolved against base_dir; their wheels go under
    dlenv/build/wheels/, found in the image at /opt/dlenv-build/wheels, or at `wheelhouse_url`
    when they are served over HTTP instead (uv marks wheels installed from a local directory
    with the time it saw them, which would make locked builds differ).
    """
    inputs = BuildInputs()
    local_dirs: list[Path] = []
    remote_links: list[str] = []
    for link in find_links:
        if link.startswith(("http://", "https://")):
            remote_links.append(link)
            continue
        path = (base_dir / Path(link.removeprefix("file://")).expanduser()).resolve()
        if not path.is_dir():
            raise ProfileError(f"pip.find_links: {link} is not a directory ({path})")
        local_dirs.append(path)
    _wheelhouse(local_dirs, inputs)
    lines = [
        "# Written by dlenv build: pip settings for the build stage only.",
        "[global]",
        "no-cache-dir = true",
    ]
    if index_url:
        lines.append(f"index-url = {index_url}")
    if extra_index_urls:
        lines.append("extra-index-url = " + " ".join(extra_index_urls))
    links = ([wheelhouse_url or f"{INPUTS_DIR}/wheels"] if local_dirs else []) + remote_links
    if links:
        lines.append("find-links = " + " ".join(links))
    if wheelhouse_url and local_dirs:  # pip ignores plain-HTTP find-links hosts it is not told to trust
        lines.append(f"trusted-host = {urlsplit(wheelhouse_url).hostname}")
    if ca_bundle is not None:
        try:
            inputs.files[f"{CONTEXT_BUILD}/ca.pem"] = ca_bundle.read_bytes()
        except OSError as exc:
            raise ProfileError(f"--ca-bundle: cannot read {ca_bundle}: {exc}") from None
        lines.append(f"cert = {INPUTS_DIR}/ca.pem")
    inputs.files[f"{CONTEXT_BUILD}/pip.conf"] = ("\n".join(lines) + "\n").encode()
    if uv_binary is not None:
        try:
            inputs.files[f"{CONTEXT_BUILD}/uv"] = uv_binary.read_bytes()
        except OSError as exc:
            raise ProfileError(f"cannot read the uv binary {uv_binary}: {exc}") from None
        inputs.files[f"{CONTEXT_BUILD}/uv.toml"] = uv_settings(index_url, extra_index_urls, links)
    return inputs


def uv_settings(index_url: str | None, extra_index_urls: tuple[str, ...], links: list[str]) -> bytes:
    """uv.toml with the same sources as pip.conf (uv reads no pip.conf; the CA comes from
    SSL_CERT_FILE on the command line). Best match across indexes, as pip does."""
    pip: dict[str, object] = {"index-strategy": "unsafe-best-match"}
    if index_url:
        pip["index-url"] = index_url
    if extra_index_urls:
        pip["extra-index-url"] = list(extra_index_urls)
    if links:
        pip["find-links"] = links
    header = "# Written by dlenv build: uv settings for the framework install, never in the image.\n"
    return (header + tomli_w.dumps({"no-cache": True, "pip": pip})).encode()
