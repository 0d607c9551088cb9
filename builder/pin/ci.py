"""`dlenv ci github|gitlab`: a starter CI workflow that pins, builds, proves and publishes.

On pull/merge requests: `dlenv lock --check`, then a locked build with the smoke test (CPU
profiles on standard runners, GPU profiles on self-hosted GPU runners, labelled by vendor).
On the main branch: the locked build pushed, its `repo@sha256:` in the job summary.
Weekly: re-lock with upgrades, build, smoke-test, and open a pull/merge request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from builder import __version__

# Actions pinned to full commit SHAs (the tag in the comment), as zizmor and GitHub advise.
CHECKOUT = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683"  # v4.2.2
SETUP_PYTHON = "actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065"  # v5.6.0
LOGIN = "docker/login-action@74a5d142397b4f367a81961eba4e8cd7edddf772"  # v3.4.0
UPLOAD = "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02"  # v4.6.2
DOWNLOAD = "actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093"  # v4.3.0
CREATE_PR = "peter-evans/create-pull-request@271a8d0340265f705b14b6d32b9829c1cb33d45e"  # v7.0.8
RUNNERS = {
    "cpu": ["ubuntu-latest"],
    "cuda": ["self-hosted", "linux", "x64", "gpu", "nvidia"],
    "rocm": ["self-hosted", "linux", "x64", "gpu", "amd"],
}
GITLAB_TAGS = {"cuda": ["gpu", "nvidia"], "rocm": ["gpu", "amd"]}


@dataclass(frozen=True)
class Target:
    """One profile in the workflow: what to pass to dlenv, its lock file, its accelerator."""

    profile: str
    name: str
    lock: str
    accelerator: str


class _Dumper(yaml.SafeDumper):
    """Block style with indented lists and no anchors, as hand-written workflows look."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _dump(header: str, data: dict[str, Any]) -> str:
    return header + yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=110)


def _install() -> str:
    return f'python -m pip install "dlenv=={__version__}"'


_LOCKED_SMOKE = 'dlenv build "$PROFILE" --locked --smoke --progress plain'
_PROFILE_ENV = {"PROFILE": "${{ matrix.profile }}"}


def _github_setup() -> list[dict[str, Any]]:
    return [
        {"uses": CHECKOUT, "with": {"persist-credentials": False}},
        {"uses": SETUP_PYTHON, "with": {"python-version": "3.12"}},
        {"name": "Install dlenv", "run": _install()},
    ]


