"""`dlenv dev vscode`: the definition's two kinds, its site inputs, its lock, Jupyter and GPUs.

The Dev Containers CLI itself runs these definitions in tests/integration/test_devcontainer_cli.py;
here, quickly and without Docker, what the files say.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from builder.cli.app import app
from builder.cli.common import CliDeps
from builder.dev.vscode import devcontainer_json, jupyter_kernel
from builder.pin import lockfile
from builder.pin.lockfile import Base, LockFile, Resolver, content_digest, inputs_of, platform_of
from builder.profile.load import load_profile, parse_profile
from builder.resolve.decide import resolve
from builder.resolve.uv import Package, Wheel
from builder.spec import BuildSpec
from tests.fakes import FakeEngine, scripted_build
from tests.paths import FIXTURES, REPO

SCHEMA = json.loads((FIXTURES / "devcontainer.schema.json").read_text())
CPU = "name: dev-cpu\naccelerator: cpu\nos: debian12\nframeworks: {pytorch: '2.13'}\n"


@pytest.fixture(autouse=True)
def _no_lock_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A built-in profile's lock is looked for in the current directory: make it this test's."""
    monkeypatch.chdir(tmp_path)


def _spec(extra: str = "") -> BuildSpec:
    return resolve(parse_profile(CPU + extra))


def _vscode(runner: CliRunner, *args: str, engine: FakeEngine | None = None) -> Any:
    obj = CliDeps(lambda timeout: engine) if engine is not None else None
    return runner.invoke(app, ["dev", "vscode", *args], obj=obj)


def _final_stage(dockerfile: str) -> str:
    """The Dockerfile from its last FROM on: what the image is made of."""
    return dockerfile[[m.start() for m in re.finditer(r"^FROM ", dockerfile, re.M)][-1] :]


@pytest.mark.parametrize(
    ("packages", "extension", "port"),
    [
        ("", False, False),
        ("packages: [pandas]\n", False, False),
        ("packages: [ipykernel]\n", True, False),
        ("packages: ['jupyterlab>=4']\n", True, True),
        ("packages: [Notebook]\n", True, True),
    ],
)
def test_jupyter_only_where_the_image_has_it(packages: str, extension: bool, port: bool) -> None:
    spec = _spec(packages)
    data = json.loads(devcontainer_json(spec))
    jsonschema.Draft202012Validator(SCHEMA).validate(data)
    assert jupyter_kernel(spec) is extension
    assert ("ms-toolsai.jupyter" in data["customizations"]["vscode"]["extensions"]) is extension
    assert ("forwardPorts" in data) is port
    if port:
        assert data["forwardPorts"] == [8888]


def test_a_built_in_profile_forwards_no_jupyter_port(runner: CliRunner, tmp_path: Path) -> None:
    result = _vscode(runner, "pytorch-cpu", "--dir", str(tmp_path / "d"))
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "d" / "devcontainer.json").read_text())
    assert "forwardPorts" not in data
    assert data["customizations"]["vscode"]["extensions"] == ["ms-python.python"]


def test_site_inputs_reach_the_build_stage_only(runner: CliRunner, tmp_path: Path) -> None:
    ca = tmp_path / "site-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nU0lURS1DQQ==\n-----END CERTIFICATE-----\n")
    target = tmp_path / ".devcontainer"
    result = _vscode(runner, "pytorch-cpu", "--ca-bundle", str(ca), "--dir", str(target))
    assert result.exit_code == 0, result.output
    assert (target / "dlenv" / "build" / "ca.pem").read_bytes() == ca.read_bytes()
    assert "cert = /opt/dlenv-build/ca.pem" in (target / "dlenv" / "build" / "pip.conf").read_text()
    dockerfile = (target / "Dockerfile").read_text()
    assert "COPY dlenv/build/ /opt/dlenv-build/" in dockerfile
    final = _final_stage(dockerfile)
    assert final.startswith("FROM system\n")
    assert "dlenv-build" not in final and "ca.pem" not in final and "ca-certificates" not in final
    assert "COPY --from=frameworks /opt/venv /opt/venv" in final
    assert "only the definition's build stage sees them" in result.output
    assert (target / "dlenv" / "smoke" / "dlenv-smoke").stat().st_mode & 0o111


def test_credentials_in_an_index_url_are_refused(runner: CliRunner, tmp_path: Path) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text(CPU + "pip: {index_url: 'https://me:s3cret@pypi.example.com/simple'}\n")
    target = tmp_path / "d"
    result = _vscode(runner, str(profile), "--dir", str(target))
    assert result.exit_code == 2, result.output
    assert "credentials" in result.output and "--image" in result.output
    assert "Traceback" not in result.output and not target.exists()


def test_build_mode_options_that_need_image_mode(runner: CliRunner, tmp_path: Path) -> None:
    for option in (["--uid", "4242"], ["--inputs", "served"]):
        result = _vscode(runner, "pytorch-cpu", *option, "--dir", str(tmp_path / "d"))
        assert result.exit_code == 2 and "go with --image" in result.output


def _package(name: str, version: str, sha: str) -> Package:
    wheel = Wheel(name=f"{name}-{version}-py3-none-any.whl", url=f"https://x/{name}.whl", sha256=sha)
    return Package(name=name, version=version, wheels=(wheel,))


