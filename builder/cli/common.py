"""What every command shares: the app, consoles, the error-to-exit-code mapping, progress.

Results (paths, image IDs, digests, JSON) go to `out` (stdout); progress and messages to
`err` (stderr). Domain errors become one message and their exit code in one place,
`guarded`; no command ends in a traceback for a user error.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar

import typer

from builder.errors import EXIT_CODES, DlenvError, UsageError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.status import Status
    from rich.text import Text

    from builder.engine.protocol import Connect, Engine
    from builder.events import Event
    from builder.profile.schema import Profile
    from builder.smoke.report import SmokeReport, SmokeResult
    from builder.spec import BuildSpec


class _ConsoleOnFirstUse:
    """A Rich console made when first used: `--help` (plain, Typer's own) never imports Rich."""

    def __init__(self, *, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def __getattr__(self, name: str) -> object:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr, soft_wrap=True, highlight=False, markup=False)
        return getattr(self._console, name)


# No console interprets markup: data (package extras such as jax[cuda13], GPU names, paths,
# messages) is printed as written; the few styled words are Text with a style.
if TYPE_CHECKING:
    out: Console
    err: Console
else:
    out = _ConsoleOnFirstUse(stderr=False)
    err = _ConsoleOnFirstUse(stderr=True)


def styled(*parts: str | tuple[str, str]) -> Text:
    """A line with some words styled: styled(("error:", "bold red"), " ", message)."""
    from rich.text import Text

    return Text.assemble(*parts)


app = typer.Typer(
    name="dlenv",
    help="From a short framework/GPU profile to a deep-learning container that provably works.\n\n"
    "Exit codes: " + ", ".join(f"{code} {meaning}" for code, meaning in EXIT_CODES.items()) + ".",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

ProfileArg = Annotated[str, typer.Argument(help="A built-in profile name or a path to a YAML profile.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON to stdout.")]
ProgressOpt = Annotated[str, typer.Option("--progress", help="auto, plain or json.")]
PipFromHostOpt = Annotated[
    bool, typer.Option("--pip-from-host", help="Use the host's pip index, find-links wheelhouse and CA.")
]
InputsOpt = Annotated[
    str,
    typer.Option(
        "--inputs",
        help="How build inputs (pip settings, CA, wheelhouse) reach the build: served (from dlenv "
        "on this host's loopback; the environment is written once), staged (a build stage; any "
        "engine) or auto.",
    ),
]
PlatformOpt = Annotated[
    str | None,
    typer.Option(
        "--platform",
        help="linux/amd64, linux/arm64, or both comma-separated (overrides the profile's `platform`).",
    ),
]
CaBundleOpt = Annotated[
    Path | None, typer.Option("--ca-bundle", help="Trust this CA bundle (pip in the build, uv on the host).")
]

P = ParamSpec("P")
R = TypeVar("R")


def guarded(command: Callable[P, R]) -> Callable[P, R]:
    """Map domain errors and interrupts to a message and an exit code (never a traceback)."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from builder.engine import interrupts

        try:
            result = command(*args, **kwargs)
            interrupts.finished()
            return result
        except DlenvError as exc:
            interrupts.finished()
            err.print(styled(("error:", "bold red"), " ", exc.message))
            if exc.hint:
                err.print(exc.hint)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt as exc:  # builder.errors.Interrupted is one
            interrupts.finished()
            report = getattr(exc, "cleanup", None)
            done = report.summary() if report is not None else "nothing had been created yet"
            err.print(
                styled(("interrupted", "yellow"), f" ({getattr(exc, 'signal_name', 'SIGINT')}): {done}")
            )
            raise typer.Exit(130) from None

    return wrapper


class CliDeps:
    """What a front end hands the CLI instead of the real engine (tests: a fake), as the context
    object: `CliRunner().invoke(app, args, obj=CliDeps(connect=lambda timeout: fake))`."""

    def __init__(self, connect: Connect) -> None:
        self.connect = connect


# Set once per invocation by the root callback (builder/cli/__init__.py) from the context object.
_handed_in: CliDeps | None = None


def take_deps(obj: object) -> None:
    global _handed_in
    _handed_in = obj if isinstance(obj, CliDeps) else None


def engine_opener() -> Connect:
    """How this invocation opens the engine: the one handed in, else the Docker engine."""
    if _handed_in is not None:
        return _handed_in.connect
    from builder.engine.docker_engine import connect

    return connect


def open_engine(timeout: int = 60) -> Engine:
    """The engine for this command (exit 3 with how to fix it when it cannot be reached)."""
    return engine_opener()(timeout)


def load(ref: str) -> tuple[Profile, Path]:
    from builder.profile.load import load_profile

    return load_profile(ref)


def resolve_ref(ref: str, platform: str | None = None) -> tuple[BuildSpec, Path]:
    """The BuildSpec of a profile for one platform (default: the profile's first)."""
    from builder.resolve.decide import resolve

    profile, path = load(ref)
    return resolve(profile, platform=platform), path


def platforms_of(profile: Profile, option: str | None) -> tuple[str, ...]:
    """The platforms a command works on: --platform's, else the profile's."""
    from builder.facts.matrix import PLATFORMS
    from builder.profile.schema import normalise_platform

    if option is None:
        return tuple(profile.platform)
    asked = [normalise_platform(p) for p in option.split(",") if p.strip()]
    unknown = [p for p in asked if p not in PLATFORMS]
    if unknown or not asked:
        raise UsageError(
            f"--platform: {', '.join(unknown) or repr(option)} is not a platform dlenv builds for; "
            f"known: {', '.join(PLATFORMS)} (comma-separated for more than one)"
        )
    if len(set(asked)) != len(asked):
        raise UsageError(f"--platform lists a platform twice: {option}")
    return tuple(asked)


def warn(spec: BuildSpec) -> None:
    for warning in spec.warnings:
        err.print(styled(("warning:", "yellow"), " ", warning))


def check_inputs(inputs: str) -> None:
    if inputs not in ("auto", "served", "staged"):
        raise UsageError(f"--inputs: {inputs!r} is not one of auto, served, staged")


def check_ca_bundle(ca_bundle: Path | None) -> None:
    if ca_bundle is not None and not ca_bundle.is_file():
        raise UsageError(f"--ca-bundle: {ca_bundle} is not a file")


def check_progress(progress: str) -> None:
    if progress not in ("auto", "plain", "json"):
        raise UsageError(f"--progress must be auto, plain or json, not {progress!r}")


class Progress:
    """Renders pipeline events: a live status line (auto on a terminal), plain lines, or JSON."""

    def __init__(self, mode: str) -> None:
        check_progress(mode)
        self.mode = "plain" if mode == "auto" and not err.is_terminal else mode
        self.start = time.monotonic()
        self._status: Status | None = None

    @contextmanager
    def live(self) -> Iterator[Progress]:
        """Show a status line while the block runs (auto mode only)."""
        if self.mode != "auto":
            yield self
            return
        from builder.engine.interrupts import signals_to_main_thread

        status = err.status("starting")
        with signals_to_main_thread():  # the spinner's thread must not take Ctrl-C
            status.start()
        self._status = status
        try:
            yield self
        finally:
            status.stop()
            self._status = None

    def __call__(self, event: Event) -> None:
        from builder import events

        elapsed = time.monotonic() - self.start
        if self.mode == "json":
            err.out(
                json.dumps({"event": type(event).__name__, **_fields(event), "elapsed": round(elapsed, 1)})
            )
            return
        if isinstance(event, events.Note):
            err.print(f"note: {event.text}")
        elif isinstance(event, events.BuildStarted):
            err.print(
                f"building {event.image} from {event.base_image} "
                f"({event.context_bytes / 1e6:.1f} MB context) on {event.engine}"
            )
        elif isinstance(event, events.BuildStep):
            line = f"[{event.step}/{event.total}] {event.text[:100]}  ({elapsed:.0f}s)"
            if self._status is not None:
                self._status.update(line)
                err.print(line, style="dim")
            else:
                err.out(line)
        elif isinstance(event, events.BuildOutput | events.PushProgress):
            if self._status is None:
                err.out("    " + event.text)
        elif isinstance(event, events.BuildFinished):
            err.print(
                styled(
                    ("built", "green"),
                    f" {', '.join(event.tags)} in {event.seconds:.0f}s ({event.size_bytes / 1e9:.2f} GB)",
                )
            )
        elif isinstance(event, events.SmokeStarted):
            cpu = ", CPU allowed" if event.allow_cpu else ""
            err.print(f"smoke test of {event.image} ({event.accelerator}{cpu}) ...")


def _fields(event: Event) -> dict[str, object]:
    from dataclasses import asdict

    return asdict(event)


def _smoke_line(r: SmokeResult) -> Text:
    return styled("  ", ("ok", "green") if r.ok else ("FAILED", "red"), " ", _smoke_text(r))


def _smoke_text(r: SmokeResult) -> str:
    if r.model == "readiness":
        return f"{r.framework} {r.framework_version or ''} readiness: {_ready(r)}"
    if r.note and r.model not in ("lstm", "lenet", "perf"):
        return f"{r.framework}: {r.note}"
    if r.model == "perf":
        what = (
            f"matmul {r.matmul_dtype} n={r.matmul_n} {r.matmul_tflops} TFLOP/s, "
            f"copy {r.copy_mib} MiB {r.copy_gbps} GB/s"
        )
        if r.peak_device and r.matmul_peak_fraction is not None and r.copy_peak_fraction is not None:
            shares = f"{r.matmul_peak_fraction:.0%} and {r.copy_peak_fraction:.0%}"
            what += f" ({shares} of the {r.peak_device}'s peaks)"
    else:
        what = f"loss {r.loss_first} -> {r.loss_last}, {r.samples_per_s} samples/s"
    return f"{r.framework} {r.framework_version} {r.model} on {r.device} ({r.device_name}): {what}"


def _ready(r: SmokeResult) -> str:
    """One line of a readiness result: what the framework was built for, what it loaded."""
    extra = r.extra
    if r.framework == "image":
        majors = extra.get("cuda_majors") or {}
        pip_check = extra.get("pip_check") or {}
        clean = pip_check.get("ok") if isinstance(pip_check, dict) else None
        return (
            f"CUDA major {', '.join(map(str, majors)) or 'none'}, cuDNN {extra.get('cudnn') or '-'}; "
            f"pip check {'clean' if clean else 'FAILED' if clean is False else '?'}"
        )
    if r.note and not extra.get("cuda"):
        return r.note  # a framework the readiness check does not cover
    archs = extra.get("architectures") or []
    loaded = [lib for lib in extra.get("libraries") or [] if isinstance(lib, dict) and lib.get("loaded")]
    where = "on the GPU" if r.device else "no GPU: libraries and build info only"
    return (
        f"CUDA {extra.get('cuda') or '?'}, cuDNN {extra.get('cudnn') or '-'}, "
        f"{' '.join(map(str, archs)) or 'no architectures'}; {len(loaded)} libraries loaded ({where})"
    )


def show_smoke(report: SmokeReport, *, json_out: bool) -> None:
    """Each result as a line on stderr (unless --json), and as one JSON line on stdout."""
    for r in report.results:
        if not json_out:
            err.print(_smoke_line(r))
            if not r.ok and r.error:
                err.print(f"      {r.error}")
    for r in report.results:  # as the image's own dlenv-smoke prints them
        sys.stdout.write(json.dumps(r.as_json()) + "\n")
    sys.stdout.flush()
