"""Re-locking: a lock that pins the same things is the same file, byte for byte (no weekly
pull request when nothing changed); lock files get the mode the umask allows; a stale or missing
lock names the command that re-makes it, with the profile as the user gave it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from builder import paths
from builder.cli.app import app
from builder.errors import CheckFailed
from builder.pin import lock as lock_module
from builder.pin import lockfile
from builder.pin.lock import LockOutcome, make_lock
from builder.pin.lockfile import LockFile, lock_target, same_pins
from builder.profile.load import load_profile
from builder.resolve.decide import resolve
from builder.resolve.uv import Package, Resolution, Sources, Wheel
from builder.spec import BuildSpec


def _package(name: str, version: str, sha: str = "a" * 64, url: str = "") -> Package:
    wheel = Wheel(name=f"{name}-{version}-py3-none-any.whl", url=url or f"https://x/{name}.whl", sha256=sha)
    return Package(name=name, version=version, wheels=(wheel,))


@pytest.fixture
def spec() -> BuildSpec:
    return resolve(load_profile("pytorch-cpu")[0])


class FakeUv:
    """uv's answers, one per resolve call (what a real uv run would return), and what it was asked."""

    def __init__(self) -> None:
        self.answers: list[tuple[str, tuple[Package, ...]]] = []
        self.asked: list[dict[str, Any]] = []

    def answer(self, tool: str, *packages: Package) -> None:
        self.answers.append((tool, packages))

    def __call__(
        self, requirements: Sequence[str], platform: object, sources: object, **kw: Any
    ) -> Resolution:
        self.asked.append(kw)
        tool, packages = self.answers.pop(0)
        return Resolution(packages=packages, tool=tool, seconds=0.1)


@pytest.fixture
def uv(monkeypatch: pytest.MonkeyPatch) -> FakeUv:
    fake = FakeUv()
    monkeypatch.setattr(lock_module, "resolve", fake)
    return fake


def _lock(spec: BuildSpec, previous: LockFile | None = None, **kw: Any) -> LockOutcome:
    return make_lock(spec, Sources(None, (), (), None, ()), previous=previous, engine=None, **kw)