def _write_lock(spec: BuildSpec, path: Path) -> LockFile:
    platform = platform_of(spec)
    base = Base(ref=spec.base_image, image_id="sha256:" + "c" * 64)
    frameworks = (_package("torch", "2.13.0+cpu", "a" * 64), _package("numpy", "2.3.4", "b" * 64))
    lock = LockFile(
        lock_version=1,
        created_by="dlenv test",
        created="2026-11-27T23:12:39Z",
        profile=spec.profile,
        spec_digest=spec.digest,
        lock_digest=content_digest(base, frameworks, (), platform.uv_platform),
        inputs=inputs_of(spec, platform),
        resolver=Resolver(
            tool="uv", index_strategy="unsafe-best-match", sources=("https://pypi.org/simple",)
        ),
        base=base,
        frameworks=frameworks,
    )
    lockfile.write(lock, path)
    return lock


def test_a_present_lock_is_used(runner: CliRunner, tmp_path: Path) -> None:
    _write_lock(resolve(load_profile("pytorch-cpu")[0]), tmp_path / "pytorch-cpu.dlenv.lock")
    target = tmp_path / "d"
    result = _vscode(runner, "pytorch-cpu", "--dir", str(target))
    assert result.exit_code == 0, result.output
    dockerfile = (target / "Dockerfile").read_text()
    assert "--require-hashes" in dockerfile and "-r /opt/dlenv-lock/frameworks.txt" in dockerfile
    pins = (target / "dlenv" / "lock" / "frameworks.txt").read_text()
    assert "torch==2.13.0+cpu --hash=sha256:" + "a" * 64 in pins
    assert (target / "dlenv" / "lock" / "check_installed.py").is_file()
    unlocked = _vscode(runner, "pytorch-cpu", "--unlocked", "--dir", str(tmp_path / "u"))
    assert unlocked.exit_code == 0, unlocked.output
    assert "--require-hashes" not in (tmp_path / "u" / "Dockerfile").read_text()


def test_a_stale_lock_stops_it(runner: CliRunner, tmp_path: Path) -> None:
    profile = tmp_path / "dev-cpu.yaml"
    profile.write_text(CPU)
    _write_lock(_spec("apt: [git]\n"), tmp_path / "dev-cpu.dlenv.lock")
    result = _vscode(runner, str(profile), "--dir", str(tmp_path / "d"))
    assert result.exit_code == 1, result.output
    assert "stale" in result.output and "--unlocked" in result.output
    assert not (tmp_path / "d").exists()


def test_locked_without_a_lock_is_a_failed_check(runner: CliRunner, tmp_path: Path) -> None:
    result = _vscode(runner, "pytorch-cpu", "--locked", "--dir", str(tmp_path / "d"))
    assert result.exit_code == 1 and "no lock file" in result.output
    both = _vscode(runner, "pytorch-cpu", "--unlocked", "--lock", "x.lock", "--dir", str(tmp_path / "d"))
    assert both.exit_code == 2 and "--unlocked" in both.output


def test_image_mode_names_the_dev_image_by_id(runner: CliRunner, tmp_path: Path) -> None:
    engine = FakeEngine(scripted_build("sha256:" + "e" * 64))
    target = tmp_path / "d"
    args = ["pytorch-cpu", "--image", "--uid", "4242", "--gid", "4343", "--dir", str(target)]
    result = _vscode(runner, *args, engine=engine)
    assert result.exit_code == 0, result.output
    assert [p.name for p in target.iterdir()] == ["devcontainer.json"]
    data = json.loads((target / "devcontainer.json").read_text())
    jsonschema.Draft202012Validator(SCHEMA).validate(data)
    assert data["image"] == "sha256:" + "e" * 64 and "build" not in data
    assert data["updateRemoteUserUID"] is False  # the dev image has the UID already
    (tag,) = engine.tags
    assert re.fullmatch(r"dlenv/pytorch-cpu:dev-[0-9a-f]{12}", tag)
    assert len(engine.build_calls) == 1
    again = _vscode(runner, *args, engine=engine)  # the dev image exists: reused, not rebuilt
    assert again.exit_code == 0 and "reusing" in again.output
    assert len(engine.build_calls) == 1


def test_image_mode_with_a_lock_has_its_own_tag(runner: CliRunner, tmp_path: Path) -> None:
    lock = _write_lock(resolve(load_profile("pytorch-cpu")[0]), tmp_path / "pytorch-cpu.dlenv.lock")
    engine = FakeEngine(scripted_build("sha256:" + "f" * 64))
    engine.add_image(lock.base.image_id, tags=(lock.base.ref,))
    result = _vscode(runner, "pytorch-cpu", "--image", "--dir", str(tmp_path / "d"), engine=engine)
    assert result.exit_code == 0, result.output
    (tag,) = (t for t in engine.tags if t.startswith("dlenv/pytorch-cpu:"))
    assert tag.endswith("-lock-" + lock.lock_digest.removeprefix("sha256:")[:12])


def test_readme_names_the_consumers_and_their_pinned_versions() -> None:
    """The versions the integration tests run are the ones the README names."""
    readme = (REPO / "README.md").read_text()
    setup = (REPO / "scripts" / "setup-host.sh").read_text()
    cli = re.search(r"^DEVCONTAINERS_CLI=([0-9.]+)$", setup, re.M)
    uv = re.search(r"^uv==([0-9.]+)$", (REPO / "requirements" / "dev.txt").read_text(), re.M)
    assert cli and uv
    assert f"@devcontainers/cli` {cli.group(1)}" in readme
    assert f"uv {uv.group(1)}" in readme
