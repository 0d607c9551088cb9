"""`dlenv ci github`: a GitHub Actions workflow (jobs and trust rules in `ci.py`'s docstring).

GPU profiles run on the team's self-hosted runners, so their jobs never run for a pull request
from a fork (its code would run on that machine); CPU profiles run on GitHub's runners. The
relock pull request is opened with the DLENV_RELOCK_TOKEN secret: one opened with GITHUB_TOKEN
triggers no workflow, so its checks would never run (the job warns when it falls back to it).
"""

from __future__ import annotations

from typing import Any

from builder import __version__
from builder.pin.ci import (
    OPTIONS_VAR,
    RELOCK_BRANCH,
    RELOCK_TITLE,
    RELOCK_TOKEN,
    Document,
    Target,
    script,
)
from builder.pin.ci_install import Install

# Actions pinned to full commit SHAs (the tag in the comment), as zizmor and GitHub advise.
CHECKOUT = ("actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683", "v4.2.2")
SETUP_PYTHON = ("actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065", "v5.6.0")
LOGIN = ("docker/login-action@74a5d142397b4f367a81961eba4e8cd7edddf772", "v3.4.0")
UPLOAD = ("actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02", "v4.6.2")
DOWNLOAD = ("actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093", "v4.3.0")
CREATE_PR = ("peter-evans/create-pull-request@271a8d0340265f705b14b6d32b9829c1cb33d45e", "v7.0.8")
RUNNERS = {
    "cpu": ["ubuntu-latest"],
    "cuda": ["self-hosted", "linux", "x64", "gpu", "nvidia"],
    "rocm": ["self-hosted", "linux", "x64", "gpu", "amd"],
}
ARM64_CPU = "ubuntu-24.04-arm"  # GitHub's hosted arm64 runner


def runner(t: Target) -> list[str]:
    """The runner labels for a profile: its accelerator, on its image's architecture."""
    if not t.arm64:
        return RUNNERS[t.accelerator]
    return [ARM64_CPU] if not t.gpu else [("arm64" if x == "x64" else x) for x in RUNNERS[t.accelerator]]


STAGED = "dlenv-relock"  # the relock job's artifact: each lock at its path in the repository
_ON_PUSH = "github.event_name == 'push'"
_ON_PR = "github.event_name == 'pull_request'"
_SAME_REPO = "github.event.pull_request.head.repo.full_name == github.repository"
_OPTIONS = f'read -ra options <<< "${{{OPTIONS_VAR}:-}}"'
_LOCKED_SMOKE = 'dlenv build "$PROFILE" --locked --smoke --progress plain "${options[@]}"'
_MATRIX_ENV = {
    "PROFILE": "${{ matrix.profile }}",
    "NAME": "${{ matrix.name }}",
    "LOCK": "${{ matrix.lock }}",
}


