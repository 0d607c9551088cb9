"""The engine fails under dlenv: it stops in the middle of a build or a smoke run, or its disk
fills up. dlenv must exit with the right code and a clear message, never a traceback, and once
the engine is back nothing half-built may carry the profile's tag.

The faults happen to a spare dockerd of this test's own (its own data root, socket, containerd
and bridge), so the engine every other test uses is never stopped.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from .conftest import REPO

BASE = "debian:bookworm-slim"


class SpareEngine:
    """A private dockerd: start, stop (as `systemctl stop docker` does) and start again."""

    def __init__(self, root: Path, data_root: Path) -> None:
        self.root, self.data_root = root, data_root
        self.host = f"unix://{root}/docker.sock"
        self.process: subprocess.Popen[bytes] | None = None
        # Its own bridge: a dockerd started with --bridge=none deletes the host's docker0 (moby's
        # removeDefaultBridgeInterface), which would break every other test's containers.
        self.bridge = "dlf" + secrets.token_hex(4)

    def start(self) -> docker.DockerClient:
        if subprocess.run(["ip", "link", "show", self.bridge], capture_output=True).returncode != 0:
            subprocess.run(["ip", "link", "add", "name", self.bridge, "type", "bridge"], check=True)
            subprocess.run(["ip", "link", "set", self.bridge, "up"], check=True)
        log = (self.root / "dockerd.log").open("ab")
        self.process = subprocess.Popen(
            [
                "dockerd",
                f"--data-root={self.data_root}",
                f"--exec-root={self.root}/exec",
                f"--pidfile={self.root}/docker.pid",
                f"-H={self.host}",
                f"--bridge={self.bridge}",
                "--iptables=false",
                "--ip-masq=false",
            ],
            stdout=log,
            stderr=log,
        )
        for _ in range(150):
            try:
                client = docker.DockerClient(base_url=self.host, timeout=30)
                client.ping()
                return client
            except Exception:  # not up yet
                time.sleep(0.2)
        pytest.fail("the spare dockerd did not start: " + (self.root / "dockerd.log").read_text()[-2000:])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def remove(self) -> None:
        """Stop it and remove its folders (dockerd leaves its network namespace mounted)."""
        self.stop()
        with open("/proc/mounts") as mounts:
            points = [line.split()[1] for line in mounts if line.split()[1].startswith(str(self.root))]
        for point in sorted(points, key=len, reverse=True):
            subprocess.run(["umount", "-l", point], check=False)
        shutil.rmtree(self.root, ignore_errors=True)
        subprocess.run(["ip", "link", "delete", self.bridge], capture_output=True, check=False)


@pytest.fixture
def spare(docker_client: Any) -> Iterator[tuple[SpareEngine, docker.DockerClient]]:
    root = Path(tempfile.mkdtemp(prefix="/tmp/dlf"))  # short: the socket path has a length limit
    engine = SpareEngine(root, root / "data")
    client = engine.start()
    client.images.load(docker_client.images.get(BASE).save(named=True))
    try:
        yield engine, client
    finally:
        engine.remove()


def _dlenv(args: list[str], host: str) -> subprocess.Popen[str]:
    env = {**os.environ, "DOCKER_HOST": host, "COLUMNS": "200"}
    return subprocess.Popen(
        [sys.executable, "-m", "builder", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_line(process: subprocess.Popen[str], *texts: str, timeout: float) -> list[str]:
    """Read stderr until a line contains one of `texts`; returns what was read."""
    assert process.stderr is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen.append(line)
        if any(text in line for text in texts):
            return seen
    pytest.fail(f"never saw any of {texts!r}; output:\n" + "".join(seen)[-3000:])


def test_engine_stopping_mid_build_exits_3_and_tags_nothing(
    spare: tuple[SpareEngine, docker.DockerClient], tmp_path: Path
) -> None:
    engine, _ = spare
    build = _dlenv(["build", "pytorch-cpu", "--pip-from-host", "--progress", "plain"], engine.host)
    # uv's first words in the framework step: the install is under way in a build container
    _wait_for_line(build, "Resolved ", "Prepared ", "Downloading ", timeout=300)
    engine.stop()
    _, stderr = build.communicate(timeout=120)
    assert build.returncode == 3, stderr[-3000:]
    assert "stopped answering while building" in stderr or "went away" in stderr
    assert "Traceback" not in stderr
    client = engine.start()  # the engine is back
    assert not client.images.list(name="dlenv/pytorch-cpu"), "a half-built image was tagged"
    left = {c.id[:12] for c in client.containers.list(all=True)}
    for container in left:  # whatever the engine kept was named, with the command to remove it
        assert container in stderr and "docker rm -f" in stderr


def test_engine_stopping_mid_smoke_exits_3(spare: tuple[SpareEngine, docker.DockerClient]) -> None:
    engine, client = spare
    script = "#!/bin/sh\\necho started >&2\\nsleep 600\\n"
    dockerfile = (
        f"FROM {BASE}\n"
        f"RUN printf '{script}' > /usr/local/bin/dlenv-smoke && chmod +x /usr/local/bin/dlenv-smoke\n"
        "LABEL io.dlenv.accelerator=cpu\n"
    )
    import io

    client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag="dlenv-test/endless-smoke:1", rm=True)
    smoke = _dlenv(["smoke", "dlenv-test/endless-smoke:1"], engine.host)
    for _ in range(300):  # until the smoke container runs
        if client.containers.list(filters={"ancestor": "dlenv-test/endless-smoke:1"}):
            break
        time.sleep(0.1)
    else:
        pytest.fail("the smoke container never started")
    started = time.monotonic()
    engine.stop()
    _, stderr = smoke.communicate(timeout=120)
    assert smoke.returncode == 3, stderr[-3000:]
    assert time.monotonic() - started < 90, "dlenv must notice a dead engine within its poll interval"
    assert "Docker engine" in stderr and "Traceback" not in stderr


def test_a_full_disk_is_reported_as_such(docker_client: Any, tmp_path: Path) -> None:
    """The engine's data root fills up during the framework install: exit 4, say so, say what to do."""
    root = Path(tempfile.mkdtemp(prefix="/tmp/dlf"))
    data = root / "data"
    data.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=450m", "tmpfs", str(data)], check=True)
    engine = SpareEngine(root, data)
    try:
        client = engine.start()
        client.images.load(docker_client.images.get(BASE).save(named=True))
        build = _dlenv(["build", "pytorch-cpu", "--pip-from-host", "--progress", "plain"], engine.host)
        _, stderr = build.communicate(timeout=900)
        assert build.returncode == 4, stderr[-3000:]
        assert "ran out of disk space" in stderr and "docker system df" in stderr
        assert "Traceback" not in stderr
        assert not client.images.list(name="dlenv/pytorch-cpu")
    finally:
        engine.remove()
