"""Dev container pieces: the dev image's profile, the user's IDs, ports, workspace, JupyterLab."""

from __future__ import annotations

import os
import secrets
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from builder.errors import ProfileError, SmokeFailed
from builder.image_paths import WORKSPACE
from builder.profile.schema import Profile, UserSettings

if TYPE_CHECKING:
    from builder.engine.protocol import Engine

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
    raise ProfileError(f"--port {text!r}: use PORT, HOST_PORT:CONTAINER_PORT or IP:HOST_PORT:CONTAINER_PORT")


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
                "with --jupyter-port or --port"
            ) from None


def ensure_workspace(path: Path) -> Path:
    resolved = path.expanduser().resolve()
    if not resolved.is_dir():
        raise ProfileError(
            f"--workspace {path}: no such directory (create it first; dlenv never "
            "creates or changes your files)"
        )
    return resolved


def dev_profile(profile: Profile, uid: int, gid: int, jupyter: bool) -> Profile:
    """The profile of the dev image: the host user's UID/GID, plus JupyterLab when asked."""
    packages = profile.packages + (
        ("jupyterlab",) if jupyter and "jupyterlab" not in profile.packages else ()
    )
    user = UserSettings(name=profile.user.name, uid=uid, gid=gid)
    return profile.model_copy(update={"user": user, "packages": packages})


def host_ids() -> tuple[int, int]:
    """The invoking user's UID/GID (under sudo, the user who ran sudo)."""
    uid = int(os.environ.get("SUDO_UID", os.getuid()))
    gid = int(os.environ.get("SUDO_GID", os.getgid()))
    return uid, gid


def dev_ids(profile: Profile, uid: int | None, gid: int | None) -> tuple[int, int]:
    """The dev container's UID/GID: asked for, else the host user's; root keeps the image's user."""
    host_uid, host_gid = host_ids()
    dev_uid = uid if uid is not None else host_uid
    dev_gid = gid if gid is not None else host_gid
    return (dev_uid if dev_uid > 0 else profile.user.uid, dev_gid if dev_gid > 0 else profile.user.gid)


def jupyter_url(host_ip: str, port: int, token: str) -> str:
    host = "127.0.0.1" if host_ip in ("0.0.0.0", "") else host_ip
    return f"http://{host}:{port}/lab?token={token}"


def wait_for_jupyter(url: str, engine: Engine, container: str, timeout: float = 180) -> bool:
    """True once JupyterLab answers; SmokeFailed if its container exits first."""
    import urllib.error
    import urllib.request

    status_url = url.replace("/lab?", "/api/status?")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = engine.container(container)
        if info is None or info.status != "running":
            logs = engine.logs(container, tail=15)[1].decode(errors="replace") if info else ""
            raise SmokeFailed(f"JupyterLab in {container} exited:\n{logs}")
        try:
            with urllib.request.urlopen(status_url, timeout=3) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(1)
    return False


def new_token() -> str:
    return secrets.token_hex(24)


def jupyter_command(token: str) -> list[str]:
    return [
        "jupyter",
        "lab",
        "--ip=0.0.0.0",
        f"--port={JUPYTER_PORT}",
        "--no-browser",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={WORKSPACE}",
    ]
