"""Locks made by uv against PyPI (and the host's wheelhouse), locked builds on the real engine."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from builder import paths

from .conftest import REPO, dlenv

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a copy of the pytorch-cpu profile (its lock goes beside it)."""
    folder = tmp_path_factory.mktemp("locked")
    shutil.copy(paths.builtin_profiles_dir() / "pytorch-cpu.yaml", folder / "pytorch-cpu.yaml")
    return folder


@pytest.fixture(scope="module")
def locked(work: Path) -> Iterator[Path]:
    run = dlenv("lock", str(work / "pytorch-cpu.yaml"), "--pip-from-host")
    assert run.code == 0, run.stderr[-3000:]
    lock = work / "pytorch-cpu.dlenv.lock"
    assert run.stdout.strip() == str(lock)
    yield lock


def _lock(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = tomllib.loads(path.read_text())
    return data


def test_lock_pins_every_package_with_the_wheels_sha256(locked: Path) -> None:
    data = _lock(locked)
    torch = next(p for p in data["frameworks"] if p["name"] == "torch")
    assert torch["version"] == "2.13.0+cpu"
    wheel = torch["wheels"][0]
    local = Path(os.environ.get("PIP_FIND_LINKS", "/opt/wheels")) / wheel["name"]
    assert hashlib.sha256(local.read_bytes()).hexdigest() == wheel["sha256"]
    names = {p["name"] for p in data["frameworks"]}
    assert {"torch", "numpy", "typing-extensions", "filelock"} <= names  # transitive ones too
    assert data["base"]["ref"] == "debian:bookworm-slim" and data["base"]["image-id"].startswith("sha256:")
    assert data["inputs"]["platform"] == "x86_64-manylinux_2_36" and data["inputs"]["python"] == "3.11.2"
    assert data["resolver"]["tool"].startswith("uv ")


def test_check_is_clean_then_names_what_changed(work: Path, locked: Path) -> None:
    assert dlenv("lock", str(work / "pytorch-cpu.yaml"), "--check").code == 0
    changed = work / "changed.yaml"
    changed.write_text((work / "pytorch-cpu.yaml").read_text() + "packages: [six]\n")
    shutil.copy(locked, work / "changed.dlenv.lock")
    run = dlenv("lock", str(changed), "--check", "--lock", str(work / "changed.dlenv.lock"))
    assert run.code == 1
    assert "stale" in run.stderr and "extra packages: +six" in run.stderr
    missing = dlenv("lock", str(changed), "--check", "--lock", str(work / "nope.lock"))
    assert missing.code == 1 and "no lock file" in missing.stderr


def test_extras_change_keeps_the_frameworks_set(work: Path, locked: Path) -> None:
    with_extras = work / "extras.yaml"
    with_extras.write_text(
        (work / "pytorch-cpu.yaml").read_text().replace("name: pytorch-cpu", "name: extras")
        + "packages: [six]\n"
    )
    shutil.copy(locked, work / "extras.dlenv.lock")  # the previous lock: its pins are kept
    run = dlenv("lock", str(with_extras), "--pip-from-host")
    assert run.code == 0, run.stderr[-2000:]
    new = _lock(work / "extras.dlenv.lock")
    assert new["frameworks"] == _lock(locked)["frameworks"]
    assert [p["name"] for p in new["extras"]] == ["six"]


@pytest.mark.parametrize(
    ("case", "edit", "code", "message"),
    [
        ("not-toml", lambda t: t + "\n[[[", 2, "not a valid TOML"),
        (
            "unknown-key",
            lambda t: t.replace("lock-version = 1", "lock-version = 1\nflavour = 1"),
            2,
            "unknown key",
        ),
        (
            "other-platform",
            lambda t: t.replace("x86_64-manylinux_2_36", "x86_64-manylinux_2_39"),
            1,
            "the platform",
        ),
    ],
)
def test_bad_locks_are_refused_before_building(
    work: Path, locked: Path, case: str, edit: Any, code: int, message: str
) -> None:
    bad = work / f"{case}.lock"
    bad.write_text(edit(locked.read_text()))
    run = dlenv("build", str(work / "pytorch-cpu.yaml"), "--locked", "--lock", str(bad))
    assert run.code == code, run.stderr
    assert message in run.stderr and "Traceback" not in run.stderr


def test_locked_builds_install_the_lock_and_give_one_content_digest(
    work: Path, locked: Path, docker_client: Any
) -> None:
    tags = []
    for n, extra in ((1, ()), (2, ("--no-cache",))):
        tag = f"dlenv-test/locked:{n}"
        run = dlenv(
            "build",
            str(work / "pytorch-cpu.yaml"),
            "--locked",
            "--pip-from-host",
            "--progress",
            "plain",
            "-t",
            tag,
            *extra,
        )
        assert run.code == 0, run.stderr[-3000:]
        assert "installed set matches the lock" in run.stderr
        tags.append(tag)
    image = docker_client.images.get(tags[0])
    assert image.labels["io.dlenv.lock-digest"] == _lock(locked)["lock-digest"]
    assert image.labels["org.opencontainers.image.base.digest"] == _lock(locked)["base"]["image-id"]
    verify = dlenv("verify", *tags, "--lock", str(locked))
    assert verify.code == 0, verify.stderr
    digests = {line.split()[0] for line in verify.stdout.splitlines()}
    assert len(digests) == 1, verify.stdout  # same content, though the image IDs differ
    assert docker_client.images.get(tags[0]).id != docker_client.images.get(tags[1]).id
    # Beyond the content: the framework layer itself is bit-identical (file times, .pyc and the
    # directories the install touched all pinned), so the two images share it with the base.
    layers = [set(docker_client.images.get(tag).attrs["RootFS"]["Layers"]) for tag in tags]
    assert len(layers[0] & layers[1]) >= 2, "only the base layer is shared"
    for tag in tags:
        docker_client.images.remove(tag, force=True)


def test_tampered_hash_fails_with_exit_4_naming_the_package(
    work: Path, locked: Path, docker_client: Any
) -> None:
    text = locked.read_text()
    start = text.index('name = "jinja2"')
    at = text.index('sha256 = "', start) + len('sha256 = "')
    tampered = work / "tampered.lock"
    tampered.write_text(text[:at] + "0" * 64 + text[at + 64 :])
    run = dlenv(
        "build",
        str(work / "pytorch-cpu.yaml"),
        "--locked",
        "--lock",
        str(tampered),
        "--pip-from-host",
        "--progress",
        "plain",
        "-t",
        "dlenv-test/tampered:1",
    )
    assert run.code == 4, run.stderr[-2000:]
    assert "sha256 does not match the lock" in run.stderr and "jinja2==" in run.stderr
    assert not docker_client.images.list(name="dlenv-test/tampered")


def test_builtin_lock_defaults_to_the_current_directory(tmp_path: Path) -> None:
    import subprocess

    result = subprocess.run(
        [sys.executable, "-m", "builder", "lock", "jax-cpu", "--check"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and str(tmp_path / "jax-cpu.dlenv.lock") in result.stderr