def _per_profile(
    targets: list[Target],
    job: str,
    when: str,
    permissions: dict[str, str],
    steps: list[Any],
    needs: str | None = None,
    job_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A job run once per profile of the matrix, after the common set-up steps."""
    matrix = {
        "include": [{"profile": t.profile, "lock": t.lock, "runner": RUNNERS[t.accelerator]} for t in targets]
    }
    return {
        "name": f"{job} ${{{{ matrix.profile }}}}",
        "if": when,
        **({"needs": needs} if needs else {}),
        "strategy": {"fail-fast": False, "matrix": matrix},
        "runs-on": "${{ matrix.runner }}",
        "permissions": permissions,
        "timeout-minutes": 120,
        **({"env": job_env} if job_env else {}),
        "steps": [*_github_setup(), *steps],
    }


def _github_check(targets: list[Target]) -> dict[str, Any]:
    return _per_profile(
        targets,
        "check",
        "github.event_name == 'pull_request' || github.event_name == 'push'",
        {"contents": "read"},
        [
            {
                "name": "The lock matches the profile",
                "env": _PROFILE_ENV,
                "run": 'dlenv lock "$PROFILE" --check',
            },
            {"name": "Locked build and smoke test", "env": _PROFILE_ENV, "run": _LOCKED_SMOKE},
        ],
    )


def _github_publish(targets: list[Target]) -> dict[str, Any]:
    push_by_digest = (
        "set -euo pipefail\n"
        'name="${PROFILE##*/}"; name="${name%.yaml}"; name="${name%.yml}"\n'
        'ref="$(echo "${REGISTRY}/${name}" | tr "[:upper:]" "[:lower:]"):${GITHUB_SHA}"\n'
        'pinned="$(dlenv build "$PROFILE" --locked --push "$ref" --progress plain | tail -n 1)"\n'
        'echo "- \\`${PROFILE}\\`: \\`${pinned}\\`" >> "$GITHUB_STEP_SUMMARY"\n'
    )
    login = {
        "uses": LOGIN,
        "with": {
            "registry": "ghcr.io",
            "username": "${{ github.actor }}",
            "password": "${{ secrets.GITHUB_TOKEN }}",
        },
    }
    return _per_profile(
        targets,
        "publish",
        "github.event_name == 'push' && github.ref == 'refs/heads/main'",
        {"contents": "read", "packages": "write"},
        [login, {"name": "Locked build, pushed by digest", "env": _PROFILE_ENV, "run": push_by_digest}],
        needs="check",
        job_env={"REGISTRY": "ghcr.io/${{ github.repository_owner }}"},
    )


def _github_relock(targets: list[Target]) -> dict[str, Any]:
    return _per_profile(
        targets,
        "relock",
        "github.event_name == 'schedule' || github.event_name == 'workflow_dispatch'",
        {"contents": "read"},
        [
            {"name": "Re-lock with upgrades", "env": _PROFILE_ENV, "run": 'dlenv lock "$PROFILE" --upgrade'},
            {"name": "Build and smoke-test the new lock", "env": _PROFILE_ENV, "run": _LOCKED_SMOKE},
            {
                "uses": UPLOAD,
                "with": {"name": "lock-${{ strategy.job-index }}", "path": "${{ matrix.lock }}"},
            },
        ],
    )


def _github_relock_pr() -> dict[str, Any]:
    return {
        "name": "open the relock pull request",
        "needs": "relock",
        "runs-on": "ubuntu-latest",
        "permissions": {"contents": "write", "pull-requests": "write"},
        "steps": [
            {"uses": CHECKOUT, "with": {"persist-credentials": False}},
            {"uses": DOWNLOAD, "with": {"pattern": "lock-*", "merge-multiple": True}},
            {
                "uses": CREATE_PR,
                "with": {
                    "branch": "dlenv/relock",
                    "delete-branch": True,
                    "commit-message": "Re-lock the dlenv environments",
                    "title": "Re-lock the dlenv environments",
                    "body": "`dlenv lock --upgrade`, then a locked build and the smoke test "
                    "passed for every profile.",
                },
            },
        ],
    }


def github(targets: list[Target]) -> str:
    data = {
        "name": "dlenv environments",
        "on": {
            "pull_request": {},
            "push": {"branches": ["main"]},
            "schedule": [{"cron": "23 4 * * 1"}],
            "workflow_dispatch": {},
        },
        "permissions": {},
        "jobs": {
            "check": _github_check(targets),
            "publish": _github_publish(targets),
            "relock": _github_relock(targets),
            "relock-pr": _github_relock_pr(),
        },
    }
    header = (
        f"# Written by `dlenv ci github` (dlenv {__version__}). GPU profiles run on "
        "self-hosted runners labelled gpu + nvidia|amd.\n# Images go to ghcr.io/<owner>; "
        "for another registry change REGISTRY and the login step of the publish job.\n"
    )
    return _dump(header, data)


def gitlab(targets: list[Target]) -> str:
    jobs: dict[str, Any] = {}
    for t in targets:
        jobs.update(_gitlab_profile_jobs(t))
    return _gitlab_document(targets, jobs)


def _gitlab_profile_jobs(t: Target) -> dict[str, Any]:
    """The check, publish and relock jobs of one profile."""
    jobs: dict[str, Any] = {}
    gpu = t.accelerator != "cpu"
    runner: dict[str, Any] = {"tags": GITLAB_TAGS[t.accelerator]} if gpu else {"services": ["docker:27-dind"]}
    env = {"PROFILE": t.profile}
    if gpu:  # the GPU runner's own engine, not the dind service
        env["DOCKER_HOST"] = "unix:///var/run/docker.sock"
    jobs[f"check:{t.name}"] = {
        "stage": "check",
        **runner,
        "variables": env,
        "rules": [
            {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'},
            {"if": '$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $CI_PIPELINE_SOURCE == "push"'},
        ],
        "script": [
            'dlenv lock "$PROFILE" --check',
            'dlenv build "$PROFILE" --locked --smoke --progress plain',
        ],
    }
    jobs[f"publish:{t.name}"] = {
        "stage": "publish",
        **runner,
        "variables": env,
        "needs": [f"check:{t.name}"],
        "rules": [{"if": '$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $CI_PIPELINE_SOURCE == "push"'}],
        "script": [
            "mkdir -p ~/.docker",
            # The Docker SDK reads registry credentials from Docker's own config file.
            "auth=$(printf '%s:%s' \"$CI_REGISTRY_USER\" \"$CI_REGISTRY_PASSWORD\" | base64 | tr -d '\\n')",
            'printf \'{"auths":{"%s":{"auth":"%s"}}}\' "$CI_REGISTRY" "$auth" > ~/.docker/config.json',
            f'dlenv build "$PROFILE" --locked --push "$CI_REGISTRY_IMAGE/{t.name}:$CI_COMMIT_SHORT_SHA"'
            " --progress plain | tail -n 1 | tee pushed.txt",
        ],
        "artifacts": {"paths": ["pushed.txt"]},
    }
    jobs[f"relock:{t.name}"] = {
        "stage": "relock",
        **runner,
        "variables": env,
        "rules": [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}],
        "script": [
            'dlenv lock "$PROFILE" --upgrade',
            'dlenv build "$PROFILE" --locked --smoke --progress plain',
        ],
        "artifacts": {"paths": [t.lock]},
    }
    return jobs


def _gitlab_document(targets: list[Target], jobs: dict[str, Any]) -> str:
    jobs = dict(jobs)
    jobs["relock:merge-request"] = {
        "stage": "merge-request",
        "rules": [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}],
        "needs": [f"relock:{t.name}" for t in targets],
        "before_script": ["apt-get update -qq && apt-get install -y -qq --no-install-recommends git"],
        "script": [
            'git checkout -B "dlenv/relock-$CI_PIPELINE_ID"',
            "git add " + " ".join(t.lock for t in targets),
            'git -c user.name=dlenv -c user.email=dlenv@invalid commit -m "Re-lock the dlenv environments"',
            'git push "https://oauth2:${DLENV_RELOCK_TOKEN}@${CI_SERVER_HOST}/${CI_PROJECT_PATH}.git" '
            "HEAD -o merge_request.create -o merge_request.target=$CI_DEFAULT_BRANCH",
        ],
    }
    data = {
        "stages": ["check", "publish", "relock", "merge-request"],
        "variables": {
            "DLENV_VERSION": __version__,
            "DOCKER_HOST": "tcp://docker:2375",
            "DOCKER_TLS_CERTDIR": "",
        },
        "default": {
            "image": "python:3.12-slim",
            "before_script": ['python -m pip install "dlenv==$DLENV_VERSION"'],
        },
        **jobs,
    }
    header = (
        f"# Written by `dlenv ci gitlab` (dlenv {__version__}). CPU jobs use docker:dind; "
        "GPU jobs run on runners tagged gpu + nvidia|amd with the host's Docker.\n"
        "# The weekly relock needs a pipeline schedule and a DLENV_RELOCK_TOKEN "
        "(project access token with write_repository).\n"
    )
    return _dump(header, data)
