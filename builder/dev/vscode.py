"""VS Code: a dev container definition (devcontainer.json) beside the rendered Dockerfile."""

from __future__ import annotations

import json
from typing import Any

from builder.dev.container import JUPYTER_PORT
from builder.image_paths import CONTEXT_BUILD, VENV, WORKSPACE
from builder.render import runopts
from builder.spec import BuildSpec


def devcontainer_json(spec: BuildSpec, forward_ports: tuple[int, ...] = (JUPYTER_PORT,)) -> str:
    """A VS Code dev container definition that builds the rendered Dockerfile beside it."""
    run_args = runopts.cli_args(spec.runtime)
    data: dict[str, Any] = {
        "name": f"dlenv {spec.profile}",
        "build": {"dockerfile": "Dockerfile", "context": "."},
        "runArgs": run_args,
        "remoteUser": spec.user.name,
        "containerUser": spec.user.name,
        "updateRemoteUserUID": True,
        "workspaceMount": f"source=${{localWorkspaceFolder}},target={WORKSPACE},type=bind",
        "workspaceFolder": WORKSPACE,
        "forwardPorts": list(forward_ports),
        "overrideCommand": True,
        "customizations": {
            "vscode": {
                "extensions": ["ms-python.python", "ms-toolsai.jupyter"],
                "settings": {"python.defaultInterpreterPath": f"{VENV}/bin/python"},
            }
        },
    }
    if spec.accelerator != "cpu":
        data["hostRequirements"] = {"gpu": True}
    return json.dumps(data, indent=2) + "\n"


def vscode_files(spec: BuildSpec) -> dict[str, bytes]:
    """.devcontainer/ contents: devcontainer.json, the rendered Dockerfile and its context."""
    from builder.render.context_files import PIP_CONF_PLACEHOLDER, smoke_files
    from builder.render.dockerfile import render_dockerfile

    return {
        "devcontainer.json": devcontainer_json(spec).encode(),
        "Dockerfile": render_dockerfile(spec).encode(),
        f"{CONTEXT_BUILD}/pip.conf": PIP_CONF_PLACEHOLDER.encode(),
        **smoke_files(),
    }
