"""`dlenv dev vscode` definitions run by their real consumer, the Dev Containers CLI.

`devcontainer up` (npm @devcontainers/cli, pinned in scripts/setup-host.sh, what VS Code runs)
brings up each kind of definition on this engine, behind this network's TLS-intercepting
proxy; `devcontainer exec` runs the smoke test inside as the remote user, who has the UID of
the user who ran the CLI, with the workspace mounted. Then the image is read byte by byte
(`docker save`): neither the site CA nor an index credential is in it.

The CLI runs as a non-root user (updateRemoteUserUID does nothing for root): in a private
mount namespace whose /etc/passwd and /etc/group have that user, so the host is not changed,
with the engine socket's group so it can reach the engine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.paths import FIXTURES

from .conftest import REPO, dlenv

CLI = REPO / ".tools" / "node_modules" / ".bin" / "devcontainer"
UID, GID, USER = 4271, 4373, "dlenv-devc"  # a user no image has; test_dev.py uses others
SENTINEL = "dlenv-test-s3cret-7c41e0"  # an index password: must never reach an image
PEM = re.compile(rb"-----BEGIN CERTIFICATE-----\n(.+?)\n-----END CERTIFICATE-----", re.S)


def _pinned_cli_version() -> str:
    found = re.search(r"^DEVCONTAINERS_CLI=(\S+)$", (REPO / "scripts" / "setup-host.sh").read_text(), re.M)
    assert found, "scripts/setup-host.sh pins the Dev Containers CLI"
    return found.group(1)


@dataclass
class AsUser:
    """Runs the Dev Containers CLI as UID:GID (see the module's docstring)."""

    home: Path
    env: dict[str, str]
    prefix: list[str]

    def __call__(self, *args: str, timeout: int = 1500) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.prefix, str(CLI), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


@pytest.fixture(scope="module")
def as_user() -> Iterator[AsUser]:
    assert CLI.exists(), "the Dev Containers CLI is missing: run scripts/setup-host.sh"
    version = subprocess.run([str(CLI), "--version"], capture_output=True, text=True).stdout.strip()
    assert version == _pinned_cli_version(), f"devcontainer {version}; run scripts/setup-host.sh"
    root = Path(tempfile.mkdtemp(prefix="dlenv-test-devc-user-"))
    home = root / "home"
    (home / "tmp").mkdir(parents=True)
    passwd, group = root / "passwd", root / "group"
    passwd.write_text(Path("/etc/passwd").read_text() + f"{USER}:x:{UID}:{GID}::{home}:/bin/sh\n")
    group.write_text(Path("/etc/group").read_text() + f"{USER}:x:{GID}:\n")
    os.chown(home, UID, GID)
    os.chown(home / "tmp", UID, GID)
    root.chmod(0o755)
    socket = Path("/var/run/docker.sock")
    engine_gid = socket.stat().st_gid if socket.exists() else 0
    script = (
        f"mount --bind {passwd} /etc/passwd && mount --bind {group} /etc/group && "
        f'exec setpriv --reuid {UID} --regid {GID} --groups {engine_gid} -- "$@"'
    )
    prefix = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"]
    env = {**os.environ, "HOME": str(home), "TMPDIR": str(home / "tmp"), "USER": USER}
    yield AsUser(home, env, prefix)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def workspace() -> Iterator[Path]:
    """A workspace the user owns, outside pytest's root-only folders; its containers and the
    images the CLI built for it are removed afterwards."""
    import docker

    folder = Path(tempfile.mkdtemp(prefix="dlenv-test-devc-ws-"))
    os.chown(folder, UID, GID)
    yield folder
    client = docker.from_env()
    for container in client.containers.list(
        all=True, filters={"label": f"devcontainer.local_folder={folder}"}
    ):
        container.remove(force=True)
    for image in client.images.list():
        for tag in image.tags:
            if tag.startswith(f"vsc-{folder.name}-"):
                client.images.remove(tag)
    client.close()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def site_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This host's CA bundle (pip needs it behind the proxy) plus a CA no image trusts
    (tests/fixtures/dlenv-test-site-ca.pem: a certificate whose key was thrown away; the same
    bytes every run, so a rerun finds the build stages in the layer cache)."""
    host = Path(os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt").read_bytes()
    bundle = tmp_path_factory.mktemp("site-ca") / "site-ca.pem"
    bundle.write_bytes(host.rstrip(b"\n") + b"\n" + (FIXTURES / "dlenv-test-site-ca.pem").read_bytes())
    return bundle


def _needles(client: Any, image: str, ca_bundle: Path, *secrets: str) -> dict[bytes, str]:
    """What must not be in the image: every CA of the bundle that the image's own trust store
    lacks (PEM text and DER bytes), the secrets, and the build stage's input folder."""
    import base64

    own = client.containers.run(
        image, ["cat", "/etc/ssl/certs/ca-certificates.crt"], entrypoint="", remove=True
    )
    image_cas = set(PEM.findall(own))
    site = [body for body in PEM.findall(ca_bundle.read_bytes()) if body not in image_cas]
    assert site, "the bundle has CAs the image does not trust (the test's own, at least)"
    needles = {}
    for n, body in enumerate(site):
        needles[body.split(b"\n")[0]] = f"site CA {n} (PEM)"
        needles[base64.b64decode(b"".join(body.split()))[:96]] = f"site CA {n} (DER)"
    needles |= {s.encode(): f"secret {s}" for s in secrets}
    needles[b"opt/dlenv-build"] = "the build inputs folder"
    return needles


def _found_in_image(client: Any, image: str, needles: dict[bytes, str]) -> list[str]:
    """Which needles occur anywhere in `docker save` of the image: every layer's files and
    names, the config (environment, labels, history)."""
    keep = max(len(n) for n in needles)
    found: set[str] = set()
    tail = b""
    for chunk in client.images.get(image).save(chunk_size=4 << 20, named=False):
        data = tail + chunk
        found.update(what for needle, what in needles.items() if needle in data)
        tail = data[-keep:]
    return sorted(found)


def _up_and_smoke(as_user: AsUser, workspace: Path) -> dict[str, Any]:
    """`devcontainer up`, then exec as the remote user: IDs, workspace, the smoke test."""
    up = as_user("up", "--workspace-folder", str(workspace))
    assert up.returncode == 0, up.stderr[-4000:] + up.stdout[-2000:]
    outcome = json.loads(up.stdout.strip().splitlines()[-1])
    assert outcome["outcome"] == "success" and outcome["remoteWorkspaceFolder"] == "/workspace", outcome
    who = as_user(
        "exec", "--workspace-folder", str(workspace), "sh", "-c", "id -u; id -g; pwd; touch made-by-exec"
    )
    assert who.returncode == 0, who.stderr[-3000:]
    assert who.stdout.split()[-3:] == [str(UID), str(GID), "/workspace"], who.stdout
    made = (workspace / "made-by-exec").stat()
    assert (made.st_uid, made.st_gid) == (UID, GID), "files made inside belong to the user"
    smoke = as_user(
        "exec", "--workspace-folder", str(workspace), "dlenv-smoke", "--model", "lstm", "--steps", "60"
    )
    assert smoke.returncode == 0, smoke.stderr[-3000:] + smoke.stdout[-2000:]
    result = json.loads([line for line in smoke.stdout.splitlines() if line.startswith("{")][-1])
    assert result["ok"] is True and result["framework"] == "pytorch", result
    return dict(outcome)


def test_a_locked_definition_builds_behind_the_proxy_and_keeps_the_ca_out(
    docker_client: Any, as_user: AsUser, workspace: Path, site_ca: Path
) -> None:
    """The default kind: the definition builds its own image, the site's CA and wheelhouse in
    the build stage only, hash-checked from the lock that sits beside it."""
    lock = workspace / "pytorch-cpu.dlenv.lock"
    locked = dlenv("lock", "pytorch-cpu", "--lock", str(lock), "--pip-from-host", "--ca-bundle", str(site_ca))
    assert locked.code == 0, locked.stderr[-3000:]
    folder = workspace / ".devcontainer"
    written = dlenv(
        "dev",
        "vscode",
        "pytorch-cpu",
        "--pip-from-host",
        "--ca-bundle",
        str(site_ca),
        "--lock",
        str(lock),
        "--dir",
        str(folder),
    )
    assert written.code == 0, written.stderr[-3000:]
    assert "--require-hashes" in (folder / "Dockerfile").read_text()
    assert (folder / "dlenv" / "build" / "ca.pem").read_bytes() == site_ca.read_bytes()
    read = as_user("read-configuration", "--workspace-folder", str(workspace))
    assert read.returncode == 0, read.stderr[-3000:]
    outcome = _up_and_smoke(as_user, workspace)
    container = docker_client.containers.get(outcome["containerId"])
    image = container.image.id
    lock_digest = re.search(r'^lock-digest = "(.+)"$', lock.read_text(), re.M)
    assert lock_digest and container.image.labels["io.dlenv.lock-digest"] == lock_digest.group(1)
    env = "\n".join(container.image.attrs["Config"]["Env"] or [])
    assert "PIP_CONFIG_FILE" not in env and "SSL_CERT_FILE" not in env and "PIP_CERT" not in env
    assert _found_in_image(docker_client, image, _needles(docker_client, image, site_ca)) == []


def _remove_tag(client: Any, tag: str) -> None:
    import docker

    try:
        client.images.remove(tag)
    except docker.errors.ImageNotFound:
        pass


@pytest.fixture
def dev_image_tag(docker_client: Any) -> Iterator[str]:
    """The dev image --image builds for UID:GID (removed before, so this test builds it, and after)."""
    from builder.dev import container as dev
    from builder.dev.vscode import dev_image_tag as tag_of
    from builder.profile.load import load_profile
    from builder.resolve.decide import resolve

    spec = resolve(dev.dev_profile(load_profile("pytorch-cpu")[0], UID, GID, jupyter=False))
    tag = tag_of(spec, None)
    _remove_tag(docker_client, tag)
    yield tag
    for container in docker_client.containers.list(all=True, filters={"ancestor": tag}):
        if "dlenv-test-devc-ws-" in container.labels.get("devcontainer.local_folder", ""):
            container.remove(force=True)  # this test's, whichever fixture ends first
    _remove_tag(docker_client, tag)


def test_an_image_definition_opens_exactly_the_dev_image_without_the_credential(
    docker_client: Any,
    as_user: AsUser,
    workspace: Path,
    site_ca: Path,
    dev_image_tag: str,
) -> None:
    """--image: dlenv builds the dev image (an index URL with a password makes it stage its
    inputs), the definition names it by ID, and the container runs exactly that image."""
    index = f"https://dlenv-test:{SENTINEL}@pypi.org/simple"
    folder = workspace / ".devcontainer"
    written = dlenv(
        "dev",
        "vscode",
        "pytorch-cpu",
        "--image",
        "--uid",
        str(UID),
        "--gid",
        str(GID),
        "--unlocked",
        "--pip-from-host",
        "--ca-bundle",
        str(site_ca),
        "--dir",
        str(folder),
        "--progress",
        "plain",
        env={"PIP_EXTRA_INDEX_URL": index},
    )
    assert written.code == 0, written.stderr[-3000:]
    assert "staged" in written.stderr and "credentials" in written.stderr
    assert [p.name for p in folder.iterdir()] == ["devcontainer.json"]
    definition = json.loads((folder / "devcontainer.json").read_text())
    image = docker_client.images.get(dev_image_tag).id
    assert definition["image"] == image and "build" not in definition
    outcome = _up_and_smoke(as_user, workspace)
    assert docker_client.containers.get(outcome["containerId"]).image.id == image
    needles = _needles(docker_client, image, site_ca, SENTINEL)
    assert _found_in_image(docker_client, image, needles) == []
