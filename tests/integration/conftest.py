"""Integration fixtures: a REAL Docker engine (no mocks). Missing engine = failure, not skip."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.startswith("{")]


def dlenv(*args: str, env: dict[str, str] | None = None, timeout: int = 1800) -> Run:
    """Run the real CLI in a subprocess, as a user would."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    result = subprocess.run(
        [sys.executable, "-m", "builder", *args],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Run(result.returncode, result.stdout, result.stderr)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:  # any failure here means "no engine"
        pytest.fail(f"integration tests need a Docker engine (run scripts/setup-host.sh): {exc}")
    try:
        client.images.get("debian:bookworm-slim")
    except docker.errors.ImageNotFound:
        pytest.fail("debian:bookworm-slim is missing: run scripts/make-base-image.sh")
    before = _tags(client)
    yield client
    _remove_test_tags(client, before)
    client.close()


# Tags that only tests make: probes, throw-away registries, interrupted builds, the profiles the
# CI workflow tests run (dlenv/ci-*). The profile images (dlenv/pytorch-cpu, ...) stay: they are
# what the README's first command also builds.
_TEST_TAG = re.compile(r"^(dlenv-test/|127\.0\.0\.1:\d+/|dlenv/(irq-|ci-|[a-z-]+-probe:))")


def _tags(client: Any) -> set[str]:
    return {tag for image in client.images.list() for tag in image.tags}


def _remove_test_tags(client: Any, before: set[str]) -> None:
    """Leave the engine as the suite found it: untag what the tests tagged."""
    for tag in sorted(_tags(client) - before):
        if _TEST_TAG.match(tag):
            try:
                client.images.remove(tag, noprune=False)
            except Exception:  # in use by a container a test kept: leave it
                continue


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.docker)


def layer_paths(client: Any, image: str) -> set[str]:
    """Every path in every layer of an image (from `docker save`): what the image really holds."""
    import tarfile
    import tempfile

    paths: set[str] = set()
    with tempfile.TemporaryFile() as archive:
        for chunk in client.images.get(image).save(named=False):
            archive.write(chunk)
        archive.seek(0)
        with tarfile.open(fileobj=archive) as outer:
            for member in outer.getmembers():
                layer_file = outer.extractfile(member) if member.name.endswith("layer.tar") else None
                if layer_file is not None:
                    with tarfile.open(fileobj=layer_file) as layer:
                        paths.update(layer.getnames())
    return paths


def build_steps(stderr: str) -> list[tuple[str, str]]:
    """The steps of a `--progress json` build log: (the step's full text, its output)."""
    steps: list[tuple[str, str]] = []
    for line in stderr.splitlines():
        if not line.startswith("{"):
            continue
        event = json.loads(line)
        if event["event"] == "BuildStep":
            steps.append((event["text"], ""))
        elif event["event"] == "BuildOutput" and steps:
            steps[-1] = (steps[-1][0], steps[-1][1] + event["text"] + "\n")
    return steps


def step_output(stderr: str, text: str) -> str:
    """The output of the (first) step whose Dockerfile text contains `text`."""
    return next(output for step, output in build_steps(stderr) if text in step)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_registry(root: Path, auth: tuple[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """Debian's docker-registry on 127.0.0.1 with a temporary storage root (never the service)."""
    import time
    import urllib.error
    import urllib.request

    port = free_port()
    config = [
        "version: 0.1",
        "log: {level: warn}",
        f"storage: {{filesystem: {{rootdirectory: {root / 'data'}}}, delete: {{enabled: true}}}}",
        f"http: {{addr: '127.0.0.1:{port}'}}",
    ]
    if auth:
        htpasswd = subprocess.run(
            ["htpasswd", "-Bbn", *auth], capture_output=True, text=True, check=True
        ).stdout
        (root / "htpasswd").write_text(htpasswd)
        config.append(f"auth: {{htpasswd: {{realm: dlenv-test, path: {root / 'htpasswd'}}}}}")
    (root / "config.yml").write_text("\n".join(config) + "\n")
    proc = subprocess.Popen(
        ["docker-registry", "serve", str(root / "config.yml")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    address = f"127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://{address}/v2/", timeout=1)  # loopback
            break
        except urllib.error.HTTPError:
            break  # 401 from the authenticated one: it is up
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("docker-registry did not start")
    return proc, address


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, address = _start_registry(tmp_path_factory.mktemp("registry"))
    yield address
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, address = _start_registry(tmp_path_factory.mktemp("registry-auth"), auth=("dlenv", "s3cret"))
    yield address
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def pytorch_cpu(docker_client: Any) -> str:
    """dlenv/pytorch-cpu:latest, built for whichever tests need it (a cache hit when it exists)."""
    run = dlenv("build", "pytorch-cpu", "--pip-from-host", "--progress", "plain")
    assert run.code == 0, run.stderr[-3000:]
    return "dlenv/pytorch-cpu:latest"
