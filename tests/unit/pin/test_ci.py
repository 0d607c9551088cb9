"""`dlenv ci`: the generated workflows pass real linters (actionlint, zizmor in its default and
auditor personas, the GitHub and GitLab schemas), their shell is valid, and they do what the
workflow promises: a pinned dlenv, locks kept at their paths, the right token, GPU jobs never
for forks, one image name per profile."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from builder import paths
from builder.cli.app import app
from tests.paths import REPO

BIN = Path(sys.executable).parent
COMMIT = "0123456789abcdef0123456789abcdef01234567"
SOURCE = f"git+https://git.example.com/team/dlenv@{COMMIT}"
PROFILES = ["pytorch-cpu", "envs/mytorch.yaml", "pytorch-cuda", "pytorch-rocm"]
LOCKS = [
    "pytorch-cpu.dlenv.lock",
    "envs/mytorch.dlenv.lock",
    "pytorch-cuda.dlenv.lock",
    "pytorch-rocm.dlenv.lock",
]


def _tool(name: str) -> str:
    path = shutil.which(name) or str(BIN / name)
    assert Path(path).exists(), f"{name} is missing: run scripts/setup-host.sh"
    return path


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user's repository: a profile in envs/ (named mytorch) beside the built-in ones."""
    (tmp_path / "envs").mkdir()
    text = (paths.builtin_profiles_dir() / "pytorch-cpu.yaml").read_text()
    (tmp_path / "envs" / "mytorch.yaml").write_text(text.replace("name: pytorch-cpu", "name: mytorch"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _generate(
    runner: CliRunner, system: str, target: Path, *extra: str, profiles: list[str] = PROFILES
) -> dict[str, Any]:
    result = runner.invoke(app, ["ci", system, *profiles, "--install", SOURCE, "-o", str(target), *extra])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = yaml.safe_load(target.read_text())
    return data


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True)


def _steps(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s.get("name") or s["uses"].split("@")[0]: s for s in job["steps"]}


@pytest.mark.parametrize(
    "profiles", [PROFILES, ["pytorch-cpu"], ["pytorch-cuda"]], ids=["mixed", "cpu", "gpu"]
)
def test_github_workflow_passes_actionlint_zizmor_and_the_schema(
    runner: CliRunner, repo: Path, profiles: list[str]
) -> None:
    target = repo / ".github" / "workflows" / "dlenv.yml"
    jobs = _generate(runner, "github", target, profiles=profiles)["jobs"]
    lint = _run("node", str(REPO / "tests" / "tools" / "actionlint.cjs"), str(target))
    assert lint.returncode == 0, lint.stdout + lint.stderr
    for persona in ("regular", "auditor"):
        audit = _run(
            _tool("zizmor"), "--offline", "--persona", persona, "--min-severity", "unknown", str(target)
        )
        assert audit.returncode == 0, audit.stdout + audit.stderr
    schema = _run(_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(target))
    assert schema.returncode == 0, schema.stdout + schema.stderr
    text = target.read_text()
    # Each finding the auditor persona would report is silenced where it arises, with its reason.
    gpu = profiles != ["pytorch-cpu"]
    assert text.count("zizmor: ignore[self-hosted-runner] GPU profiles need") == (3 if gpu else 0)
    assert jobs["publish"]["needs"] == [j for j in ("check", "check-gpu") if j in jobs] != []
    assert "zizmor: ignore[superfluous-actions] it updates one branch" in text
    assert "# v4.2.2" in text and "contents: read  # to check out the repository" in text


def test_github_installs_dlenv_from_the_pinned_source_only(runner: CliRunner, repo: Path) -> None:
    data = _generate(runner, "github", repo / "w.yml")
    installs = [
        s["run"] for job in data["jobs"].values() for s in job["steps"] if s.get("name") == "Install dlenv"
    ]
    assert installs == [f'python -m pip install "dlenv @ {SOURCE}"'] * 4  # check, check-gpu, publish, relock
    assert "dlenv==" not in (repo / "w.yml").read_text()


def test_github_gpu_jobs_never_run_for_forks(runner: CliRunner, repo: Path) -> None:
    jobs = _generate(runner, "github", repo / "w.yml")["jobs"]
    cpu, gpu = jobs["check"], jobs["check-gpu"]
    assert cpu["runs-on"] == "ubuntu-latest"
    assert [row["name"] for row in cpu["strategy"]["matrix"]["include"]] == ["pytorch-cpu", "mytorch"]
    runners = {row["name"]: row["runner"] for row in gpu["strategy"]["matrix"]["include"]}
    assert {"self-hosted", "gpu", "nvidia"} <= set(runners["pytorch-cuda"])
    assert {"self-hosted", "gpu", "amd"} <= set(runners["pytorch-rocm"])
    assert gpu["if"] == (
        "github.event_name == 'push' || (github.event_name == 'pull_request' && "
        "github.event.pull_request.head.repo.full_name == github.repository)"
    )
    assert "pull_request" in cpu["if"] and "head.repo" not in cpu["if"]
    assert jobs["publish"]["needs"] == ["check", "check-gpu"]
    for job in ("publish", "relock"):  # only pushes to main, schedules and manual runs
        assert "pull_request" not in jobs[job]["if"]


def test_github_relock_keeps_lock_paths_and_uses_the_relock_token(runner: CliRunner, repo: Path) -> None:
    jobs = _generate(runner, "github", repo / "w.yml")["jobs"]
    relock = jobs["relock"]
    locks = {row["name"]: row["lock"] for row in relock["strategy"]["matrix"]["include"]}
    assert locks["mytorch"] == "envs/mytorch.dlenv.lock" and locks["pytorch-cpu"] == "pytorch-cpu.dlenv.lock"
    steps = _steps(relock)
    assert 'cp -- "$LOCK" "dlenv-relock/$LOCK"' in steps["Re-lock with upgrades"]["run"]
    assert steps["Build and smoke-test the new lock"]["if"] == "steps.relock.outputs.changed == 'true'"
    upload = steps["actions/upload-artifact"]["with"]
    assert upload["path"] == "dlenv-relock/" and upload["include-hidden-files"] is True
    pr = _steps(jobs["relock-pr"])
    assert pr["actions/download-artifact"]["with"] == {"pattern": "lock-*", "merge-multiple": True}
    create = pr["peter-evans/create-pull-request"]["with"]
    assert create["token"] == "${{ secrets.DLENV_RELOCK_TOKEN || secrets.GITHUB_TOKEN }}"
    assert create["add-paths"].split() == [
        locks[n] for n in ("pytorch-cpu", "mytorch", "pytorch-cuda", "pytorch-rocm")
    ]
    warn = pr["Say which token opens the pull request"]
    assert warn["env"]["HAS_RELOCK_TOKEN"] == "${{ secrets.DLENV_RELOCK_TOKEN != '' }}"
    assert "::warning" in warn["run"] and jobs["relock-pr"]["environment"] == "dlenv-relock"


def test_github_and_gitlab_name_images_by_the_profile_name(runner: CliRunner, repo: Path) -> None:
    github = _generate(runner, "github", repo / "w.yml")["jobs"]["publish"]
    publish = _steps(github)["Locked build, smoke-tested, pushed by digest"]
    assert publish["env"]["NAME"] == "${{ matrix.name }}"
    assert '/$NAME:$GITHUB_SHA"' in publish["run"] and "--smoke --push" in publish["run"]
    assert {row["name"] for row in github["strategy"]["matrix"]["include"]} >= {"mytorch"}
    gitlab = _generate(runner, "gitlab", repo / ".gitlab-ci.yml")
    script = " ".join(gitlab["publish:mytorch"]["script"])
    assert '--push "$CI_REGISTRY_IMAGE/mytorch:$CI_COMMIT_SHA"' in script


def test_gitlab_pipeline_passes_the_schema(runner: CliRunner, repo: Path) -> None:
    target = repo / ".gitlab-ci.yml"
    data = _generate(runner, "gitlab", target)
    schema = _run(_tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", str(target))
    assert schema.returncode == 0, schema.stdout + schema.stderr
    assert data["default"]["before_script"][-1] == f'python -m pip install "dlenv @ {SOURCE}"'
    assert "apt-get install" in data["default"]["before_script"][0]  # git, for the git source
    assert data["check:pytorch-cuda"]["tags"] == ["gpu", "nvidia"]
    assert "services" in data["check:pytorch-cpu"]
    gpu_mr = data["check:pytorch-cuda"]["rules"][0]["if"]
    assert "$CI_MERGE_REQUEST_SOURCE_PROJECT_ID == $CI_PROJECT_ID" in gpu_mr
    assert "SOURCE_PROJECT" not in data["check:pytorch-cpu"]["rules"][0]["if"]
    assert data["relock:mytorch"]["artifacts"]["paths"] == ["envs/mytorch.dlenv.lock"]
    assert data["relock:merge-request"]["needs"] == [
        f"relock:{n}" for n in ("pytorch-cpu", "mytorch", "pytorch-cuda", "pytorch-rocm")
    ]
    mr = data["relock:merge-request"]["script"]
    assert mr[0].split() == ["git", "add", "--", *LOCKS]
    assert "git diff --cached --quiet" in mr[1] and "exit 0" in mr[1]  # nothing changed: no MR


@pytest.mark.parametrize("system", ["github", "gitlab"])
def test_generated_shell_is_valid(runner: CliRunner, repo: Path, system: str) -> None:
    data = _generate(runner, system, repo / "w.yml")
    if system == "github":
        scripts = [s["run"] for job in data["jobs"].values() for s in job["steps"] if "run" in s]
    else:
        scripts = [
            "\n".join(job.get("before_script", []) + job["script"])
            for job in data.values()
            if isinstance(job, dict) and "script" in job
        ]
    assert len(scripts) > 8
    for text in scripts:
        check = subprocess.run(["bash", "-n"], input=text, capture_output=True, text=True)
        assert check.returncode == 0, f"{text}\n{check.stderr}"


@pytest.mark.parametrize("system", ["github", "gitlab"])
def test_two_profiles_with_one_name_are_refused(runner: CliRunner, repo: Path, system: str) -> None:
    same = repo / "envs" / "other.yaml"
    same.write_text((paths.builtin_profiles_dir() / "pytorch-cpu.yaml").read_text())  # name: pytorch-cpu
    result = runner.invoke(app, ["ci", system, "pytorch-cpu", "envs/other.yaml", "--install", SOURCE])
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "pytorch-cpu and envs/other.yaml are both the profile 'pytorch-cpu'" in message
    assert "Rename one" in message and "Traceback" not in result.output
    twice = runner.invoke(app, ["ci", system, "envs/mytorch.yaml", "envs/mytorch.yaml", "--install", SOURCE])
    assert twice.exit_code == 2 and "Give it once" in twice.output


def test_a_profile_outside_the_repository_is_refused(
    runner: CliRunner, repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("elsewhere") / "x.yaml"
    outside.write_text((repo / "envs" / "mytorch.yaml").read_text())
    result = runner.invoke(app, ["ci", "github", str(outside), "--install", SOURCE])
    assert result.exit_code == 2 and "run `dlenv ci` from the root" in " ".join(result.output.split())


def test_site_options_reach_every_lock_and_build(runner: CliRunner, repo: Path) -> None:
    (repo / "certs").mkdir()
    (repo / "certs" / "ca.pem").write_text("x")
    data = _generate(
        runner, "github", repo / "w.yml", "--options", "--pip-from-host --ca-bundle certs/ca.pem"
    )
    assert data["env"]["DLENV_OPTIONS"] == "--pip-from-host --ca-bundle certs/ca.pem"
    runs = [s["run"] for s in data["jobs"]["relock"]["steps"] if "run" in s and "Install" not in s["name"]]
    assert len(runs) == 2 and all('"${options[@]}"' in r for r in runs)
    gitlab = _generate(runner, "gitlab", repo / "g.yml", "--options=--pip-from-host")
    assert gitlab["variables"]["DLENV_OPTIONS"]["value"] == "--pip-from-host"
    assert all(line.endswith("$DLENV_OPTIONS") for line in gitlab["check:mytorch"]["script"][1:])
    for bad in ("--keep-ca", "--ca-bundle /etc/passwd", "--ca-bundle missing.pem", "'unbalanced"):
        result = runner.invoke(app, ["ci", "github", "pytorch-cpu", "--install", SOURCE, f"--options={bad}"])
        assert result.exit_code == 2, (bad, result.output)


@pytest.mark.parametrize("system", ["circleci"])
def test_unknown_ci_system_is_a_usage_error(runner: CliRunner, system: str) -> None:
    result = runner.invoke(app, ["ci", system, "pytorch-cpu", "--install", SOURCE])
    assert result.exit_code == 2 and "github or gitlab" in result.output


def test_arm64_profiles_run_on_arm64_runners(runner: CliRunner, repo: Path) -> None:
    profiles = ["pytorch-cpu", "pytorch-cpu-arm64", "pytorch-cuda-arm64"]
    jobs = _generate(runner, "github", repo / "w.yml", profiles=profiles)["jobs"]
    rows = {row["name"]: row for row in jobs["relock"]["strategy"]["matrix"]["include"]}
    assert rows["pytorch-cpu"]["runner"] == ["ubuntu-latest"]
    assert rows["pytorch-cpu-arm64"]["runner"] == ["ubuntu-24.04-arm"]
    assert rows["pytorch-cuda-arm64"]["runner"] == ["self-hosted", "linux", "arm64", "gpu", "nvidia"]
    assert jobs["check"]["runs-on"] == "${{ matrix.runner }}"  # two architectures among the CPU ones
    gitlab = _generate(runner, "gitlab", repo / "g.yml", profiles=profiles)
    assert gitlab["check:pytorch-cpu-arm64"]["tags"] == ["arm64"]
    assert gitlab["check:pytorch-cuda-arm64"]["tags"] == ["gpu", "nvidia", "arm64"]
    assert "tags" not in gitlab["check:pytorch-cpu"]