class _Jobs:
    """The jobs of one workflow; `doc` holds the comments written beside their keys."""

    def __init__(self, targets: list[Target], install: Install) -> None:
        self.doc = Document()
        self.targets = targets
        self.install = install

    def uses(
        self, action: tuple[str, str], with_: dict[str, Any] | None = None, why: str = ""
    ) -> dict[str, Any]:
        """A step running a pinned action; its tag (and why, if it needs saying) in the comment."""
        step: dict[str, Any] = {self.doc.note("uses", action[1]): action[0]}
        return {**step, (self.doc.note("with", why) if why else "with"): with_} if with_ else step

    def setup(self) -> list[dict[str, Any]]:
        return [
            self.uses(CHECKOUT, {"persist-credentials": False}),
            self.uses(SETUP_PYTHON, {"python-version": "3.12"}),
            {
                self.doc.note("name", "from a source pinned by commit or sha256, never by name on PyPI"): (
                    "Install dlenv"
                ),
                "run": self.install.command(),
            },
        ]

    def per_profile(
        self,
        targets: list[Target],
        title: str,
        when: tuple[str, str],
        permissions: dict[str, str],
        steps: list[Any],
        **extra: Any,
    ) -> dict[str, Any]:
        """A job run once per profile, after checkout and dlenv's installation; `when` is its
        condition and the comment on it (none when empty), `extra` more keys (needs, env)."""
        include = [
            {"profile": t.profile, "name": t.name, "lock": t.lock, "runner": runner(t)} for t in targets
        ]
        gpu = any(t.gpu for t in targets)
        one = {tuple(row["runner"]) for row in include}
        runs_on: Any = "${{ matrix.runner }}" if gpu or len(one) > 1 else include[0]["runner"][0]
        if runs_on != "${{ matrix.runner }}":
            for row in include:
                del row["runner"]
        runs_on_key = (
            self.doc.note(
                "runs-on",
                "zizmor: ignore[self-hosted-runner] GPU profiles need the team's GPU machines; "
                "no job runs there for a pull request from a fork",
            )
            if gpu
            else "runs-on"
        )
        return {
            "name": f"{title} ${{{{ matrix.name }}}}",
            (self.doc.note("if", when[1]) if when[1] else "if"): when[0],
            **extra,
            "strategy": {"fail-fast": False, "matrix": {"include": include}},
            runs_on_key: runs_on,
            "permissions": self.permissions(permissions),
            "timeout-minutes": 120,
            "steps": [*self.setup(), *steps],
        }

    def permissions(self, wanted: dict[str, str]) -> dict[str, str]:
        why = {
            "contents": "to check out the repository",
            "packages": "to push the image to ghcr.io",
            "pull-requests": "to open the relock pull request (with the GITHUB_TOKEN fallback)",
        }
        if wanted.get("contents") == "write":
            why["contents"] = "to push the relock branch (with the GITHUB_TOKEN fallback)"
        return {self.doc.note(k, why[k]): v for k, v in wanted.items()}

    def check(self, targets: list[Target], gpu: bool) -> dict[str, Any]:
        when = (
            (
                f"{_ON_PUSH} || ({_ON_PR} && {_SAME_REPO})",
                "not for pull requests from forks: their code would run on the self-hosted GPU runner",
            )
            if gpu
            else (f"{_ON_PR} || {_ON_PUSH}", "")
        )
        return self.per_profile(
            targets,
            "check",
            when,
            {"contents": "read"},
            [
                {
                    "name": "The lock matches the profile",
                    "env": _MATRIX_ENV,
                    "run": 'dlenv lock "$PROFILE" --check',
                },
                {
                    "name": "Locked build and smoke test",
                    "env": _MATRIX_ENV,
                    "run": script(_OPTIONS, _LOCKED_SMOKE),
                },
            ],
        )

    def publish(self, needs: list[str]) -> dict[str, Any]:
        push_by_digest = script(
            "set -euo pipefail",
            _OPTIONS,
            'ref="$(echo "$REGISTRY" | tr "[:upper:]" "[:lower:]")/$NAME:$GITHUB_SHA"',
            'dlenv build "$PROFILE" --locked --smoke --push "$ref" --progress plain "${options[@]}" \\',
            "  > build.out",
            'pinned="$(tail -n 1 build.out)"',
            'echo "- \\`$PROFILE\\`: \\`$pinned\\`" >> "$GITHUB_STEP_SUMMARY"',
        )
        login = self.uses(
            LOGIN,
            {
                "registry": "ghcr.io",
                "username": "${{ github.actor }}",
                "password": "${{ secrets.GITHUB_TOKEN }}",
            },
        )
        return self.per_profile(
            self.targets,
            "publish",
            (f"{_ON_PUSH} && github.ref == 'refs/heads/main'", ""),
            {"contents": "read", "packages": "write"},
            [
                login,
                {
                    "name": "Locked build, smoke-tested, pushed by digest",
                    "env": _MATRIX_ENV,
                    "run": push_by_digest,
                },
            ],
            needs=needs,
            env={"REGISTRY": "ghcr.io/${{ github.repository_owner }}"},
        )

    def relock(self) -> dict[str, Any]:
        relock = script(
            _OPTIONS,
            'before="$({ cat -- "$LOCK" 2>/dev/null || true; } | sha256sum)"',
            'dlenv lock "$PROFILE" --upgrade "${options[@]}"',
            'if [ "$(sha256sum < "$LOCK")" = "$before" ]; then changed=false; else changed=true; fi',
            'echo "changed=$changed" >> "$GITHUB_OUTPUT"',
            f'mkdir -p "{STAGED}/$(dirname "$LOCK")" && cp -- "$LOCK" "{STAGED}/$LOCK"',
        )
        return self.per_profile(
            self.targets,
            "relock",
            ("github.event_name == 'schedule' || github.event_name == 'workflow_dispatch'", ""),
            {"contents": "read"},
            [
                {"name": "Re-lock with upgrades", "id": "relock", "env": _MATRIX_ENV, "run": relock},
                {
                    self.doc.note(
                        "name", "a lock that pins the same things is byte-identical: nothing to prove"
                    ): ("Build and smoke-test the new lock"),
                    "if": "steps.relock.outputs.changed == 'true'",
                    "env": _MATRIX_ENV,
                    "run": script(_OPTIONS, _LOCKED_SMOKE),
                },
                self.uses(
                    UPLOAD,
                    {
                        "name": "lock-${{ strategy.job-index }}",
                        "path": f"{STAGED}/",
                        "if-no-files-found": "error",
                        "include-hidden-files": True,
                    },
                ),
            ],
        )

    def relock_pr(self) -> dict[str, Any]:
        warn = script(
            'if [ "$HAS_RELOCK_TOKEN" != true ]; then',
            f'  echo "::warning title={RELOCK_TOKEN} is not set::The pull request is opened with '
            "GITHUB_TOKEN, and GitHub runs no workflow for it: its checks will not run until someone "
            f"pushes to {RELOCK_BRANCH}. Add a {RELOCK_TOKEN} secret (a fine-grained token with contents and "
            'pull-requests write access to this repository)."',
            "fi",
        )
        return {
            "name": "open the relock pull request",
            "needs": "relock",
            "runs-on": "ubuntu-latest",
            self.doc.note("environment", f"holds the {RELOCK_TOKEN} secret (or set it on the repository)"): (
                "dlenv-relock"
            ),
            "permissions": self.permissions({"contents": "write", "pull-requests": "write"}),
            "steps": [
                self.uses(CHECKOUT, {"persist-credentials": False}),
                self.uses(DOWNLOAD, {"pattern": "lock-*", "merge-multiple": True}),
                {
                    "name": "Say which token opens the pull request",
                    "env": {"HAS_RELOCK_TOKEN": f"${{{{ secrets.{RELOCK_TOKEN} != '' }}}}"},
                    "run": warn,
                },
                self.uses(
                    CREATE_PR,
                    {
                        "token": f"${{{{ secrets.{RELOCK_TOKEN} || secrets.GITHUB_TOKEN }}}}",
                        "add-paths": "\n".join(t.lock for t in self.targets) + "\n",
                        "branch": RELOCK_BRANCH,
                        "delete-branch": True,
                        "commit-message": RELOCK_TITLE,
                        "title": RELOCK_TITLE,
                        "body": "`dlenv lock --upgrade`, then a locked build and the smoke test passed "
                        "for every profile whose lock changed.",
                    },
                    why="zizmor: ignore[superfluous-actions] it updates one branch and pull request week "
                    "after week, where `gh pr create` would open another",
                ),
            ],
        }


