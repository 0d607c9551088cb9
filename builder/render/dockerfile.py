"""Rendering: BuildSpec -> Dockerfile text, and the checked-in dockerfiles/ + compose.yaml.

Pure and byte-deterministic: the same spec gives the same bytes on any machine.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2

from builder import image_paths, paths
from builder.render import runopts
from builder.render.layout import STANDALONE, Layout
from builder.spec import BuildSpec


def _dquote(value: object) -> str:
    """Double-quote for ENV/LABEL; profile validation already bans quotes, `$` and `\\`."""
    text = str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


@cache
def _environment() -> jinja2.Environment:
    from builder.render import memo as answermemo

    # Compiled templates are kept beside the answer memo (Jinja checks each one against its
    # source): a render of a profile never rendered before skips compiling them.
    memo = answermemo.cache_dir()
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(paths.templates_dir()),
        bytecode_cache=_QuietBytecodeCache(memo.parent / "jinja") if memo else None,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # Dockerfiles, not HTML
    )
    env.filters["shquote"] = shlex.quote
    env.filters["dquote"] = _dquote
    env.filters["run_hint"] = runopts.run_hint
    return env


class _QuietBytecodeCache(jinja2.FileSystemBytecodeCache):
    """Jinja's file cache, except that a folder it cannot use only costs the compile."""

    def __init__(self, folder: Path) -> None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass
        super().__init__(str(folder))

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except OSError:
            return

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            return


@dataclass(frozen=True)
class LockedBuild:
    """What a locked build renders differently: pinned FROM, hash-checked installs, labels."""

    base: str  # FROM reference, pinned by digest when the registry has one
    base_digest: str  # registry digest or local image ID
    lock_digest: str
    source_date_epoch: int


def render_dockerfile(spec: BuildSpec, locked: LockedBuild | None = None, layout: Layout = STANDALONE) -> str:
    """The Dockerfile for a spec (and a lock, for `build --locked`), in a layout (how the build
    gets its inputs and which installer it uses; the standalone one builds with plain docker)."""
    return (
        _environment()
        .get_template("Dockerfile.j2")
        .render(spec=spec, locked=locked, layout=layout, paths=image_paths)
    )


def dockerfile_name(spec: BuildSpec) -> str:
    return f"{spec.profile}.Dockerfile"
