"""The generated workflows, run for real as far as this machine allows: a user's repository with a
CPU profile in envs/ and its lock; dlenv installed the way the workflow installs it (GitHub: the
dlenv wheel committed to the repository, GitLab: a git repository at a commit) into a fresh
virtual environment, then every `run:` step of GitHub's check, publish and relock jobs and every
script line of GitLab's check, publish, relock and merge-request jobs, against the real engine
and real registries on 127.0.0.1. What cannot run here: GitHub's own actions (checkout is the
repository itself, setup-python is the fresh virtual environment, the login is not needed for a
loopback registry, upload-artifact is its staged folder), the dind service (the local engine
stands in), the final `git push`. An install step that cannot work fails these tests."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from builder import paths

from .conftest import REPO

NAME = "ci-torch"  # conftest removes the dlenv/ci-* images the builds tag
PROFILE = f"envs/{NAME}.yaml"
LOCK = f"envs/{NAME}.dlenv.lock"
_EXPR = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


def _sh(*cmd: str, cwd: Path, env: dict[str, str] | None = None, timeout: int = 900) -> str:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{cmd}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def _dlenv_here(*args: str, cwd: Path) -> str:
    """The dlenv of this checkout, run in the user's repository (it generates the workflows)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return _sh(sys.executable, "-m", "builder", *args, cwd=cwd, env=env)


def _runner_env(venv: Path, **extra: str) -> dict[str, str]:
    """A runner's environment: this machine's (its pip settings, its engine) with the fresh
    virtual environment first on PATH and nothing of this checkout's."""
    keep = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "DOCKER_CONFIG")}
    path = [p for p in keep.get("PATH", "").split(os.pathsep) if not p.startswith(str(REPO))]
    return {**keep, "PATH": os.pathsep.join([str(venv / "bin"), *path]), "COLUMNS": "200", **extra}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, docker_client: Any) -> Path:
    """The user's repository: envs/ci-torch.yaml and its lock (made with this checkout's dlenv,
    as the user did before committing), the dlenv wheel in tools/, all committed."""
    root = tmp_path_factory.mktemp("user-repo")
    (root / "envs").mkdir()
    text = (paths.builtin_profiles_dir() / "pytorch-cpu.yaml").read_text()
    quick = "smoke: {models: [lstm], steps: 30}\n"  # the jobs smoke-test four times: keep it short
    (root / PROFILE).write_text(text.replace("name: pytorch-cpu", f"name: {NAME}") + quick)
    _dlenv_here("lock", PROFILE, "--pip-from-host", cwd=root)
    wheels = tmp_path_factory.mktemp("wheel")
    _sh(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-w",
        str(wheels),
        str(REPO),
        cwd=REPO,
    )
    (root / "tools").mkdir()
    for wheel in wheels.glob("dlenv-*.whl"):
        shutil.copy(wheel, root / "tools" / wheel.name)
    _git_commit(root, "the user's environments")
    return root


def _git_commit(root: Path, message: str) -> str:
    ident = ["-c", "user.name=t", "-c", "user.email=t@invalid"]
    if not (root / ".git").exists():
        _sh("git", "init", "-q", "-b", "main", cwd=root)
    _sh("git", "add", "-A", cwd=root)
    _sh("git", *ident, "commit", "-q", "-m", message, cwd=root)
    return _sh("git", "rev-parse", "HEAD", cwd=root).strip()


@dataclass
class Job:
    """What one job run left: its output, the steps it skipped, what it uploaded."""

    log: str = ""
    skipped: list[str] = field(default_factory=list)
    uploaded: list[Path] = field(default_factory=list)