def github(targets: list[Target], install: Install, options: str = "") -> str:
    jobs = _Jobs(targets, install)
    doc = jobs.doc
    cpu, gpu = [t for t in targets if not t.gpu], [t for t in targets if t.gpu]
    checks = {
        **({"check": jobs.check(cpu, False)} if cpu else {}),
        **({"check-gpu": jobs.check(gpu, True)} if gpu else {}),
    }
    data = {
        "name": "dlenv environments",
        "on": {
            "pull_request": {},
            "push": {"branches": ["main"]},
            "schedule": [{"cron": "23 4 * * 1"}],
            "workflow_dispatch": {},
        },
        doc.note("permissions", "none by default: each job asks for what it needs"): {},
        doc.note("concurrency", "a newer push to a pull request replaces its running checks"): {
            "group": "${{ github.workflow }}-${{ github.event_name }}-${{ github.ref }}",
            "cancel-in-progress": f"${{{{ {_ON_PR} }}}}",
        },
        "env": {
            doc.note(OPTIONS_VAR, "options of every lock and build here (`dlenv ci --options`)"): options
        },
        "jobs": {
            **checks,
            "publish": jobs.publish(list(checks)),
            "relock": jobs.relock(),
            "relock-pr": jobs.relock_pr(),
        },
    }
    return doc.dump(_header(install), data)


def _header(install: Install) -> list[str]:
    return [
        f"Written by `dlenv ci github` (dlenv {__version__}).",
        f"dlenv is installed from {install.describe()}.",
        f"CPU profiles run on GitHub's runners ({ARM64_CPU} for linux/arm64); GPU profiles on",
        "self-hosted runners labelled gpu + nvidia|amd (+ x64|arm64), for pushes and for pull requests",
        "from branches of this repository only (never from forks: their code would run on your machine).",
        "Images go to ghcr.io/<owner>/<profile name>:<commit>; for another registry change REGISTRY",
        "and the login step of the publish job. Behind a mirror or proxy, generate it with",
        "`dlenv ci --options` (--pip-from-host, --ca-bundle FILE) or edit DLENV_OPTIONS below.",
        f"The weekly relock pull request needs the secret {RELOCK_TOKEN} (a fine-grained token with",
        "contents: write and pull-requests: write on this repository): one opened with GITHUB_TOKEN",
        "starts no workflow, so its checks would never run.",
    ]
