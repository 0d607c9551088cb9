"""Commands for pinning environments in CI: lock, push, verify, ci."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from builder.cli.common import (
    CaBundleOpt,
    JsonOpt,
    PipFromHostOpt,
    PlatformOpt,
    ProfileArg,
    Progress,
    app,
    check_ca_bundle,
    engine_opener,
    err,
    guarded,
    load,
    open_engine,
    out,
    platforms_of,
    warn,
)
from builder.errors import CheckFailed, LockError, UsageError

LockOpt = Annotated[
    Path | None,
    typer.Option(
        "--lock",
        help="The lock file (default: "
        "<profile>.dlenv.lock beside the profile file, or in "
        "the current directory for a built-in profile).",
    ),
]


@app.command()
@guarded
def lock(
    profile: ProfileArg,
    lock_file: LockOpt = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Only check that the lock exists and "
            "matches the profile (no network, no Docker; exit 1 when "
            "missing or stale).",
        ),
    ] = False,
    upgrade: Annotated[
        bool, typer.Option("--upgrade", help="Re-resolve everything to the newest allowed versions.")
    ] = False,
    upgrade_package: Annotated[
        list[str] | None, typer.Option("--upgrade-package", help="Upgrade only this package (repeatable).")
    ] = None,
    pip_from_host: PipFromHostOpt = False,
    ca_bundle: CaBundleOpt = None,
    pylock: Annotated[
        Path | None,
        typer.Option("--pylock", help="Also export the packages as a PEP 751 pylock.<name>.toml file."),
    ] = None,
    platform: PlatformOpt = None,
) -> None:
    """Pin the base image and every Python package, with hashes, for the image's platform
    (one lock per platform: <profile>.arm64.dlenv.lock for linux/arm64)."""
    chosen = platforms_of(load(profile)[0], platform)
    if len(chosen) > 1 and (lock_file is not None or pylock is not None):
        raise UsageError("--lock and --pylock name one file: give --platform one platform with them")
    for one in chosen:
        _lock_one(profile, one, lock_file, check, upgrade, upgrade_package, pip_from_host, ca_bundle, pylock)


def _lock_one(
    profile: str,
    platform: str,
    lock_file: Path | None,
    check: bool,
    upgrade: bool,
    upgrade_package: list[str] | None,
    pip_from_host: bool,
    ca_bundle: Path | None,
    pylock: Path | None,
) -> None:
    """`dlenv lock` for one platform."""
    from builder.pin.lockfile import fresh_lock, lock_target

    target = lock_target(profile, lock_file, platform)
    spec, folder, path = target.spec, target.profile_dir, target.path
    warn(spec)
    if check:
        fresh_lock(spec, path, target.lock_command)
        err.print(f"{path} is up to date")
        return
    from builder.errors import EngineUnavailable
    from builder.inputs.prepare import BuildOptions, sources_for
    from builder.pin import lockfile
    from builder.pin.lock import make_lock
    from builder.pin.lock import pylock as as_pylock

    check_ca_bundle(ca_bundle)
    if pylock is not None and not (
        pylock.name.startswith("pylock.") and pylock.suffix == ".toml" and pylock.name.count(".") <= 2
    ):
        raise UsageError("--pylock: PEP 751 names the file pylock.toml or pylock.<name>.toml")
    previous = None
    if path.is_file():
        try:
            previous = lockfile.read(path)
        except LockError:
            if not upgrade:  # its pins are wanted; an --upgrade replaces a broken lock
                raise
    _, sources = sources_for(spec, BuildOptions(ca_bundle=ca_bundle, pip_from_host=pip_from_host), folder)
    try:
        engine = open_engine(20)
    except EngineUnavailable:
        engine = None
    err.print(f"locking {spec.profile} for Python {spec.python_full} on {spec.os} ({spec.platform}) ...")
    outcome = make_lock(
        spec,
        sources,
        previous=previous,
        engine=engine,
        upgrade=upgrade,
        upgrade_packages=upgrade_package or (),
    )
    lockfile.write(outcome.lock, path)
    if pylock is not None:
        import tomli_w

        pylock.write_text(tomli_w.dumps(as_pylock(outcome.lock)))
    lk = outcome.lock
    err.print(
        f"{outcome.base_note}\n{len(lk.frameworks)} framework and {len(lk.extras)} extra "
        f"packages pinned with sha256 by {lk.resolver.tool} in {outcome.seconds:.1f}s; "
        f"lock digest {lk.lock_digest[:19]}"
        + ("; the same pins as before: the lock is unchanged" if outcome.unchanged else "")
    )
    out.print(str(path))


@app.command()
@guarded
def push(
    image: Annotated[str, typer.Argument(help="A local image (name:tag or ID).")],
    ref: Annotated[str, typer.Argument(help="Where to push: [registry[:port]/]name[:tag].")],
    json_out: JsonOpt = False,
) -> None:
    """Push an image with an explicit tag; prints REPO@sha256:... (or JSON)."""
    from builder.engine.resources import Resources
    from builder.pin.push import parse_reference
    from builder.pin.push import push as push_image

    parse_reference(ref)  # a bad reference is an input error before any engine call
    engine = open_engine()
    with Resources(engine_opener()).cleaned_up() as resources:
        result = push_image(engine, image, ref, resources=resources, emit=Progress("plain"))
    if json_out:
        out.print_json(json.dumps(result.as_json()))
    else:
        out.print(result.pinned)


@app.command()
@guarded
def verify(
    images: Annotated[list[str], typer.Argument(help="One or more images.")],
    lock_file: Annotated[
        Path | None, typer.Option("--lock", help="Compare the installed packages with this lock.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Content digest of what an image installed (file times ignored); exit 1 on a mismatch."""
    from builder.engine.resources import Resources
    from builder.pin import lockfile
    from builder.pin.verify import against_lock, first_differences, manifest

    locked = lockfile.read(lock_file) if lock_file else None
    engine = open_engine()
    with Resources(engine_opener()).cleaned_up() as resources:
        found = [manifest(engine, image, resources) for image in images]
    problems: list[str] = []
    if locked is not None:
        for m in found:
            problems += [f"{m.image}: {d}" for d in against_lock(m, locked)]
    if len({m.digest for m in found}) > 1:
        problems += first_differences(found[0], found[1])
    if json_out:
        out.print_json(json.dumps({"images": [m.as_json() for m in found], "problems": problems}))
    else:
        for m in found:
            out.print(f"{m.digest}  {m.image}")
    if problems:
        raise CheckFailed(
            "the images differ" + (" from the lock" if locked else "") + ":\n  " + "\n  ".join(problems)
        )


