"""The `dlenv` command line: parse options, call the core, map domain errors to exit codes.

Results (paths, image IDs, JSON) go to stdout; progress and messages to stderr.
Exit codes: 0 ok, 1 a check failed, 2 invalid input, 3 Docker engine unreachable,
4 image build failed, 5 smoke test failed.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from builder import __version__
from builder.errors import BuildFailed, DlenvError, ProfileError, SmokeFailed

app = typer.Typer(
    name="dlenv",
    help="From a short framework/GPU profile to a deep-learning container that provably works.\n\n"
    "Exit codes: 0 ok, 1 check failed, 2 invalid input, 3 Docker unreachable, "
    "4 build failed, 5 smoke test failed.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
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


def _version(value: bool) -> None:
    if value:
        out.print(f"dlenv {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """dlenv command line."""


def _load(ref: str) -> tuple[Any, Path]:
    from builder.profile import load_profile

    return load_profile(ref)


def _resolve(ref: str) -> tuple[Any, Path]:
    from builder.resolve import resolve

    profile, path = _load(ref)
    return resolve(profile), path


def _warn(spec: Any) -> None:
    for warning in spec.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}")


@app.command()
def profiles(json_out: JsonOpt = False) -> None:
    """List the built-in profiles."""

    def body() -> None:
        from builder.profile import builtin_profile_names

        rows = []
        for name in builtin_profile_names():
            profile, _ = _load(name)
            rows.append({"name": name, "accelerator": profile.accelerator,
                         "frameworks": {k: v.version for k, v in profile.framework_specs().items()},
                         "description": profile.description or ""})
        if json_out:
            out.print_json(json.dumps(rows))
            return
        table = Table("name", "accelerator", "frameworks", "description")
        for row in rows:
            fws = ", ".join(f"{k} {v or '(newest)'}" for k, v in row["frameworks"].items())
            table.add_row(row["name"], row["accelerator"], fws, row["description"])
        out.print(table)

    run_guarded(body)


@app.command()
def matrix(json_out: JsonOpt = False) -> None:
    """Print the compatibility matrix, with the source and date of every row."""

    def body() -> None:
        from builder.matrix import load_matrix

        m = load_matrix()
        if json_out:
            out.print_json(m.model_dump_json(by_alias=True))
            return
        out.print(f"dlenv compatibility matrix (updated {m.updated}); confidence V verified, "
                  "S secondary, U unverified")
        cuda = Table("cuda", "tag", "min driver", "os", "source", "date", "conf", title="CUDA")
        for c in m.cuda:
            cuda.add_row(c.version, c.tag, c.driver, " ".join(c.os), c.source, c.date, c.confidence)
        out.print(cuda)
        rocm = Table("rocm", "tag", "os", "gfx", "source", "date", "conf", title="ROCm")
        for r in m.rocm:
            rocm.add_row(r.version, r.tag, " ".join(r.os), " ".join(r.gfx), r.source, r.date,
                         r.confidence)
        out.print(rocm)
        for name, fw in m.frameworks.items():
            table = Table("version", "python", "cpu", "cuda", "rocm", "source", "date", "conf",
                          title=name + (" (retired)" if fw.retired else ""))
            for rel in fw.newest_first():
                def kits(t: Any) -> str:
                    return t if isinstance(t, str) else " ".join(t) or "-"
                table.add_row(rel.version, rel.python, rel.cpu or "-", kits(rel.cuda),
                              kits(rel.rocm), rel.source, rel.date, rel.confidence)
            out.print(table)
        out.print("sources:")
        for key, text in m.sources.items():
            out.print(f"  {key}: {text}")

    run_guarded(body)


@app.command()
def validate(profile: ProfileArg, json_out: JsonOpt = False,
             schema: Annotated[bool, typer.Option("--schema", help="Print the profile JSON Schema "
                                                  "(for editor completion) and exit.")] = False
             ) -> None:
    """Resolve a profile against the matrix; --json prints the BuildSpec."""

    def body() -> None:
        if schema:
            from builder.profile import profile_json_schema

            out.print_json(json.dumps(profile_json_schema()))
            return
        spec, _ = _resolve(profile)
        _warn(spec)
        if json_out:
            out.print_json(json.dumps(spec.as_json()))
            return
        fws = ", ".join(f"{f.name} {f.version} ({f.variant})" for f in spec.frameworks)
        toolkit = f" {spec.toolkit}" if spec.toolkit else ""
        out.print(f"{spec.profile}: ok: {spec.accelerator}{toolkit}, {spec.os}, Python "
                  f"{spec.python}, {fws}; base {spec.base_image}")

    run_guarded(body)


@app.command()
def render(
    profile: Annotated[str | None, typer.Argument(help="Profile name or YAML path.")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write to FILE, not stdout.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Regenerate dockerfiles/ and compose.yaml "
                                       "for every built-in profile.")] = False,
    check: Annotated[bool, typer.Option("--check", help="With --all: write nothing; exit 1 and "
                                        "show the difference if the files drifted.")] = False,
    root: Annotated[Path, typer.Option("--root", help="With --all: the project directory.")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing -o FILE.")] = False,
) -> None:
    """Render a profile's Dockerfile (stdout or -o FILE), or all built-ins with --all."""

    def body() -> None:
        from builder import render as rendering

        if all_ == (profile is not None):
            raise ProfileError("give either PROFILE or --all")
        if check and not all_:
            raise ProfileError("--check goes with --all")
        if all_:
            from builder.profile import builtin_profile_names

            files = rendering.generated_files(_resolve(n)[0] for n in builtin_profile_names())
            if check:
                rendering.check(files, root)
                err.print(f"{len(files)} generated files are up to date")
                return
            for path in rendering.write_files(files, root):
                out.print(str(root / path))
            return
        assert profile is not None
        spec, _ = _resolve(profile)
        _warn(spec)
        text = rendering.render_dockerfile(spec)
        if output is None:
            sys.stdout.write(text)
            return
        if output.exists() and not force and output.read_text(errors="replace") != text:
            raise ProfileError(f"{output} exists and differs; pass --force to overwrite it")
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)
        out.print(str(output))

    run_guarded(body)


