"""A memo of `dlenv render PROFILE`: the same inputs give the same bytes, so keep them.

Rendering is pure: its output depends on the profile file, the matrix and registry data, the
templates and dlenv's own code, nothing else. The key is a digest of exactly those files (all
of the installed package, so any change to dlenv is a new key); the value is the Dockerfile and
the warnings printed with it. A hit answers without loading the resolver, pydantic, Jinja2 or
Typer (entry.py asks first), which is what makes a repeated render as fast as a recipe tool's.
Standard library only, on purpose. DLENV_NO_CACHE=1 turns it off.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from functools import cache
from pathlib import Path

from builder import paths

VERSION = 1  # of the entry format


def cache_dir() -> Path | None:
    """$DLENV_CACHE_DIR/render, else $XDG_CACHE_HOME/dlenv/render (~/.cache by default)."""
    if os.environ.get("DLENV_NO_CACHE"):
        return None
    if os.environ.get("DLENV_CACHE_DIR"):
        return Path(os.environ["DLENV_CACHE_DIR"]) / "render"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "dlenv" / "render"


@cache
def code_digest() -> str:
    """Every file of the package that can change a render: code, data, templates, profiles."""
    digest = hashlib.sha256(f"render-cache {VERSION}".encode())
    roots = [paths.PACKAGE_DIR, paths.templates_dir()]
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def key(profile_file: Path) -> str:
    data = profile_file.read_bytes()
    return hashlib.sha256(code_digest().encode() + b"\0" + data).hexdigest()


def lookup(ref: str) -> tuple[str, list[str]] | None:
    """The cached Dockerfile and warnings for PROFILE, or None (no cache, a miss, any error)."""
    folder = cache_dir()
    if folder is None:
        return None
    try:
        entry = json.loads((folder / f"{key(paths.profile_source(ref))}.json").read_text(encoding="utf-8"))
        return str(entry["dockerfile"]), [str(w) for w in entry["warnings"]]
    except Exception:  # noqa: BLE001 - a memo that fails is a miss, never an error
        return None


def store(ref: str, dockerfile: str, warnings: list[str]) -> None:
    """Remember a render (atomically; a cache that cannot be written is skipped)."""
    folder = cache_dir()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{key(paths.profile_source(ref))}.json"
        with tempfile.NamedTemporaryFile("w", dir=folder, delete=False, encoding="utf-8") as tmp:
            json.dump({"dockerfile": dockerfile, "warnings": warnings}, tmp)
        os.replace(tmp.name, target)
    except Exception:  # noqa: BLE001 - see lookup
        return
