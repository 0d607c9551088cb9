"""`dlenv doctor`: is this host ready to build and run a profile?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from builder.cli.common import JsonOpt, app, err, guarded, open_engine, out, resolve_ref, styled
from builder.errors import CheckFailed, UsageError

if TYPE_CHECKING:
    from builder.host.doctor import Check

_STYLES = {"ok": "green", "fail": "bold red", "warn": "yellow", "advice": "cyan", "info": "blue"}


@app.command()
@guarded
def doctor(
    profile: Annotated[
        str | None,
        typer.Option("--profile", "-p", help="Check readiness for this profile (name or YAML path)."),
    ] = None,
    json_out: JsonOpt = False,
    probe: Annotated[
        bool, typer.Option("--probe", help="Also start a real container with the profile's device options.")
    ] = False,
    suggest: Annotated[
        Path | None, typer.Option("--suggest", help="Write a profile that fits this host to FILE.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing --suggest FILE.")] = False,
) -> None:
    """Is this host ready to build and run a profile? Exit 1 when something blocks it."""
    from builder.host import doctor as doc

    if suggest is not None and suggest.exists() and not force:
        raise UsageError(f"--suggest: {suggest} exists; pass --force to overwrite it")
    spec = resolve_ref(profile)[0] if profile else None
    report = doc.diagnose(spec, probe_with=open_engine(30) if probe and spec else None)
    if suggest is not None:
        import yaml

        suggest.write_text(
            "# Written by `dlenv doctor --suggest`.\n"
            + yaml.safe_dump(report.suggested_profile, sort_keys=False)
        )
        err.print(f"wrote {suggest}")
    if json_out:
        out.print_json(json.dumps(report.as_json(), default=str))
    else:
        _print_checks(report.checks, report.suggested_profile, spec.profile if spec else None, report.ready)
    if not report.ready:
        blockers = [c.name for c in report.checks if c.status == "fail"]
        target = f" for {spec.profile}" if spec else ""
        raise CheckFailed(
            f"the host is not ready{target}: {', '.join(blockers)} failed (each with its fix above)"
        )


def _print_checks(checks: list[Check], suggestion: dict[str, Any], profile: str | None, ready: bool) -> None:
    for c in checks:
        out.print(styled((f"{c.status:>6}", _STYLES[c.status]), f" {c.name:15} {c.detail}"))
        if c.fix and c.status in ("fail", "warn"):
            out.print(f"{'':22}fix: {c.fix}")
    target = f" for {profile}" if profile else ""
    out.print(
        f"host is {'ready' if ready else 'NOT ready'}{target}; suggested accelerator: "
        f"{suggestion['accelerator']}"
    )
