"""A memo of the pure answers, `dlenv render PROFILE` and `dlenv validate PROFILE`.

Both are pure: their output depends on the profile file, the matrix and registry data, the
templates and dlenv's own code, nothing else (no engine, no network, no other file). The key
is the command and a digest of exactly those files (all of the installed package, so any change
to dlenv is a new key); the value is what the command printed and the warnings printed with it.
Only successful answers are kept. A hit answers without loading the resolver, pydantic, Jinja2
or Typer (entry.py asks first), which is what makes a repeated render as fast as a recipe
tool's. Standard library only, on purpose. DLENV_NO_CACHE=1 turns it off.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from functools import cache
from pathlib import Path

from builder import paths

VERSION = 2  # of the entry format
COMMANDS = ("render", "validate")  # the commands whose plain `dlenv COMMAND PROFILE` is pure


def cache_dir() -> Path | None:
    """$DLENV_CACHE_DIR/answers, else $XDG_CACHE_HOME/dlenv/answers (~/.cache by default)."""
    if os.environ.get("DLENV_NO_CACHE"):
        return None
    if os.environ.get("DLENV_CACHE_DIR"):
        return Path(os.environ["DLENV_CACHE_DIR"]) / "answers"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "dlenv" / "answers"


@cache
def code_digest() -> str:
    """Every file of the package that can change an answer: code, data, templates, profiles."""
    digest = hashlib.sha256(f"answer-memo {VERSION}".encode())
    roots = [paths.PACKAGE_DIR, paths.templates_dir()]
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def key(command: str, profile_file: Path) -> str:
    data = profile_file.read_bytes()
    return hashlib.sha256(f"{command}\0{code_digest()}\0".encode() + data).hexdigest()


def lookup(command: str, ref: str) -> tuple[str, list[str]] | None:
    """What `dlenv COMMAND PROFILE` printed, and its warnings; None: no cache, a miss, any error."""
    folder = cache_dir()
    if folder is None or command not in COMMANDS:
        return None
    try:
        path = folder / f"{key(command, paths.profile_source(ref))}.json"
        entry = json.loads(path.read_text(encoding="utf-8"))
        return str(entry["stdout"]), [str(w) for w in entry["warnings"]]
    except Exception:  # a memo that fails is a miss, never an error
        return None


def store(command: str, ref: str, stdout: str, warnings: list[str]) -> None:
    """Remember an answer (atomically; a cache that cannot be written is skipped)."""
    folder = cache_dir()
    if folder is None or command not in COMMANDS:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{key(command, paths.profile_source(ref))}.json"
        with tempfile.NamedTemporaryFile("w", dir=folder, delete=False, encoding="utf-8") as tmp:
            json.dump({"stdout": stdout, "warnings": warnings}, tmp)
        os.replace(tmp.name, target)
    except Exception:  # see lookup
        return