def test_a_relock_that_pins_the_same_things_keeps_the_lock_as_it_was(
    spec: BuildSpec, uv: FakeUv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uv.answer("uv 0.13.9", _package("torch", "2.13.0+cpu"), _package("numpy", "2.3.4"))
    first = _lock(spec).lock
    path = tmp_path / "pytorch-cpu.dlenv.lock"
    lockfile.write(first, path)
    before, stat = path.read_bytes(), path.stat()
    # A week later, another uv release finds the same pins: nothing to propose.
    monkeypatch.setattr(lockfile, "now_utc", lambda: "2030-01-01T00:00:00Z")
    monkeypatch.setattr(lock_module, "now_utc", lambda: "2030-01-01T00:00:00Z")
    uv.answer("uv 0.14.0", _package("torch", "2.13.0+cpu"), _package("numpy", "2.3.4"))
    again = _lock(spec, previous=lockfile.read(path), upgrade=True)
    assert again.unchanged and again.lock.created == first.created
    lockfile.write(again.lock, path)
    assert path.read_bytes() == before
    assert path.stat().st_mtime_ns == stat.st_mtime_ns and path.stat().st_ino == stat.st_ino
    # A new numpy is a new lock, with a new date.
    uv.answer("uv 0.14.0", _package("torch", "2.13.0+cpu"), _package("numpy", "2.3.5", "b" * 64))
    newer = _lock(spec, previous=lockfile.read(path), upgrade=True)
    assert not newer.unchanged and newer.lock.created == "2030-01-01T00:00:00Z"
    lockfile.write(newer.lock, path)
    assert path.read_bytes() != before and lockfile.read(path) == newer.lock


def test_upgrading_everything_passes_no_preferences_but_an_upgrade_of_one_package_does(
    spec: BuildSpec, uv: FakeUv
) -> None:
    uv.answer("uv 0.13.9", _package("torch", "2.13.0+cpu"))
    previous = _lock(spec).lock
    for kw in ({"upgrade": True}, {"upgrade": False, "upgrade_packages": ("numpy",)}, {}):
        uv.answer("uv 0.13.9", _package("torch", "2.13.0+cpu"))
        assert _lock(spec, previous=previous, **kw).unchanged
    assert [len(call["preferences"]) for call in uv.asked] == [0, 0, 1, 1]


def test_same_pins_looks_at_what_is_installed_and_from_what_it_was_made(spec: BuildSpec, uv: FakeUv) -> None:
    uv.answer("uv 0.13.9", _package("six", "1.17.0"))
    one = _lock(spec).lock
    later = one.model_copy(update={"created": "2031-01-01T00:00:00Z", "created_by": "dlenv 0.2.9"})
    assert same_pins(one, later)
    assert not same_pins(one, one.model_copy(update={"frameworks": (_package("six", "1.17.0", "c" * 64),)}))
    moved = _package("six", "1.17.0", url="https://mirror.example/six.whl")
    assert not same_pins(one, one.model_copy(update={"frameworks": (moved,)}))  # the URL is written
    assert not same_pins(one, one.model_copy(update={"spec_digest": "0" * 64}))


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_a_new_lock_gets_the_mode_the_umask_allows(
    spec: BuildSpec, uv: FakeUv, tmp_path: Path, umask: int, mode: int
) -> None:
    uv.answer("uv 0.13.9", _package("six", "1.17.0"))
    path = tmp_path / "x.dlenv.lock"
    old = os.umask(umask)
    try:
        lockfile.write(_lock(spec).lock, path)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == mode


def test_a_replaced_lock_keeps_its_mode(spec: BuildSpec, uv: FakeUv, tmp_path: Path) -> None:
    uv.answer("uv 0.13.9", _package("six", "1.17.0"))
    uv.answer("uv 0.13.9", _package("six", "1.16.0"))
    path = tmp_path / "x.dlenv.lock"
    lockfile.write(_lock(spec).lock, path)
    path.chmod(0o664)
    lockfile.write(_lock(spec).lock, path)
    assert path.stat().st_mode & 0o777 == 0o664 and "1.16.0" in path.read_text()


def test_the_hint_names_the_profile_as_given(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "envs").mkdir()
    text = (paths.builtin_profiles_dir() / "pytorch-cpu.yaml").read_text()  # name: pytorch-cpu
    (tmp_path / "envs" / "mytorch.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    missing = runner.invoke(app, ["lock", "envs/mytorch.yaml", "--check"])
    assert missing.exit_code == 1
    assert "Create it: dlenv lock envs/mytorch.yaml" in missing.output
    assert "dlenv lock pytorch-cpu" not in missing.output
    other = runner.invoke(app, ["lock", "envs/mytorch.yaml", "--check", "--lock", "ci/my lock.toml"])
    assert "Create it: dlenv lock envs/mytorch.yaml --lock 'ci/my lock.toml'" in other.output
    built = runner.invoke(app, ["build", "envs/mytorch.yaml", "--locked"])
    assert built.exit_code == 1 and "Create it: dlenv lock envs/mytorch.yaml" in built.output


def test_a_stale_lock_names_the_command_too(tmp_path: Path, spec: BuildSpec, uv: FakeUv) -> None:
    profile = tmp_path / "mine.yaml"
    profile.write_text((paths.builtin_profiles_dir() / "pytorch-cpu.yaml").read_text() + "packages: [six]\n")
    target = lock_target(str(profile), None)
    uv.answer("uv 0.13.9", _package("torch", "2.13.0+cpu"))
    lockfile.write(_lock(spec).lock, target.path)  # made before `packages` was added
    with pytest.raises(CheckFailed) as info:
        lockfile.fresh_lock(target.spec, target.path, target.lock_command)
    assert info.value.hint == f"Re-lock (keeps every pin it can): dlenv lock {profile}"