class GitHubRunner:
    """Runs a GitHub job's steps the way a runner does: `run:` with `bash -e`, ${{ }} from the
    contexts it knows (an unknown expression fails the test), GITHUB_OUTPUT, GITHUB_STEP_SUMMARY."""

    def __init__(self, workflow: dict[str, Any], repo: Path, venv: Path, work: Path) -> None:
        self.workflow, self.repo, self.venv, self.work = workflow, repo, venv, work

    def run(self, job_id: str, **overrides: str) -> Job:
        job = self.workflow["jobs"][job_id]
        (row,) = job["strategy"]["matrix"]["include"]  # one CPU profile
        contexts = {f"matrix.{k}": str(v) for k, v in row.items()}
        contexts |= {"github.repository_owner": "team", "strategy.job-index": "0"}
        contexts |= {"github.actor": "someone", "secrets.GITHUB_TOKEN": "unused"}
        outputs: dict[str, dict[str, str]] = {}
        env = {**self.workflow.get("env", {}), **job.get("env", {}), **overrides}
        done = Job()
        for n, step in enumerate(job["steps"]):
            if "if" in step and not self._true(step["if"], outputs):
                done.skipped.append(step.get("name", step.get("uses", "")))
                continue
            if "uses" in step:
                self._action(step, done)
                continue
            files = {k: self.work / f"{job_id}-{n}.{k}" for k in ("output", "summary")}
            step_env = {k: self._expand(str(v), contexts) for k, v in {**env, **step.get("env", {})}.items()}
            step_env |= {"GITHUB_OUTPUT": str(files["output"]), "GITHUB_STEP_SUMMARY": str(files["summary"])}
            step_env |= {"GITHUB_SHA": "f" * 40, "GITHUB_WORKSPACE": str(self.repo)}
            script = self.work / f"{job_id}-{n}.sh"
            script.write_text(self._expand(step["run"], contexts))
            result = subprocess.run(
                ["bash", "-e", str(script)], cwd=self.repo, env=_runner_env(self.venv, **step_env),
                capture_output=True, text=True, timeout=1800,
            )  # fmt: skip
            done.log += f"--- {step.get('name')}\n{result.stdout}{result.stderr}"
            assert result.returncode == 0, f"step {step.get('name')!r} failed:\n{done.log[-4000:]}"
            if "id" in step and files["output"].exists():
                lines = files["output"].read_text().splitlines()
                outputs[step["id"]] = dict(line.split("=", 1) for line in lines if "=" in line)
            if files["summary"].exists():
                done.log += files["summary"].read_text()
        return done

    def _expand(self, text: str, contexts: dict[str, str]) -> str:
        def value(m: re.Match[str]) -> str:
            assert m[1] in contexts, f"the test runner does not know ${{{{ {m[1]} }}}}"
            return contexts[m[1]]

        return _EXPR.sub(value, text)

    def _true(self, condition: str, outputs: dict[str, dict[str, str]]) -> bool:
        m = re.fullmatch(r"steps\.([\w-]+)\.outputs\.(\w+) == '(\w+)'", condition)
        assert m, f"the test runner cannot evaluate {condition!r}"
        return outputs.get(m[1], {}).get(m[2]) == m[3]

    def _action(self, step: dict[str, Any], done: Job) -> None:
        action = step["uses"].split("@")[0]
        if action == "actions/upload-artifact":
            done.uploaded.append(self.repo / step["with"]["path"])
        else:  # checkout: this is the repository; setup-python: the venv; login: loopback registry
            assert action in ("actions/checkout", "actions/setup-python", "docker/login-action"), action


def _fresh_venv(where: Path) -> Path:
    _sh(sys.executable, "-m", "venv", str(where), cwd=where.parent)
    return where


@pytest.fixture(scope="module")
def github(
    repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[dict[str, Any], GitHubRunner]]:
    (wheel,) = (repo / "tools").glob("dlenv-*.whl")
    target = ".github/workflows/dlenv.yml"
    _dlenv_here(
        "ci",
        "github",
        PROFILE,
        "--install",
        f"tools/{wheel.name}",
        "--options=--pip-from-host",
        "-o",
        target,
        cwd=repo,
    )
    workflow = yaml.safe_load((repo / target).read_text())
    work = tmp_path_factory.mktemp("github-runner")
    yield workflow, GitHubRunner(workflow, repo, _fresh_venv(work / "venv"), work)


