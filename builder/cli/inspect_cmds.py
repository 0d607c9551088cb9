"""Commands that only read: profiles, matrix, validate, render (no Docker, fast start-up)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from builder.cli.common import (
    CaBundleOpt,
    JsonOpt,
    PipFromHostOpt,
    PlatformOpt,
    app,
    check_ca_bundle,
    err,
    guarded,
    load,
    out,
    platforms_of,
    resolve_ref,
    warn,
)
from builder.errors import UsageError

if TYPE_CHECKING:
    from builder.spec import BuildSpec


@app.command()
@guarded
def profiles(json_out: JsonOpt = False) -> None:
    """List the built-in profiles."""
    from builder.profile.load import builtin_profile_names

    rows: list[dict[str, Any]] = []
    for name in builtin_profile_names():
        profile, _ = load(name)
        rows.append(
            {
                "name": name,
                "accelerator": profile.accelerator,
                "frameworks": {k: v.version for k, v in profile.framework_specs().items()},
                "description": profile.description or "",
            }
        )
    if json_out:
        out.print_json(json.dumps(rows))
        return
    from rich.table import Table

    table = Table("name", "accelerator", "frameworks", "description")
    for row in rows:
        fws = ", ".join(f"{k} {v or '(newest)'}" for k, v in row["frameworks"].items())
        table.add_row(row["name"], row["accelerator"], fws, row["description"])
    out.print(table)


@app.command()
@guarded
def validate(
    profile: Annotated[
        str | None,
        typer.Argument(help="A built-in profile name or a path to a YAML profile (not with --schema)."),
    ] = None,
    json_out: JsonOpt = False,
    schema: Annotated[
        bool, typer.Option("--schema", help="Print the profile JSON Schema (for editor completion) and exit.")
    ] = False,
    real: Annotated[
        bool,
        typer.Option(
            "--resolve",
            help="Also resolve the image's requirements "
            "with uv for its platform (network; exit 6 when an index "
            "cannot be reached).",
        ),
    ] = False,
    pip_from_host: PipFromHostOpt = False,
    ca_bundle: CaBundleOpt = None,
    platform: PlatformOpt = None,
) -> None:
    """Resolve a profile against the matrix (for each of its platforms); --json prints the
    BuildSpec (a list of them for more than one platform)."""
    if schema:
        from builder.profile.json_schema import profile_json_schema

        out.print_json(json.dumps(profile_json_schema()))
        return
    if profile is None:
        raise UsageError("dlenv validate: give a PROFILE (a built-in name or a YAML file), or --schema")
    from builder.resolve.decide import resolve

    prof, path = load(profile)
    chosen = platforms_of(prof, platform)
    specs = [resolve(prof, platform=p) for p in chosen]
    answers = [_validate_one(spec, path, real, pip_from_host, ca_bundle) for spec in specs]
    if json_out:
        out.print_json(json.dumps(answers[0][0] if len(answers) == 1 else [a[0] for a in answers]))
        return
    text = "".join(line for _, line in answers)
    if platform is None and len(specs) == 1 and not real and not pip_from_host and ca_bundle is None:
        from builder.render import memo as answermemo

        answermemo.store("validate", profile, text, list(specs[0].warnings))  # the next one is a lookup
    sys.stdout.write(text)


def _validate_one(
    spec: BuildSpec, path: Path, real: bool, pip_from_host: bool, ca_bundle: Path | None
) -> tuple[dict[str, Any], str]:
    """One platform's BuildSpec as JSON, and its summary line (after --resolve, when asked)."""
    warn(spec)
    data = spec.as_json()
    if real:
        from builder.inputs.prepare import BuildOptions, sources_for
        from builder.resolve.uv import Platform
        from builder.resolve.uv import resolve as uv_resolve

        check_ca_bundle(ca_bundle)
        _, sources = sources_for(
            spec, BuildOptions(ca_bundle=ca_bundle, pip_from_host=pip_from_host), path.parent
        )
        err.print(
            f"resolving {len(spec.framework_requirements()) + len(spec.packages)} "
            f"requirements with uv for Python {spec.python_full} on "
            f"{Platform.of(spec).uv_platform} ..."
        )
        resolution = uv_resolve([*spec.framework_requirements(), *spec.packages], Platform.of(spec), sources)
        err.print(
            f"{resolution.tool} resolved {len(resolution.packages)} packages in {resolution.seconds:.1f}s"
        )
        data["resolution"] = {
            "tool": resolution.tool,
            "packages": {p.name: p.version for p in resolution.packages},
        }
    fws = ", ".join(f"{f.name} {f.version} ({f.variant})" for f in spec.frameworks)
    toolkit = f" {spec.toolkit}" if spec.toolkit else ""
    on = f" ({spec.platform})" if spec.platform != "linux/amd64" else ""
    line = (
        f"{spec.profile}{on}: ok: {spec.accelerator}{toolkit}, {spec.os}, Python "
        f"{spec.python}, {fws}; base {spec.base_image}\n"
    )
    return data, line


@app.command()
@guarded
def render(
    profile: Annotated[str | None, typer.Argument(help="Profile name or YAML path.")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write to FILE, not stdout.")] = None,
    all_: Annotated[
        bool,
        typer.Option("--all", help="Regenerate dockerfiles/ and compose.yaml for every built-in profile."),
    ] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="With --all: write nothing; exit 1 and show the difference if the files drifted."
        ),
    ] = False,
    root: Annotated[Path, typer.Option("--root", help="With --all: the project directory.")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing -o FILE.")] = False,
    platform: Annotated[
        str | None,
        typer.Option("--platform", help="The platform to render for (default: the profile's first)."),
    ] = None,
) -> None:
    """Render a profile's Dockerfile (stdout or -o FILE), or all built-ins with --all."""
    from builder.render import checked_in
    from builder.render.dockerfile import render_dockerfile

    if all_ == (profile is not None):
        raise UsageError("give either PROFILE or --all")
    if check and not all_:
        raise UsageError("--check goes with --all")
    if profile is None:
        from builder.profile.load import builtin_profile_names

        files = checked_in.generated_files(resolve_ref(n)[0] for n in builtin_profile_names())
        if check:
            checked_in.check(files, root)
            err.print(f"{len(files)} generated files are up to date")
            return
        for path in checked_in.write_files(files, root):
            out.print(str(root / path))
        return
    prof, _ = load(profile)
    chosen = platforms_of(prof, platform)
    if len(chosen) > 1:
        raise UsageError("dlenv render writes one Dockerfile: give --platform one platform")
    spec, _ = resolve_ref(profile, chosen[0])
    warn(spec)
    text = render_dockerfile(spec)
    if output is None:
        from builder.render import memo as answermemo

        if platform is None:
            answermemo.store("render", profile, text, list(spec.warnings))  # the next is a lookup
        sys.stdout.write(text)
        return
    if output.exists() and not force and output.read_text(errors="replace") != text:
        raise UsageError(f"{output} exists and differs; pass --force to overwrite it")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    out.print(str(output))
