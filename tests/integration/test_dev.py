"""dev up/down on the real engine: UID mapping, workspace ownership, Jupyter safety, reuse."""

from __future__ import annotations

import json
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import REPO, dlenv

UID, GID = 4242, 4343
NAME = "dlenv-dev-pytorch-cpu"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # loopback only
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _host_ip() -> str:
    """A non-loopback address of this host (the docker0 bridge always has one)."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        addr = line.split()[3].split("/")[0]
        if not addr.startswith("127."):
            return addr
    pytest.fail("no non-loopback IPv4 address on this host")


@pytest.fixture(scope="module")
def dev_container(tmp_path_factory: pytest.TempPathFactory, docker_client: Any) -> Iterator[dict[str, Any]]:
    workspace = tmp_path_factory.mktemp("workspace")
    workspace.chmod(0o777)
    dlenv("dev", "down", "pytorch-cpu")  # a leftover of an interrupted earlier run
    port = _free_port()
    run = dlenv(
        "dev",
        "up",
        "pytorch-cpu",
        "--workspace",
        str(workspace),
        "--uid",
        str(UID),
        "--gid",
        str(GID),
        "--jupyter",
        "--jupyter-port",
        str(port),
        "--detach",
        "--pip-from-host",
        "--progress",
        "plain",
    )
    assert run.code == 0, run.stderr[-4000:]
    assert run.stdout.strip() == NAME
    container = docker_client.containers.get(NAME)
    yield {"workspace": workspace, "port": port, "container": container, "stderr": run.stderr}
    dlenv("dev", "down", "pytorch-cpu")


def test_user_matches_and_files_belong_to_host_uid(dev_container: dict[str, Any]) -> None:
    container = dev_container["container"]
    code, output = container.exec_run(["bash", "-c", "id -u; id -g; echo hi > /workspace/made-inside"])
    assert code == 0
    assert output.decode().split()[:2] == [str(UID), str(GID)]
    stat = (dev_container["workspace"] / "made-inside").stat()
    assert (stat.st_uid, stat.st_gid) == (UID, GID)


def test_jupyter_needs_the_token_and_listens_on_loopback_only(dev_container: dict[str, Any]) -> None:
    container = dev_container["container"]
    url = container.labels["io.dlenv.jupyter-url"]
    token = url.split("token=")[1]
    port = dev_container["port"]
    assert url in dev_container["stderr"]
    assert _status(f"http://127.0.0.1:{port}/api/status?token={token}") == 200
    assert _status(f"http://127.0.0.1:{port}/api/status") == 403
    assert _status(f"http://127.0.0.1:{port}/api/status?token=wrong") == 403
    bindings = container.attrs["HostConfig"]["PortBindings"]["8888/tcp"]
    assert [b["HostIp"] for b in bindings] == ["127.0.0.1"]
    with socket.socket() as sock:
        sock.settimeout(3)
        assert sock.connect_ex((_host_ip(), port)) != 0, "Jupyter must not answer off loopback"


def test_second_up_reuses_the_container(dev_container: dict[str, Any]) -> None:
    same = ["--workspace", str(dev_container["workspace"]), "--uid", str(UID), "--gid", str(GID)]
    run = dlenv("dev", "up", "pytorch-cpu", *same, "--detach")
    assert run.code == 0 and run.stdout.strip() == NAME, run.stderr
    assert "reusing" in run.stderr
    dev_container["container"].reload()
    assert dev_container["container"].status == "running"


def test_up_with_another_workspace_refuses_to_reuse(dev_container: dict[str, Any], tmp_path: Path) -> None:
    """Reusing would silently mount the old folder: say so and how to replace it instead."""
    run = dlenv(
        "dev", "up", "pytorch-cpu", "--workspace", str(tmp_path), "--uid", str(UID), "--gid", str(GID)
    )
    assert run.code == 2, run.stderr
    assert "already exists" in run.stderr and str(dev_container["workspace"]) in run.stderr
    assert "--recreate" in run.stderr and "Traceback" not in run.stderr


def test_ls_lists_it(dev_container: dict[str, Any]) -> None:
    run = dlenv("dev", "ls", "--json")
    assert run.code == 0
    rows = json.loads(run.stdout)
    assert any(r["name"] == NAME and r["profile"] == "pytorch-cpu" for r in rows)


def test_port_taken_is_an_input_error(dev_container: dict[str, Any], tmp_path: Path) -> None:
    run = dlenv(
        "dev", "up", "jax-cpu", "--workspace", str(tmp_path), "--detach", "--port", str(dev_container["port"])
    )
    assert run.code == 2 and "already in use" in run.stderr


def test_missing_workspace_is_an_input_error(tmp_path: Path) -> None:
    run = dlenv("dev", "up", "pytorch-cpu", "--workspace", str(tmp_path / "nope"), "--detach")
    assert run.code == 2 and "no such directory" in run.stderr


def test_down_leaves_nothing(docker_client: Any, dev_container: dict[str, Any]) -> None:
    # Runs last in this module (pytest keeps file order): take it down and look.
    run = dlenv("dev", "down", "pytorch-cpu")
    assert run.code == 0
    assert not docker_client.containers.list(all=True, filters={"name": NAME})
    assert (dev_container["workspace"] / "made-inside").exists(), "the workspace is untouched"


def test_compose_file_is_valid_and_a_cpu_service_runs(docker_client: Any, pytorch_cpu: str) -> None:
    """A real Compose implementation validates compose.yaml and runs the pytorch-cpu service."""
    compose = ["docker-compose", "-f", str(REPO / "compose.yaml"), "-p", "dlenvtest"]
    config = subprocess.run([*compose, "config", "-q"], capture_output=True, text=True)
    assert config.returncode == 0, config.stderr
    services = subprocess.run([*compose, "config", "--services"], capture_output=True, text=True)
    assert "pytorch-cuda" in services.stdout.split()
    try:
        run = subprocess.run(
            [*compose, "run", "--rm", "pytorch-cpu", "dlenv-smoke", "--model", "lstm", "--steps", "60"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert run.returncode == 0, run.stderr[-3000:]
        result = json.loads(run.stdout.strip().splitlines()[-1])
        assert result["ok"] is True and result["framework"] == "pytorch"
    finally:
        subprocess.run([*compose, "down", "--remove-orphans"], capture_output=True)
    left = docker_client.containers.list(all=True, filters={"label": "com.docker.compose.project=dlenvtest"})
    assert not left