def test_github_check_job_installs_dlenv_from_the_wheel_then_checks_builds_and_smokes(
    github: tuple[dict[str, Any], GitHubRunner], repo: Path
) -> None:
    workflow, runner = github
    install = next(s for s in workflow["jobs"]["check"]["steps"] if s.get("name") == "Install dlenv")
    assert "file://${PWD}/tools/dlenv-" in install["run"] and "#sha256=" in install["run"]
    job = runner.run("check")
    assert f"{LOCK} is up to date" in job.log
    assert "installed set matches the lock" in job.log and '"ok": true' in job.log
    where = _sh("bash", "-c", "command -v dlenv", cwd=repo, env=_runner_env(runner.venv))
    assert where.strip() == str(runner.venv / "bin" / "dlenv")  # the workflow's dlenv, not this checkout's


def test_github_install_step_refuses_a_wheel_that_is_not_the_pinned_one(
    github: tuple[dict[str, Any], GitHubRunner], repo: Path, tmp_path: Path
) -> None:
    workflow, runner = github
    install = next(s for s in workflow["jobs"]["check"]["steps"] if s.get("name") == "Install dlenv")
    copy = tmp_path / "repo"
    shutil.copytree(repo / "tools", copy / "tools")
    (wheel,) = (copy / "tools").glob("dlenv-*.whl")
    wheel.write_bytes(wheel.read_bytes() + b"\0")  # someone swapped the file
    venv = _fresh_venv(tmp_path / "venv")
    result = subprocess.run(
        ["bash", "-e", "-c", install["run"]], cwd=copy, env=_runner_env(venv), capture_output=True, text=True
    )
    assert result.returncode != 0 and "Expected sha256" in result.stdout + result.stderr