@app.command("ci")
@guarded
def ci_cmd(
    system: Annotated[str, typer.Argument(help="github or gitlab.")],
    profiles: Annotated[
        list[str],
        typer.Argument(help="Profiles to build, lock and publish (paths from the repository root)."),
    ],
    install: Annotated[
        str | None,
        typer.Option(
            "--install",
            help="Where CI installs dlenv from: git+https://HOST/OWNER/dlenv@COMMIT, "
            "https://HOST/PATH/dlenv-VERSION-py3-none-any.whl#sha256=HEX, or the path of a dlenv wheel "
            "in this repository (default: where this dlenv was installed from, when that is pinned).",
        ),
    ] = None,
    options: Annotated[
        str,
        typer.Option(
            "--options",
            help="Options every lock and build of the workflow gets, behind a mirror or proxy: "
            "--pip-from-host, --ca-bundle FILE (a file in this repository).",
        ),
    ] = "",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write to FILE.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing FILE.")] = False,
) -> None:
    """Print a starter CI workflow: lock check + locked build + smoke, publish, weekly re-lock.
    Run it from the repository's root."""
    from builder.pin.ci import site_options, targets_for
    from builder.pin.ci_install import install_source

    if system not in ("github", "gitlab"):
        raise UsageError(f"dlenv ci: choose github or gitlab, not {system!r}")
    root = Path.cwd()
    source = install_source(install, root)
    targets, site = targets_for(profiles, root), site_options(options, root)
    if system == "github":
        from builder.pin.ci_github import github

        text = github(targets, source, site)
    else:
        from builder.pin.ci_gitlab import gitlab

        text = gitlab(targets, source, site)
    if output is None:
        out.file.write(text)
        return
    if output.exists() and not force and output.read_text() != text:
        raise UsageError(f"{output} exists and differs; pass --force to overwrite it")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    out.print(str(output))
