"""Dev containers from a profile: the image variant, run options, and devcontainer.json.

Pure helpers; the CLI runs them against the engine (builder/engine.py).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from builder.errors import ProfileError
from builder.profile import Profile, UserSettings
from builder.spec import BuildSpec

WORKSPACE = "/workspace"
JUPYTER_PORT = 8888
# Stays up until stopped, and stops at once on SIGTERM (a bare `sleep` as PID 1 would not).
IDLE_COMMAND = ["bash", "-c", "trap 'exit 0' TERM INT; sleep infinity & wait"]


@dataclass(frozen=True)
class PortMapping:
    host_ip: str
    host_port: int
    container_port: int

    @property
    def docker(self) -> tuple[str, tuple[str, int]]:
        return f"{self.container_port}/tcp", (self.host_ip, self.host_port)


def parse_port(text: str, default_ip: str = "127.0.0.1") -> PortMapping:
    """'6006', '8080:80' or '0.0.0.0:8080:80' -> a mapping bound to 127.0.0.1 by default."""
    parts = text.split(":")
    try:
        if len(parts) == 1:
            return PortMapping(default_ip, int(parts[0]), int(parts[0]))
        if len(parts) == 2:
            return PortMapping(default_ip, int(parts[0]), int(parts[1]))
        if len(parts) == 3:
            socket.inet_aton(parts[0])
            return PortMapping(parts[0], int(parts[1]), int(parts[2]))
    except (ValueError, OSError):
        pass
    raise ProfileError(f"--port {text!r}: use PORT, HOST_PORT:CONTAINER_PORT or "
                       "IP:HOST_PORT:CONTAINER_PORT")


def ensure_port_free(mapping: PortMapping) -> None:
    """Fail early, with the port named, instead of a half-created container."""
    if not 0 < mapping.host_port < 65536:
        raise ProfileError(f"port {mapping.host_port} is out of range")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((mapping.host_ip, mapping.host_port))
        except OSError:
            raise ProfileError(
                f"port {mapping.host_port} on {mapping.host_ip} is already in use; pick another "
                "with --jupyter-port or --port") from None


def ensure_workspace(path: Path) -> Path:
    resolved = path.expanduser().resolve()
    if not resolved.is_dir():
        raise ProfileError(f"--workspace {path}: no such directory (create it first; dlenv never "
                           "creates or changes your files)")
    return resolved


def dev_profile(profile: Profile, uid: int, gid: int, jupyter: bool) -> Profile:
    """The profile of the dev image: the host user's UID/GID, plus JupyterLab when asked."""
    packages = profile.packages + (("jupyterlab",) if jupyter and "jupyterlab" not in
                                   profile.packages else ())
    user = UserSettings(name=profile.user.name, uid=uid, gid=gid)
    return profile.model_copy(update={"user": user, "packages": packages})


def host_ids() -> tuple[int, int]:
    """The invoking user's UID/GID (under sudo, the user who ran sudo)."""
    uid = int(os.environ.get("SUDO_UID", os.getuid()))
    gid = int(os.environ.get("SUDO_GID", os.getgid()))
    return uid, gid


def new_token() -> str:
    return secrets.token_hex(24)


def jupyter_command(token: str) -> list[str]:
    return ["jupyter", "lab", "--ip=0.0.0.0", f"--port={JUPYTER_PORT}", "--no-browser",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={WORKSPACE}"]


def devcontainer_json(spec: BuildSpec, forward_ports: tuple[int, ...] = (JUPYTER_PORT,)) -> str:
    """A VS Code dev container definition that builds the rendered Dockerfile beside it."""
    run_args = ["--shm-size", spec.runtime.shm_size]
    if spec.runtime.gpus:
        run_args += ["--gpus", "all"]
    for device in spec.runtime.devices:
        run_args.append(f"--device={device}")
    for group in spec.runtime.group_add:
        run_args += ["--group-add", group]
    for opt in spec.runtime.security_opt:
        run_args += ["--security-opt", opt]
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
        "customizations": {"vscode": {"extensions": ["ms-python.python", "ms-toolsai.jupyter"],
                                      "settings": {"python.defaultInterpreterPath":
                                                   "/opt/venv/bin/python"}}},
    }
    if spec.accelerator != "cpu":
        data["hostRequirements"] = {"gpu": True}
    return json.dumps(data, indent=2) + "\n"
