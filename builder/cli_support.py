"""Shared pieces of the command line: consoles, error mapping, progress, build and smoke steps.

Results (paths, image IDs, JSON) go to `out` (stdout); progress and messages to `err` (stderr).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from builder.errors import BuildFailed, DlenvError, ProfileError, SmokeFailed

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)

T = TypeVar("T")

ProfileArg = Annotated[str, typer.Argument(help="A built-in profile name or a path to a YAML profile.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON to stdout.")]


def run_guarded(action: Callable[[], T]) -> T:
    """Run a command body; domain errors become a message and their exit code, never a traceback."""
    try:
        return action()
    except DlenvError as exc:
        err.print(f"[bold red]error:[/] {escape(exc.message)}")
        if exc.hint:
            err.print(escape(exc.hint))
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]: containers started by this command were removed")
        raise typer.Exit(130) from None


def load(ref: str) -> tuple[Any, Path]:
    from builder.profile import load_profile

    return load_profile(ref)


def resolve_ref(ref: str) -> tuple[Any, Path]:
    from builder.resolve import resolve

    profile, path = load(ref)
    return resolve(profile), path


def warn(spec: Any) -> None:
    for warning in spec.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}")


class Progress:
    """Shows build events: a live status line (auto on a terminal), plain lines, or JSON."""

    def __init__(self, mode: str) -> None:
        self.mode = "plain" if mode == "auto" and not err.is_terminal else mode
        self.start = time.monotonic()

    def show(self, events: Iterator[Any]) -> str:
        image_id = ""
        if self.mode == "auto":
            with err.status("starting build") as status:
                for ev in events:
                    image_id = self._one(ev, status) or image_id
        else:
            for ev in events:
                image_id = self._one(ev, None) or image_id
        return image_id

    def _one(self, ev: Any, status: Any) -> str:
        elapsed = time.monotonic() - self.start
        if self.mode == "json":
            err.out(json.dumps({"event": ev.kind, "step": ev.step, "total": ev.total,
                                "text": ev.text, "elapsed": round(elapsed, 1)}))
        elif ev.kind == "step":
            line = f"[{ev.step}/{ev.total}] {ev.text[:100]}  ({elapsed:.0f}s)"
            if status is not None:
                status.update(escape(line))
                err.print(escape(line), style="dim")
            else:
                err.out(line)
        elif ev.kind == "output" and status is None:
            err.out("    " + ev.text)
        return ev.image_id if ev.kind == "done" else ""


def smoke_image(client: Any, image: str, allow_cpu: bool, json_out: bool,
                 timeout: int | None = None) -> None:
    from builder import engine
    from builder.smoke import explain_failure, run_smoke

    labels = engine.image_labels(client, image)
    accelerator = labels.get("io.dlenv.accelerator", "cpu")
    runtime = json.loads(labels.get("io.dlenv.runtime", "{}"))
    if not runtime:
        from builder.matrix import load_matrix

        runtime = load_matrix().runtime[accelerator].model_dump()  # type: ignore[index]
    err.print(f"smoke test of {image} ({accelerator}{', CPU allowed' if allow_cpu else ''}) ...")
    report = run_smoke(image, accelerator=accelerator, runtime=runtime, allow_cpu=allow_cpu,
                       timeout=timeout or int(labels.get("io.dlenv.smoke-timeout", "900")))
    for result in report.results:
        if not json_out:
            mark = "[green]ok[/]" if result.get("ok") else "[red]FAILED[/]"
            err.print(f"  {mark} {result.get('framework')} {result.get('framework_version')} "
                      f"{result.get('model')} on {result.get('device')} ({result.get('device_name')}): "
                      f"loss {result.get('loss_first')} -> {result.get('loss_last')}, "
                      f"{result.get('samples_per_s')} samples/s")
    # One compact JSON line per result on stdout, as the image's own dlenv-smoke prints them.
    for result in report.results:
        sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    if not report.ok:
        raise SmokeFailed(explain_failure(report))


def check_progress(progress: str) -> None:
    if progress not in ("auto", "plain", "json"):
        raise ProfileError(f"--progress must be auto, plain or json, not {progress!r}")


def build_image(client: Any, spec: Any, options: Any, profile_dir: Path, tags: list[str],
                 progress: str, no_cache: bool = False) -> str:
    """Prepare the context, build with live progress, report; returns the image ID."""
    from builder import engine
    from builder.prepare import prepare_build

    prepared = prepare_build(spec, options, profile_dir)
    for note in prepared.notes:
        err.print(f"note: {escape(note)}")
    err.print(f"building {tags[0]} from {prepared.spec.base_image} "
              f"({len(prepared.context) / 1e6:.1f} MB context) on {engine.engine_address()}")
    started = time.monotonic()
    image_id = Progress(progress).show(engine.build(
        client, prepared.context, tags=tags, base_image=prepared.spec.base_image,
        no_cache=no_cache))
    if not image_id:
        raise BuildFailed("the build produced no image")
    size = engine.image_size(client, image_id)
    err.print(f"[green]built[/] {', '.join(tags)} in {time.monotonic() - started:.0f}s "
              f"({size / 1e9:.2f} GB)")
    return image_id


