"""CLI commands through Typer's CliRunner (no Docker)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml
from typer.testing import CliRunner

from builder.cli.app import app
from builder.profile.load import builtin_profile_names


def test_profiles_json(runner: CliRunner) -> None:
    result = runner.invoke(app, ["profiles", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == builtin_profile_names()


def test_matrix_json_has_every_release_with_builds_and_sources(runner: CliRunner) -> None:
    from builder.facts.registry import load_registry

    result = runner.invoke(app, ["matrix", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    torch = {r["version"] for r in data["frameworks"]["pytorch"]}
    assert torch == {str(r.version) for r in load_registry().releases("torch")}
    row = next(r for r in data["frameworks"]["pytorch"] if r["version"] == "2.13.0")
    assert {b["variant"] for b in row["builds"]["cuda"]} == {"pypi", "cu126", "cu130", "cu132"}
    pypi = next(b for b in row["builds"]["cuda"] if b["variant"] == "pypi")
    assert pypi["toolkit"] == "CUDA 13.0" and pypi["index"] is None  # cuda-toolkit==13.0.3 in its pins
    assert all(b["source"] for builds in row["builds"].values() for b in builds)
    assert "cuda-tags" in data["curated"]["sources"]
    assert data["registry"]["as_of"]


def test_matrix_table(runner: CliRunner) -> None:
    result = runner.invoke(app, ["matrix"])
    assert result.exit_code == 0 and "(retired)" in result.stdout
    assert "registry data as of" in result.stdout


def test_validate_json_is_the_buildspec(runner: CliRunner) -> None:
    result = runner.invoke(app, ["validate", "pytorch-cuda", "--json"])
    assert result.exit_code == 0
    spec = json.loads(result.stdout)
    assert spec["accelerator"] == "cuda" and spec["frameworks"][0]["name"] == "pytorch"
    assert len(spec["digest"]) == 64 and spec["tag"].startswith("dlenv/pytorch-cuda:")


def test_validate_warns_on_stderr_for_retired_mxnet(runner: CliRunner) -> None:
    result = runner.invoke(app, ["validate", "mxnet-cpu"])
    assert result.exit_code == 0 and "retired" in result.output


def test_schema_validates_every_builtin_profile(runner: CliRunner) -> None:
    from builder import paths

    result = runner.invoke(app, ["validate", "x", "--schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    for path in sorted(paths.builtin_profiles_dir().glob("*.yaml")):
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)


def test_render_requires_profile_or_all(runner: CliRunner) -> None:
    assert runner.invoke(app, ["render"]).exit_code == 2
    assert runner.invoke(app, ["render", "pytorch-cpu", "--check"]).exit_code == 2


def test_build_rejects_bad_progress_before_docker(runner: CliRunner) -> None:
    result = runner.invoke(app, ["build", "pytorch-cpu", "--progress", "fancy"])
    assert result.exit_code == 2 and "--progress" in result.output


def test_build_rejects_missing_ca_bundle(runner: CliRunner) -> None:
    result = runner.invoke(app, ["build", "pytorch-cpu", "--ca-bundle", "/nonexistent.pem"])
    assert result.exit_code == 2 and "--ca-bundle" in result.output


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.startswith("dlenv ")


def test_platform_option_on_validate_and_render(runner: CliRunner, tmp_path: Path) -> None:
    both = tmp_path / "both.yaml"
    both.write_text(
        "name: both\naccelerator: cpu\nos: debian12\nplatform: [linux/amd64, linux/arm64]\n"
        'frameworks: {jax: "0.10"}\n'
    )
    result = runner.invoke(app, ["validate", str(both)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].endswith("base debian:bookworm-slim")
    assert lines[1].startswith("both (linux/arm64): ok") and lines[1].endswith("arm64v8/debian:bookworm-slim")
    specs = json.loads(runner.invoke(app, ["validate", str(both), "--json"]).stdout)
    assert [s["platform"] for s in specs] == ["linux/amd64", "linux/arm64"]
    one = runner.invoke(app, ["render", str(both)])
    assert one.exit_code == 2 and "give --platform one platform" in one.output
    arm = runner.invoke(app, ["render", str(both), "--platform", "aarch64"])
    assert arm.exit_code == 0 and "FROM arm64v8/debian:bookworm-slim AS system" in arm.stdout
    bad = runner.invoke(app, ["validate", "pytorch-cpu", "--platform", "linux/s390x"])
    assert bad.exit_code == 2 and "known: linux/amd64, linux/arm64" in bad.output


def test_each_platform_has_its_own_lock_and_image_name() -> None:
    from builder import names
    from builder.pin.lockfile import default_path, lock_command

    assert default_path("p", Path("/x/p.yaml"), False) == Path("/x/p.dlenv.lock")
    assert default_path("p", Path("/x/p.yaml"), False, "linux/arm64") == Path("/x/p.arm64.dlenv.lock")
    assert lock_command("p.yaml", None, "linux/arm64") == "dlenv lock p.yaml --platform linux/arm64"
    assert names.profile_image("p") == "dlenv/p:latest"
    assert names.profile_image("p", "linux/arm64") == "dlenv/p:latest-arm64"