class _Progress:
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


def _smoke_image(client: Any, image: str, allow_cpu: bool, json_out: bool,
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


@app.command()
def build(
    profile: ProfileArg,
    tag: Annotated[list[str] | None, typer.Option("--tag", "-t", help="Image tag (repeatable).")] = None,
    base_image: Annotated[str | None, typer.Option("--base-image", help="Override FROM.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Build without the layer cache.")] = False,
    progress: Annotated[str, typer.Option("--progress", help="auto, plain or json.")] = "auto",
    smoke: Annotated[bool, typer.Option("--smoke", help="Smoke-test the image after building.")] = False,
    allow_cpu: Annotated[bool, typer.Option("--allow-cpu", help="With --smoke: accept a CPU run.")] = False,
    ca_bundle: Annotated[Path | None, typer.Option("--ca-bundle", help="Trust this CA bundle "
                                                   "during the build (pip, curl).")] = None,
    keep_ca: Annotated[bool, typer.Option("--keep-ca", help="Also install the CA in the image "
                                          "(apt at build time, everything at run time).")] = False,
    pip_from_host: Annotated[bool, typer.Option("--pip-from-host", help="Forward the host's pip "
                                                "index, find-links wheelhouse and CA.")] = False,
) -> None:
    """Build a profile's image through the Docker SDK, optionally smoke-testing it."""

    def body() -> None:
        from builder import engine
        from builder.prepare import BuildOptions
        from builder.profile import load_profile
        from builder.resolve import resolve

        _check_progress(progress)
        if ca_bundle is not None and not ca_bundle.is_file():
            raise ProfileError(f"--ca-bundle: {ca_bundle} is not a file")
        if base_image is not None:
            from builder.profile import _IMAGE_RE

            if not _IMAGE_RE.match(base_image):
                raise ProfileError(f"--base-image: {base_image!r} is not an image reference")
        prof, path = load_profile(profile)
        spec = resolve(prof)
        _warn(spec)
        options = BuildOptions(base_image=base_image, ca_bundle=ca_bundle, keep_ca=keep_ca,
                               pip_from_host=pip_from_host)
        client = engine.connect()
        tags = list(tag or []) or [f"dlenv/{spec.profile}:latest", spec.tag]
        image_id = _build_image(client, spec, options, path.parent, tags, progress, no_cache)
        out.print(image_id)
        if smoke:
            _smoke_image(client, tags[0], allow_cpu, json_out=False, timeout=spec.smoke.timeout)

    run_guarded(body)


def _check_progress(progress: str) -> None:
    if progress not in ("auto", "plain", "json"):
        raise ProfileError(f"--progress must be auto, plain or json, not {progress!r}")


def _build_image(client: Any, spec: Any, options: Any, profile_dir: Path, tags: list[str],
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
    image_id = _Progress(progress).show(engine.build(
        client, prepared.context, tags=tags, base_image=prepared.spec.base_image,
        no_cache=no_cache))
    if not image_id:
        raise BuildFailed("the build produced no image")
    size = engine.image_size(client, image_id)
    err.print(f"[green]built[/] {', '.join(tags)} in {time.monotonic() - started:.0f}s "
              f"({size / 1e9:.2f} GB)")
    return image_id


@app.command("smoke")
def smoke_cmd(
    image_or_profile: Annotated[str, typer.Argument(help="An image, or a profile (its built image).")],
    json_out: JsonOpt = False,
    allow_cpu: Annotated[bool, typer.Option("--allow-cpu", help="Accept a CPU run on a runner "
                                            "without a GPU (the JSON says so).")] = False,
    timeout: Annotated[int | None, typer.Option("--timeout", help="Seconds before giving up.")] = None,
) -> None:
    """Run an image's smoke test: train an LSTM (and LeNet-5) on its accelerator."""

    def body() -> None:
        from builder import engine

        client = engine.connect()
        image = image_or_profile
        if not engine.image_exists(client, image):
            from builder.profile import profile_source

            try:
                profile_source(image)
            except ProfileError:
                raise ProfileError(f"{image!r} is neither a local image nor a profile") from None
            spec, _ = _resolve(image)
            image = f"dlenv/{spec.profile}:latest"
            if not engine.image_exists(client, image):
                raise ProfileError(f"{image} has not been built; run `dlenv build {image_or_profile}`")
        _smoke_image(client, image, allow_cpu, json_out, timeout)

    run_guarded(body)


@app.command()
def doctor(
    profile: Annotated[str | None, typer.Option("--profile", "-p", help="Check readiness for "
                                                 "this profile (name or YAML path).")] = None,
    json_out: JsonOpt = False,
    probe: Annotated[bool, typer.Option("--probe", help="Also start a real container with the "
                                        "profile's device options.")] = False,
    suggest: Annotated[Path | None, typer.Option("--suggest", help="Write a profile that fits "
                                                 "this host to FILE.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing --suggest FILE.")] = False,
) -> None:
    """Is this host ready to build and run a profile? Exit 1 when something blocks it."""

    def body() -> None:
        import yaml

        from builder import doctor as doc
        from builder.matrix import load_matrix
        from builder.profile import parse_profile
        from builder.resolve import resolve

        if suggest is not None and suggest.exists() and not force:
            raise ProfileError(f"--suggest: {suggest} exists; pass --force to overwrite it")
        matrix = load_matrix()
        spec = _resolve(profile)[0] if profile else None
        facts = doc.gather_facts()
        checks = doc.evaluate(facts, spec, matrix)
        if probe and spec is not None and facts.docker.reachable:
            checks.append(doc.probe(spec))
        suggestion = doc.suggest_profile(facts, matrix)
        try:
            resolve(parse_profile(yaml.safe_dump(suggestion)))
        except DlenvError:  # e.g. the newest toolkit for the driver has no PyTorch build
            suggestion.pop("cuda", None)
            suggestion.pop("rocm", None)
        ready = not any(c.status == "fail" for c in checks)
        if suggest is not None:
            suggest.write_text("# Written by `dlenv doctor --suggest`.\n"
                               + yaml.safe_dump(suggestion, sort_keys=False))
            err.print(f"wrote {suggest}")
        if json_out:
            out.print_json(json.dumps({
                "ready": ready, "profile": spec.profile if spec else None,
                "checks": [c.__dict__ for c in checks], "suggested_profile": suggestion,
                "host": facts.as_json()}, default=str))
        else:
            styles = {"ok": "green", "fail": "bold red", "warn": "yellow", "advice": "cyan",
                      "info": "blue"}
            for c in checks:
                out.print(f"[{styles[c.status]}]{c.status:>6}[/] {c.name:15} {escape(c.detail)}")
                if c.fix and c.status in ("fail", "warn"):
                    out.print(f"{'':22}fix: {escape(c.fix)}")
            target = f" for {spec.profile}" if spec else ""
            out.print(f"host is {'ready' if ready else 'NOT ready'}{target}; suggested "
                      f"accelerator: {suggestion['accelerator']}")
        if not ready:
            raise typer.Exit(1)

    run_guarded(body)


dev_app = typer.Typer(help="Dev containers from a profile: up, down, ls, vscode.",
                      no_args_is_help=True, rich_markup_mode=None)
app.add_typer(dev_app, name="dev")


def _require_gpu_host(spec: Any) -> None:
    """GPU requested on a host without one: say so before building anything."""
    from builder import hostprobe
    from builder.errors import CheckFailed

    if spec.accelerator == "cuda":
        report = hostprobe.collect_nvidia()
        if report is None or report.error:
            why = "nvidia-smi is not installed" if report is None else report.error
            raise CheckFailed(f"{spec.profile} needs an NVIDIA GPU, but this host has none usable "
                              f"({why}).", hint=f"Run `dlenv doctor --profile {spec.profile}`; "
                              "--allow-cpu starts the container without GPU access.")
    if spec.accelerator == "rocm" and not os.path.exists("/dev/kfd"):
        raise CheckFailed(f"{spec.profile} needs an AMD GPU, but /dev/kfd is missing.",
                          hint=f"Run `dlenv doctor --profile {spec.profile}`; --allow-cpu starts "
                          "the container without GPU access.")


def _jupyter_url(host_ip: str, port: int, token: str) -> str:
    host = "127.0.0.1" if host_ip in ("0.0.0.0", "") else host_ip
    return f"http://{host}:{port}/lab?token={token}"


def _wait_for_jupyter(url: str, container: Any, timeout: float = 180) -> None:
    import urllib.error
    import urllib.request

    status_url = url.replace("/lab?", "/api/status?")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        container.reload()
        if container.status != "running":
            logs = container.logs(tail=15).decode(errors="replace")
            raise SmokeFailed(f"JupyterLab in {container.name} exited:\n{logs}")
        try:
            with urllib.request.urlopen(status_url, timeout=3) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(1)
    err.print(f"[yellow]warning:[/] JupyterLab did not answer within {timeout:.0f}s")


@dev_app.command("up")
def dev_up(
    profile: ProfileArg,
    workspace: Annotated[Path, typer.Option("--workspace", "-w", help="Directory mounted at "
                                            "/workspace.")] = Path("."),
    jupyter: Annotated[bool, typer.Option("--jupyter", help="Run JupyterLab (token, "
                                          "127.0.0.1 only).")] = False,
    jupyter_port: Annotated[int, typer.Option("--jupyter-port", help="Host port for "
                                              "JupyterLab.")] = 8888,
    jupyter_host: Annotated[str, typer.Option("--jupyter-host", help="Host address JupyterLab "
                                              "binds to; 0.0.0.0 exposes it to the network.")
                            ] = "127.0.0.1",
    port: Annotated[list[str] | None, typer.Option("--port", "-p", help="Extra port: PORT, "
                                                   "HOST:CONTAINER or IP:HOST:CONTAINER.")] = None,
    uid: Annotated[int | None, typer.Option("--uid", help="User ID inside (default: yours).")] = None,
    gid: Annotated[int | None, typer.Option("--gid", help="Group ID inside (default: yours).")] = None,
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Do not open a shell.")] = False,
    recreate: Annotated[bool, typer.Option("--recreate", help="Replace an existing dev "
                                           "container of this profile.")] = False,
    allow_cpu: Annotated[bool, typer.Option("--allow-cpu", help="Start a GPU profile on a host "
                                            "without its GPU.")] = False,
    pip_from_host: Annotated[bool, typer.Option("--pip-from-host", help="Forward the host's pip "
                                                "settings if the image must be built.")] = False,
    progress: Annotated[str, typer.Option("--progress", help="auto, plain or json.")] = "auto",
) -> None:
    """Start (or reuse) a dev container; prints its name on stdout."""

    def body() -> None:
        from builder import devenv, engine
        from builder.prepare import BuildOptions
        from builder.profile import load_profile
        from builder.resolve import resolve
        from builder.smoke import container_kwargs

        _check_progress(progress)
        prof, path = load_profile(profile)
        base_spec = resolve(prof)
        folder = devenv.ensure_workspace(workspace)
        host_uid, host_gid = devenv.host_ids()
        dev_uid, dev_gid = uid if uid is not None else host_uid, gid if gid is not None else host_gid
        if dev_uid <= 0 or dev_gid <= 0:
            # root on the host: keep the image's own non-root user
            dev_uid, dev_gid = (dev_uid if dev_uid > 0 else prof.user.uid,
                                dev_gid if dev_gid > 0 else prof.user.gid)
        mappings = [devenv.parse_port(p) for p in (port or [])]
        if jupyter:
            mappings.insert(0, devenv.PortMapping(jupyter_host, jupyter_port, devenv.JUPYTER_PORT))
        if not allow_cpu:
            _require_gpu_host(base_spec)
        client = engine.connect()
        name = engine.dev_container_name(base_spec.profile)
        existing = engine.find_container(client, name)
        if existing is not None and recreate:
            engine.remove_container(existing)
            existing = None
        if existing is not None:
            if existing.status != "running":
                existing.start()
            err.print(f"reusing {name} ({existing.status}); attach: docker exec -it {name} bash")
            url = existing.labels.get("io.dlenv.jupyter-url")
            if url:
                err.print(f"JupyterLab: {url}")
            out.print(name)
            return
        for mapping in mappings:
            devenv.ensure_port_free(mapping)
        spec = resolve(devenv.dev_profile(prof, dev_uid, dev_gid, jupyter))
        image = f"dlenv/{spec.profile}:dev-{spec.digest[:12]}"
        if not engine.image_exists(client, image):
            _build_image(client, spec, BuildOptions(pip_from_host=pip_from_host), path.parent,
                         [image], progress)
        token = devenv.new_token() if jupyter else ""
        labels = {"io.dlenv.profile": spec.profile, "io.dlenv.workspace": str(folder)}
        command = devenv.IDLE_COMMAND
        if jupyter:
            url = _jupyter_url(jupyter_host, jupyter_port, token)
            labels["io.dlenv.jupyter-url"] = url
            command = devenv.jupyter_command(token)
            if jupyter_host not in ("127.0.0.1", "localhost", "::1"):
                err.print(f"[yellow]warning:[/] JupyterLab listens on {jupyter_host}: anyone who "
                          "reaches this host and has the token can run code as you")
        device_kwargs = container_kwargs(spec.accelerator, spec.runtime.model_dump(), allow_cpu)
        container = engine.run_dev_container(
            client, image=image, name=name, command=command, workspace=str(folder),
            ports=dict(m.docker for m in mappings), labels=labels, environment={},
            device_kwargs=device_kwargs)
        if jupyter:
            _wait_for_jupyter(labels["io.dlenv.jupyter-url"], container)
            err.print(f"JupyterLab: {labels['io.dlenv.jupyter-url']}")
        err.print(f"started {name} (uid {dev_uid}, gid {dev_gid}) with {folder} at /workspace; "
                  f"attach: docker exec -it {name} bash; stop: dlenv dev down {profile}")
        out.print(name)
        if not detach and sys.stdin.isatty() and shutil.which("docker"):
            os.execvp("docker", ["docker", "exec", "-it", name, "bash"])

    run_guarded(body)


@dev_app.command("down")
def dev_down(profile: ProfileArg) -> None:
    """Stop and remove a profile's dev container (the workspace is untouched)."""

    def body() -> None:
        from builder import engine

        client = engine.connect()
        name = profile if profile.startswith("dlenv-dev-") else engine.dev_container_name(
            Path(profile).stem if profile.endswith((".yaml", ".yml")) else profile)
        container = engine.find_container(client, name)
        if container is None or engine.DEV_LABEL not in (container.labels or {}):
            err.print(f"no dev container {name}")
            return
        engine.remove_container(container)
        err.print(f"removed {name}")
        out.print(name)

    run_guarded(body)


@dev_app.command("ls")
def dev_ls(json_out: JsonOpt = False) -> None:
    """List dlenv's dev containers."""

    def body() -> None:
        from builder import engine

        client = engine.connect()
        rows = [{"name": c.name, "profile": c.labels.get("io.dlenv.profile"), "status": c.status,
                 "image": (c.image.tags or [c.image.short_id])[0] if c.image else None,
                 "workspace": c.labels.get("io.dlenv.workspace"),
                 "jupyter": c.labels.get("io.dlenv.jupyter-url")}
                for c in engine.list_dev_containers(client)]
        if json_out:
            out.print_json(json.dumps(rows))
            return
        table = Table("name", "profile", "status", "workspace", "jupyter")
        for row in rows:
            table.add_row(*(str(row[k] or "") for k in ("name", "profile", "status", "workspace",
                                                         "jupyter")))
        out.print(table)

    run_guarded(body)


@dev_app.command("vscode")
def dev_vscode(
    profile: ProfileArg,
    directory: Annotated[Path, typer.Option("--dir", help="Where to write.")] = Path(".devcontainer"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that differ.")] = False,
) -> None:
    """Write a VS Code dev container definition (devcontainer.json + Dockerfile) for a profile."""

    def body() -> None:
        from builder import devenv
        from builder.render import PIP_CONF_PLACEHOLDER, render_dockerfile, smoke_files

        spec, _ = _resolve(profile)
        files = {"devcontainer.json": devenv.devcontainer_json(spec).encode(),
                 "Dockerfile": render_dockerfile(spec).encode(),
                 "dlenv/build/pip.conf": PIP_CONF_PLACEHOLDER.encode(), **smoke_files()}
        clashes = [rel for rel, data in files.items() if (directory / rel).is_file()
                   and (directory / rel).read_bytes() != data]
        if clashes and not force:
            raise ProfileError(f"{directory} already has different " + ", ".join(clashes)
                               + "; pass --force to overwrite")
        for rel, data in files.items():
            target = directory / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            if rel.endswith("dlenv-smoke"):
                target.chmod(0o755)
        out.print(str(directory / "devcontainer.json"))

    run_guarded(body)


def main() -> None:
    app()
