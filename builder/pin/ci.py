"""`dlenv ci github|gitlab`: what both generated workflows share.

Each workflow, per profile: on pull/merge requests and pushes `dlenv lock --check`, then a locked
build with the smoke test; on the default branch the locked, smoke-tested image pushed by digest;
weekly a re-lock with upgrades, rebuilt and smoke-tested only when the lock changed, proposed as
one pull/merge request (`ci_github.py`, `ci_gitlab.py`). Here: the profiles as the workflow
names them (refused when two share a name), where CI installs dlenv from (`ci_install.py`), and
YAML with comments, which the workflows need to say why they do what they do.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from builder.errors import UsageError

# Characters a profile or lock path may have in a workflow: they travel through YAML and shell.
_SAFE_PATH = re.compile(r"[A-Za-z0-9._/+-]+")
_NOTE = re.compile(r"^(.*?)__dlenv_note_(\d+)__:(.*)$", re.MULTILINE)

# Variables the workflows read (documented in their headers and the README).
OPTIONS_VAR = "DLENV_OPTIONS"  # extra options for `dlenv lock` and `dlenv build` (a mirror, a CA)
RELOCK_TOKEN = "DLENV_RELOCK_TOKEN"  # the token that opens the re-lock pull/merge request
RELOCK_BRANCH = "dlenv/relock"
RELOCK_TITLE = "Re-lock the dlenv environments"


@dataclass(frozen=True)
class Target:
    """One profile in a workflow."""

    profile: str  # what the jobs pass to dlenv: a built-in name, or a path from the repository root
    name: str  # the profile's `name:`: its image, its jobs
    lock: str  # its lock file, from the repository root
    accelerator: str
    platform: str = "linux/amd64"  # its image's: the runner must be of that architecture

    @property
    def gpu(self) -> bool:
        return self.accelerator != "cpu"

    @property
    def arm64(self) -> bool:
        return self.platform == "linux/arm64"

    @property
    def quoted_lock(self) -> str:
        return shlex.quote(self.lock)


def targets_for(profiles: list[str], root: Path) -> list[Target]:
    """The profiles as a workflow run from `root` (the repository) names them; UsageError when a
    profile lies outside it, or two profiles share a name (their images and jobs would collide)."""
    from builder.pin.lockfile import lock_target

    targets: list[Target] = []
    for ref in profiles:
        found = lock_target(ref, None)
        profile = ref if found.builtin else _inside(root, Path(ref), ref)
        lock = _inside(root, found.path, ref)
        spec = found.spec
        targets.append(Target(profile, spec.profile, lock, spec.accelerator, spec.platform))
    by_name: dict[str, Target] = {}
    for t in targets:
        if t.name in by_name:
            first = by_name[t.name].profile
            raise UsageError(
                f"dlenv ci: {first} and {t.profile} are both the profile {t.name!r}: they would build "
                "the same image and lock, and one would silently replace the other in the workflow. "
                + ("Give it once." if first == t.profile else "Rename one (its `name:`) and lock it.")
            )
        by_name[t.name] = t
    return targets


def _inside(root: Path, path: Path, ref: str) -> str:
    """`path` relative to the repository root, as a workflow passes it; refused outside it."""
    resolved, base = path.resolve(), root.resolve()
    if not resolved.is_relative_to(base):
        raise UsageError(
            f"dlenv ci: {ref} ({resolved}) is outside {base}; run `dlenv ci` from the root of the "
            "repository that holds the profiles: the workflow names them relative to it"
        )
    relative = resolved.relative_to(base).as_posix()
    if not _SAFE_PATH.fullmatch(relative):
        raise UsageError(
            f"dlenv ci: {relative!r} has characters a workflow cannot pass safely; use letters, "
            "digits and . _ / + - in the names of profile files and their folders"
        )
    return relative


def site_options(value: str, root: Path) -> str:
    """`dlenv ci --options`: what every lock and build of the workflow gets (a mirror, a CA), as
    one normalised string; only options both commands take, a CA bundle inside the repository."""
    try:
        words = shlex.split(value)
    except ValueError as exc:
        raise UsageError(f"dlenv ci --options: {value!r}: {exc}") from None
    out: list[str] = []
    while words:
        word = words.pop(0)
        if word == "--pip-from-host":
            out.append(word)
        elif word == "--ca-bundle" and words and Path(words[0]).is_file():
            out += [word, _inside(root, Path(words.pop(0)), "--ca-bundle")]
        else:
            raise UsageError(
                f"dlenv ci --options: {word!r} is not an option every lock and build takes; "
                "use --pip-from-host and --ca-bundle FILE (an existing file in this repository)"
            )
    return " ".join(out)


class Document:
    """A YAML document whose keys may carry a comment at the end of their line (`note`)."""

    def __init__(self) -> None:
        self._notes: list[str] = []

    def note(self, key: str, comment: str) -> str:
        """A key that is written as `key:` followed by `# comment` on the same line."""
        self._notes.append(" ".join(comment.split()))
        return f"{key}__dlenv_note_{len(self._notes) - 1}__"

    def dump(self, header: list[str], data: dict[str, Any]) -> str:
        text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=10_000)
        text = _NOTE.sub(lambda m: f"{m[1]}:{m[3]}  # {self._notes[int(m[2])]}", text)
        return "".join(f"# {line}\n".replace("# \n", "#\n") for line in header) + text


class _Dumper(yaml.SafeDumper):
    """Block style with indented lists, literal multi-line scripts and no anchors, as
    hand-written workflows look."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str)


def script(*lines: str) -> str:
    """A multi-line shell step (a literal block in the YAML)."""
    return "".join(f"{line}\n" for line in lines)
