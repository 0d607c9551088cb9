"""`dlenv ci gitlab`: a GitLab CI pipeline (jobs and trust rules in `ci.py`'s docstring).

CPU jobs use a docker:dind service; GPU jobs run on runners tagged gpu + nvidia|amd with the
host's Docker, and never for a merge request from a fork (its code would run on that machine).
The weekly re-lock pushes one branch with merge-request push options, using DLENV_RELOCK_TOKEN
(a project access token: CI_JOB_TOKEN cannot push).
"""

from __future__ import annotations

import shlex
from typing import Any

from builder import __version__
from builder.pin.ci import OPTIONS_VAR, RELOCK_BRANCH, RELOCK_TITLE, RELOCK_TOKEN, Document, Target
from builder.pin.ci_install import Install

TAGS = {"cuda": ["gpu", "nvidia"], "rocm": ["gpu", "amd"]}
DIND = "docker:27-dind"
_MR = '$CI_PIPELINE_SOURCE == "merge_request_event"'
_SAME_PROJECT = "$CI_MERGE_REQUEST_SOURCE_PROJECT_ID == $CI_PROJECT_ID"
_DEFAULT_PUSH = '$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $CI_PIPELINE_SOURCE == "push"'
_SCHEDULE = '$CI_PIPELINE_SOURCE == "schedule"'
_APT_GIT = "apt-get update -qq && apt-get install -y -qq --no-install-recommends git"
_LOCKED_SMOKE = f'dlenv build "$PROFILE" --locked --smoke --progress plain ${OPTIONS_VAR}'


def gitlab(targets: list[Target], install: Install, options: str = "") -> str:
    doc = Document()
    jobs: dict[str, Any] = {}
    for t in targets:
        jobs.update(_profile_jobs(doc, t))
    data = {
        "stages": ["check", "publish", "relock", "merge-request"],
        "variables": {
            OPTIONS_VAR: {
                "value": options,
                "description": "Options of every dlenv lock and build, e.g. --pip-from-host behind a "
                "mirror (a CI/CD variable of the project overrides this)",
            },
            doc.note("DOCKER_HOST", "the docker:dind service of CPU jobs"): "tcp://docker:2375",
            "DOCKER_TLS_CERTDIR": "",
        },
        "default": {
            "image": "python:3.12-slim",
            doc.note(
                "before_script", "dlenv from a source pinned by commit or sha256, never by name on PyPI"
            ): [
                *([_APT_GIT] if install.needs_git else []),
                install.command(),
            ],
        },
        **jobs,
        "relock:merge-request": _merge_request(doc, targets),
    }
    return doc.dump(_header(install), data)