def test_github_publish_job_pushes_the_smoke_tested_image_by_digest(
    github: tuple[dict[str, Any], GitHubRunner], registry: str
) -> None:
    _, runner = github
    job = runner.run("publish", REGISTRY=f"{registry}/Team")  # the README's edit for another registry
    pinned = re.search(
        rf"`{re.escape(PROFILE)}`: `({re.escape(registry)}/team/{NAME}@sha256:[0-9a-f]{{64}})`", job.log
    )
    assert pinned, job.log[-3000:]
    digest = pinned[1].split("@")[1]
    request = urllib.request.Request(
        f"http://{registry}/v2/team/{NAME}/manifests/{digest}",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        method="HEAD",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # loopback registry
        assert answer.status == 200
    output = (runner.repo / "build.out").read_text().splitlines()  # the step's stdout
    assert '"ok": true' in "".join(output[:-1]) and output[-1] == pinned[1]  # smoke-tested, then pushed


def test_github_relock_job_keeps_an_unchanged_lock_byte_for_byte_at_its_path(
    github: tuple[dict[str, Any], GitHubRunner], repo: Path
) -> None:
    _, runner = github
    before = (repo / LOCK).read_bytes()
    job = runner.run("relock")
    assert (repo / LOCK).read_bytes() == before, "a re-lock that found nothing new changed the lock"
    assert "the lock is unchanged" in job.log
    assert job.skipped == ["Build and smoke-test the new lock"]
    (staged,) = job.uploaded
    # upload-artifact keeps the paths below the folder it is given: download writes envs/ci-torch.dlenv.lock
    assert sorted(p.relative_to(staged).as_posix() for p in staged.rglob("*") if p.is_file()) == [LOCK]
    assert (staged / LOCK).read_bytes() == before
    assert _sh("git", "status", "--porcelain", "--", LOCK, cwd=repo) == ""


@pytest.fixture(scope="module")
def gitlab(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path, str]:
    """The pipeline, installing dlenv from a git repository of this checkout at its commit."""
    source = tmp_path_factory.mktemp("dlenv-source")
    files = _sh("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=REPO).split("\0")
    for name in filter(None, files):
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    commit = _git_commit(source, "dlenv as tested")
    # file://localhost/: the pip that ensurepip bundles (23.2) takes no git+file:/// requirement.
    url = f"git+file://localhost{source}@{commit}"
    _dlenv_here(
        "ci",
        "gitlab",
        PROFILE,
        "--install",
        url,
        "--options=--pip-from-host",
        "-o",
        ".gitlab-ci.yml",
        cwd=repo,
    )
    pipeline = yaml.safe_load((repo / ".gitlab-ci.yml").read_text())
    venv = _fresh_venv(tmp_path_factory.mktemp("gitlab-runner") / "venv")
    return pipeline, venv, url


def _gitlab_job(
    pipeline: dict[str, Any], name: str, repo: Path, venv: Path, **ci: str
) -> subprocess.CompletedProcess[str]:
    """One job's before_script and script as the runner runs them: one bash script, errexit; the
    apt-get line that gives the python image git is skipped (this machine has git)."""
    job = pipeline[name]
    lines = [
        line
        for line in job.get("before_script", pipeline["default"]["before_script"])
        if not line.startswith("apt-get ")
    ]
    assert shutil.which("git")
    variables = {k: (v["value"] if isinstance(v, dict) else v) for k, v in pipeline["variables"].items()}
    variables |= {
        "DOCKER_HOST": os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    }  # the dind stand-in
    env = _runner_env(venv, **variables, **job.get("variables", {}), **ci)
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", "\n".join([*lines, *job["script"]])],
        cwd=repo, env=env, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip


def test_gitlab_jobs_install_from_git_check_publish_and_relock(
    gitlab: tuple[dict[str, Any], Path, str], repo: Path, auth_registry: str, tmp_path: Path
) -> None:
    pipeline, venv, url = gitlab
    assert pipeline["default"]["before_script"][-1] == f'python -m pip install "dlenv @ {url}"'
    check = _gitlab_job(pipeline, f"check:{NAME}", repo, venv)
    assert check.returncode == 0, check.stdout[-2000:] + check.stderr[-4000:]
    assert f"{LOCK} is up to date" in check.stderr and '"ok": true' in check.stdout + check.stderr
    home = tmp_path / "home"  # the job writes ~/.docker/config.json
    home.mkdir()
    image = f"{auth_registry}/team/project"
    ci = {"CI_REGISTRY": auth_registry, "CI_REGISTRY_USER": "dlenv", "CI_REGISTRY_PASSWORD": "s3cret"}
    publish = _gitlab_job(
        pipeline,
        f"publish:{NAME}",
        repo,
        venv,
        HOME=str(home),
        CI_REGISTRY_IMAGE=image,
        CI_COMMIT_SHA="e" * 40,
        **ci,
    )
    assert publish.returncode == 0, publish.stdout[-2000:] + publish.stderr[-4000:]
    pushed = (repo / "pushed.txt").read_text().strip()
    assert re.fullmatch(rf"{re.escape(image)}/{NAME}@sha256:[0-9a-f]{{64}}", pushed), pushed
    assert json.loads((home / ".docker" / "config.json").read_text())["auths"][auth_registry]
    before = (repo / LOCK).read_bytes()
    relock = _gitlab_job(pipeline, f"relock:{NAME}", repo, venv)
    assert relock.returncode == 0, relock.stdout[-2000:] + relock.stderr[-4000:]
    assert f"{LOCK} is unchanged: nothing to build" in relock.stdout and (repo / LOCK).read_bytes() == before


def test_gitlab_merge_request_job_opens_nothing_when_no_lock_changed(
    gitlab: tuple[dict[str, Any], Path, str], repo: Path
) -> None:
    pipeline, venv, _ = gitlab
    quiet = _gitlab_job(pipeline, "relock:merge-request", repo, venv)
    assert quiet.returncode == 0 and "no lock changed: no merge request" in quiet.stdout
    lock = repo / LOCK
    before = lock.read_bytes()
    try:  # a lock that did change, and no token: the job says what is missing before any push
        lock.write_bytes(before + b"# changed\n")
        changed = _gitlab_job(pipeline, "relock:merge-request", repo, venv)
        assert changed.returncode == 1 and "DLENV_RELOCK_TOKEN is not set" in changed.stderr
    finally:
        lock.write_bytes(before)
        _sh("git", "add", "--", LOCK, cwd=repo)  # the index as the job found it
