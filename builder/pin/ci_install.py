"""Where a generated workflow installs dlenv from: a source the user controls and can pin.

dlenv is not on PyPI, and an unclaimed name in a CI step invites a look-alike package, so a
workflow never installs `dlenv` by name. It installs, with pip, one of:

* a git repository at a full commit SHA: `git+https://HOST/OWNER/dlenv@COMMIT`;
* a wheel at an https URL with its sha256: `https://HOST/PATH/dlenv-VERSION-py3-none-any.whl#sha256=HEX`
  (pip refuses other bytes);
* a dlenv wheel committed to the repository itself, by path: its sha256 is taken now, pip
  checks it.

The default is where this dlenv was installed from, when that is one of the first two (pip's
PEP 610 record, `direct_url.json`); anything else (a local checkout, a wheel file elsewhere)
cannot be reached or pinned by a runner, and `--install` must say.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from builder.errors import UsageError

_GIT = re.compile(r"git\+(https|ssh|file)://[A-Za-z0-9._~:/@%+-]+?@([0-9a-f]{40}|[0-9a-f]{64})")
_WHEEL = r"dlenv-[A-Za-z0-9._+]+(-[A-Za-z0-9._+]+){3,4}\.whl"  # dlenv-VERSION[-BUILD]-PY-ABI-PLATFORM.whl
_WHEEL_URL = re.compile(rf"https://[A-Za-z0-9._~:/%+-]+/{_WHEEL}#sha256=[0-9a-f]{{64}}")
_WHEEL_PATH = re.compile(rf"([A-Za-z0-9._+-]+/)*{_WHEEL}")
_FORMS = (
    "git+https://HOST/OWNER/dlenv@COMMIT (a full commit SHA), "
    "https://HOST/PATH/dlenv-VERSION-py3-none-any.whl#sha256=HEX, or the path of a dlenv wheel "
    "committed to this repository"
)


@dataclass(frozen=True)
class Install:
    """How a job installs dlenv: one pip requirement, pinned by commit or sha256."""

    requirement: str  # `dlenv @ URL`, as pip takes it
    kind: Literal["git", "url", "wheel"]

    @property
    def needs_git(self) -> bool:
        return self.kind == "git"

    def command(self) -> str:
        return f'python -m pip install "{self.requirement}"'

    def describe(self) -> str:
        what = {
            "git": "at a pinned commit",
            "url": "sha256-checked",
            "wheel": "committed here, sha256-checked",
        }
        return f"{self.requirement.removeprefix('dlenv @ ')} ({what[self.kind]})"


def install_source(option: str | None, root: Path) -> Install:
    """The --install option, or where this dlenv came from; UsageError for anything unpinned."""
    value = option if option is not None else installed_from()
    if value is None:
        raise UsageError(
            "dlenv ci: where should the workflow install dlenv from? dlenv is not on PyPI (a plain "
            "`pip install dlenv` would fetch whatever someone else publishes under that name), and "
            "this dlenv was installed from a place a CI runner cannot reach or pin. Pass --install "
            f"with {_FORMS}."
        )
    given = "--install" if option is not None else "where this dlenv was installed from"
    if value.startswith("git+"):
        return _git(value, given)
    if value.startswith(("https://", "http://")):
        return _wheel_url(value, given)
    return _wheel_file(value, root, given)


def _git(value: str, given: str) -> Install:
    if not _GIT.fullmatch(value):
        raise UsageError(
            f"dlenv ci: {given}: {value!r} is not a git URL at a full commit SHA "
            "(git+https://HOST/OWNER/dlenv@COMMIT): a branch or tag can move under the workflow. "
            "Find the commit with `git ls-remote URL REF`."
        )
    _no_password(value.removeprefix("git+"), given)
    return Install(f"dlenv @ {value}", "git")


def _wheel_url(value: str, given: str) -> Install:
    if not _WHEEL_URL.fullmatch(value):
        raise UsageError(
            f"dlenv ci: {given}: {value!r} is not an https URL of a dlenv wheel with its sha256 "
            "(https://HOST/PATH/dlenv-VERSION-py3-none-any.whl#sha256=HEX; `sha256sum` of the wheel)"
        )
    _no_password(value, given)
    return Install(f"dlenv @ {value}", "url")


def _wheel_file(value: str, root: Path, given: str) -> Install:
    path = Path(value)
    if not path.is_file():
        raise UsageError(f"dlenv ci: {given}: {value!r} is no file; give {_FORMS}.")
    resolved, base = path.resolve(), root.resolve()
    relative = resolved.relative_to(base).as_posix() if resolved.is_relative_to(base) else ""
    if not _WHEEL_PATH.fullmatch(relative):
        raise UsageError(
            f"dlenv ci: {given}: {value} must be a dlenv wheel (dlenv-VERSION-...whl) inside {base}, "
            "committed with the workflow, named with letters, digits and . _ + - only"
        )
    digest = hashlib.sha256(resolved.read_bytes()).hexdigest()
    return Install(f"dlenv @ file://${{PWD}}/{relative}#sha256={digest}", "wheel")


def _no_password(url: str, given: str) -> None:
    if urlsplit(url).password is not None:
        raise UsageError(
            f"dlenv ci: {given}: the URL holds a password; a workflow must not (use a deploy key)"
        )


def installed_from() -> str | None:
    """This dlenv's pinned source from pip's PEP 610 record, or None (not installed by pip from one)."""
    from importlib import metadata

    try:
        text = metadata.distribution("dlenv").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    try:
        return from_direct_url(json.loads(text)) if text else None
    except ValueError:
        return None


def from_direct_url(data: Any) -> str | None:
    """A git URL at its commit, or an https wheel with its sha256, from a direct_url.json record."""
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        return None
    url: str = data["url"]
    vcs, archive = data.get("vcs_info"), data.get("archive_info")
    if isinstance(vcs, dict) and vcs.get("vcs") == "git" and isinstance(vcs.get("commit_id"), str):
        return f"git+{url}@{vcs['commit_id']}"
    if isinstance(archive, dict) and url.startswith("https://"):
        hashes = archive.get("hashes")
        sha = hashes.get("sha256") if isinstance(hashes, dict) else None
        legacy = archive.get("hash")
        if sha is None and isinstance(legacy, str) and legacy.startswith("sha256="):
            sha = legacy.removeprefix("sha256=")
        if isinstance(sha, str):
            return f"{url.split('#')[0]}#sha256={sha}"
    return None