def _profile_jobs(doc: Document, t: Target) -> dict[str, Any]:
    """The check, publish and relock jobs of one profile."""
    arch = ["arm64"] if t.arm64 else []  # a runner of the image's architecture
    runner: dict[str, Any] = {"tags": TAGS[t.accelerator] + arch} if t.gpu else {"services": [DIND]}
    if arch and not t.gpu:
        runner["tags"] = arch
    env = {"PROFILE": t.profile}
    if t.gpu:
        env[doc.note("DOCKER_HOST", "the GPU runner's own engine, not the dind service")] = (
            "unix:///var/run/docker.sock"
        )
    on_mr: dict[str, str] = {"if": _MR}
    if t.gpu:
        on_mr = {
            doc.note("if", "not for merge requests from forks: their code would run on the GPU runner"): (
                f"{_MR} && {_SAME_PROJECT}"
            )
        }
    image = f"$CI_REGISTRY_IMAGE/{t.name}:$CI_COMMIT_SHA"
    return {
        f"check:{t.name}": {
            "stage": "check",
            **runner,
            "variables": env,
            "rules": [on_mr, {"if": _DEFAULT_PUSH}],
            "script": ['dlenv lock "$PROFILE" --check', _LOCKED_SMOKE],
        },
        f"publish:{t.name}": {
            "stage": "publish",
            **runner,
            "variables": env,
            "needs": [f"check:{t.name}"],
            "rules": [{"if": _DEFAULT_PUSH}],
            "script": [
                "mkdir -p ~/.docker",
                # The Docker SDK reads registry credentials from Docker's own config file.
                'auth=$(printf \'%s:%s\' "$CI_REGISTRY_USER" "$CI_REGISTRY_PASSWORD"'
                " | base64 | tr -d '\\n')",
                'printf \'{"auths":{"%s":{"auth":"%s"}}}\' "$CI_REGISTRY" "$auth" > ~/.docker/config.json',
                f'dlenv build "$PROFILE" --locked --smoke --push "{image}" --progress plain '
                f"${OPTIONS_VAR} > build.out",
                "tail -n 1 build.out | tee pushed.txt",
            ],
            "artifacts": {"paths": ["pushed.txt"]},
        },
        f"relock:{t.name}": {
            "stage": "relock",
            **runner,
            "variables": env,
            "rules": [{"if": _SCHEDULE}],
            "script": [
                f'before="$({{ cat -- {t.quoted_lock} 2>/dev/null || true; }} | sha256sum)"',
                f'dlenv lock "$PROFILE" --upgrade ${OPTIONS_VAR}',
                # A lock that pins the same things is written byte for byte as it was.
                f'if [ "$(sha256sum < {t.quoted_lock})" = "$before" ]; then '
                f'echo "{t.lock} is unchanged: nothing to build"; exit 0; fi',
                _LOCKED_SMOKE,
            ],
            "artifacts": {"paths": [t.lock]},
        },
    }


def _merge_request(doc: Document, targets: list[Target]) -> dict[str, Any]:
    remote = f"https://oauth2:${{{RELOCK_TOKEN}}}@${{CI_SERVER_HOST}}/${{CI_PROJECT_PATH}}.git"
    return {
        "stage": "merge-request",
        "rules": [{"if": _SCHEDULE}],
        "needs": [f"relock:{t.name}" for t in targets],
        doc.note("before_script", "git only: this job runs no dlenv"): [_APT_GIT],
        "script": [
            "git add -- " + " ".join(t.quoted_lock for t in targets),
            'if git diff --cached --quiet; then echo "no lock changed: no merge request"; exit 0; fi',
            f'if [ -z "${{{RELOCK_TOKEN}:-}}" ]; then echo "{RELOCK_TOKEN} is not set: add a project '
            "access token (role Developer, scope write_repository) as a masked CI/CD variable to "
            'open the relock merge request" >&2; exit 1; fi',
            f"git checkout -B {RELOCK_BRANCH}",
            f'git -c user.name=dlenv -c user.email=dlenv@invalid commit -m "{RELOCK_TITLE}"',
            f'git push --force "{remote}" HEAD:refs/heads/{RELOCK_BRANCH} -o merge_request.create '
            '-o "merge_request.target=$CI_DEFAULT_BRANCH" '
            f"-o {shlex.quote('merge_request.title=' + RELOCK_TITLE)} -o merge_request.remove_source_branch",
        ],
    }


def _header(install: Install) -> list[str]:
    return [
        f"Written by `dlenv ci gitlab` (dlenv {__version__}).",
        f"dlenv is installed from {install.describe()}.",
        "CPU jobs use docker:dind (a privileged runner); GPU jobs run on runners tagged gpu + nvidia|amd",
        "with the host's Docker, never for merge requests from forks; linux/arm64 jobs need a runner",
        "tagged arm64. Images go to",
        "$CI_REGISTRY_IMAGE/<profile name>:<commit>. Behind a mirror or proxy, generate it with",
        f"`dlenv ci --options` (--pip-from-host, --ca-bundle FILE) or set the CI/CD variable {OPTIONS_VAR}.",
        "The weekly relock needs a pipeline schedule and a masked CI/CD variable",
        f"{RELOCK_TOKEN}: a project access token (role Developer, scope write_repository);",
        "CI_JOB_TOKEN cannot push the branch.",
    ]
