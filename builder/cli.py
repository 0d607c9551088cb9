"""The `dlenv` command line: parse options, call the core, map domain errors to exit codes.

Results (paths, image IDs, JSON) go to stdout; progress and messages to stderr.
Exit codes: 0 ok, 1 a check failed, 2 invalid input, 3 Docker engine unreachable,
4 image build failed, 5 smoke test failed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from builder import __version__
from builder.cli_dev import dev_app
from builder.cli_support import (
    JsonOpt,
    ProfileArg,
    build_image,
    check_progress,
    err,
    load,
    out,
    resolve_ref,
    run_guarded,
    smoke_image,
    warn,
)
from builder.errors import DlenvError, ProfileError

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


@app.command()
def profiles(json_out: JsonOpt = False) -> None:
    """List the built-in profiles."""

    def body() -> None:
        from builder.profile import builtin_profile_names

        rows = []
        for name in builtin_profile_names():
            profile, _ = load(name)
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
        spec, _ = resolve_ref(profile)
        warn(spec)
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

            files = rendering.generated_files(resolve_ref(n)[0] for n in builtin_profile_names())
            if check:
                rendering.check(files, root)
                err.print(f"{len(files)} generated files are up to date")
                return
            for path in rendering.write_files(files, root):
                out.print(str(root / path))
            return
        assert profile is not None
        spec, _ = resolve_ref(profile)
        warn(spec)
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

        check_progress(progress)
        if ca_bundle is not None and not ca_bundle.is_file():
            raise ProfileError(f"--ca-bundle: {ca_bundle} is not a file")
        if base_image is not None:
            from builder.profile import is_image_ref

            if not is_image_ref(base_image):
                raise ProfileError(f"--base-image: {base_image!r} is not an image reference")
        prof, path = load_profile(profile)
        spec = resolve(prof)
        warn(spec)
        options = BuildOptions(base_image=base_image, ca_bundle=ca_bundle, keep_ca=keep_ca,
                               pip_from_host=pip_from_host)
        client = engine.connect()
        tags = list(tag or []) or [f"dlenv/{spec.profile}:latest", spec.tag]
        image_id = build_image(client, spec, options, path.parent, tags, progress, no_cache)
        out.print(image_id)
        if smoke:
            smoke_image(client, tags[0], allow_cpu, json_out=False, timeout=spec.smoke.timeout)

    run_guarded(body)


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
            spec, _ = resolve_ref(image)
            image = f"dlenv/{spec.profile}:latest"
            if not engine.image_exists(client, image):
                raise ProfileError(f"{image} has not been built; run `dlenv build {image_or_profile}`")
        smoke_image(client, image, allow_cpu, json_out, timeout)

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
        spec = resolve_ref(profile)[0] if profile else None
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

app.add_typer(dev_app, name="dev")


def main() -> None:
    app()
