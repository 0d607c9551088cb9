"""Build layouts: served inputs (bundles, the input server, the choice) and uv as installer."""

from __future__ import annotations

import io
import platform
import shutil
import socket
import subprocess
import sys
import tarfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from builder.engine.build_stream import build_events
from builder.engine.protocol import EngineInfo
from builder.errors import BuildFailed, UsageError
from builder.inputs.installer import choose_installer
from builder.inputs.prepare import BuildOptions, has_credentials, prepare_build
from builder.inputs.server import InputServer, choose_delivery
from builder.names import INPUTS_HOST
from builder.profile.load import load_profile
from builder.render.dockerfile import render_dockerfile
from builder.render.layout import INPUTS_PORT, Layout, make_bundle
from builder.resolve.decide import resolve
from builder.spec import BuildSpec

HADOLINT = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
HOST_ARCH = {"amd64": "x86_64", "arm64": "aarch64"}.get(
    platform.machine().lower(), platform.machine().lower()
)
LOCAL = EngineInfo(
    address="unix:///var/run/docker.sock",
    name=socket.gethostname(),
    os_type="linux",
    arch=HOST_ARCH,
    rootless=False,
)


def _spec(packages: tuple[str, ...] = ("six",)) -> BuildSpec:
    profile = load_profile("pytorch-cpu")[0]
    return resolve(profile.model_copy(update={"packages": packages}))


def _members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: m for m in tar.getmembers()}


def _fake_uv(tmp_path: Path) -> Path:
    uv = tmp_path / "uv"
    uv.write_bytes(b"\x7fELF fake uv")
    return uv


def test_bundle_is_files_only_and_named_by_content() -> None:
    one = make_bundle("frameworks", {"/opt/dlenv-build/uv": b"x", "/opt/dlenv-build/a": b"a"}, frozenset())
    two = make_bundle("frameworks", {"/opt/dlenv-build/a": b"a", "/opt/dlenv-build/uv": b"x"}, frozenset())
    other = make_bundle("frameworks", {"/opt/dlenv-build/a": b"b"}, frozenset())
    assert one.data == two.data and one.name == two.name != other.name
    assert one.name.startswith("frameworks-") and one.name.endswith(".tar")
    members = _members(one.data)
    # Files only: unpacking below / must never rewrite /opt's own metadata.
    assert set(members) == {"opt/dlenv-build/a", "opt/dlenv-build/uv"}
    assert all(m.isfile() and m.mtime == 0 for m in members.values())


def test_served_context_carries_no_inputs_and_bundles_split_by_step(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    prepared = prepare_build(
        _spec(),
        BuildOptions(ca_bundle=ca),
        tmp_path,
        layout=Layout("served", "uv"),
        uv_binary=_fake_uv(tmp_path),
    )
    assert not [name for name in _members(prepared.context) if name.startswith("dlenv/build")]
    frameworks, extras = prepared.bundles
    assert set(_members(frameworks.data)) == {
        "opt/dlenv-build/ca.pem",
        "opt/dlenv-build/pip.conf",
        "opt/dlenv-build/uv",
        "opt/dlenv-build/uv.toml",
    }
    assert _members(frameworks.data)["opt/dlenv-build/uv"].mode == 0o755
    assert "opt/dlenv-build/uv" not in _members(extras.data)  # extras install with pip
    for bundle in prepared.bundles:
        assert f"http://{INPUTS_HOST}:{INPUTS_PORT}/{bundle.name}" in prepared.dockerfile
    assert "SSL_CERT_FILE=/opt/dlenv-build/ca.pem /opt/dlenv-build/uv pip install" in prepared.dockerfile


def test_changing_extras_keeps_the_framework_step_identical(tmp_path: Path) -> None:
    """The framework step's text (its cache key) must not depend on the extras."""

    def framework_step(packages: tuple[str, ...]) -> str:
        prepared = prepare_build(
            _spec(packages),
            BuildOptions(),
            tmp_path,
            layout=Layout("served", "uv"),
            uv_binary=_fake_uv(tmp_path),
        )
        text = prepared.dockerfile
        return text[text.index("RUN python3 -c") : text.index("# ---- extras")]

    assert framework_step(("six",)) == framework_step(("six", "idna"))


def test_uv_settings_mirror_pip_sources(tmp_path: Path) -> None:
    spec = _spec()
    spec = spec.model_copy(
        update={
            "pip": spec.pip.model_copy(
                update={
                    "index_url": "https://mirror.example/simple",
                    "find_links": ("https://links.example/",),
                }
            )
        }
    )
    prepared = prepare_build(
        spec, BuildOptions(), tmp_path, layout=Layout("staged", "uv"), uv_binary=_fake_uv(tmp_path)
    )
    with tarfile.open(fileobj=io.BytesIO(prepared.context)) as tar:
        settings = tar.extractfile("dlenv/build/uv.toml").read().decode()  # type: ignore[union-attr]
    assert 'index-url = "https://mirror.example/simple"' in settings
    assert (
        'find-links = [\n    "https://links.example/",\n]' in settings
        or '"https://links.example/"' in settings
    )
    assert 'index-strategy = "unsafe-best-match"' in settings and "no-cache = true" in settings
    assert "COPY dlenv/build/ /opt/dlenv-build/" in prepared.dockerfile  # staged: a build stage


def test_uv_layout_without_a_binary_is_a_programming_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        prepare_build(_spec(), BuildOptions(), tmp_path, layout=Layout("served", "uv"))


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("https://user:pw@mirror.example/simple", True),
        ("https://token@mirror.example/simple", True),
        ("https://mirror.example/simple/pkg@1", False),
        ("https://mirror.example/simple", False),
    ],
)
def test_credentials_are_detected_in_any_source(url: str, secret: bool) -> None:
    spec = _spec()
    for field in ("index_url", "extra_index_urls", "find_links"):
        value: object = url if field == "index_url" else (url,)
        pip = spec.pip.model_copy(update={field: value})
        assert has_credentials(spec.model_copy(update={"pip": pip})) is secret


def test_delivery_choice() -> None:
    assert choose_delivery("auto", LOCAL, credentials=False)[0] == "served"
    assert choose_delivery("staged", LOCAL, credentials=False)[0] == "staged"
    remote = EngineInfo("tcp://x:2376", "build-server", "linux", "x86_64", False)
    rootless = EngineInfo("unix:///var/run/docker.sock", socket.gethostname(), "linux", "x86_64", True)
    for facts, credentials, why in [
        (remote, False, "another host"),
        (rootless, False, "rootless"),
        (LOCAL, True, "credentials"),
    ]:
        delivery, reason = choose_delivery("auto", facts, credentials)
        assert delivery == "staged" and why in reason
        with pytest.raises(UsageError, match=why):
            choose_delivery("served", facts, credentials)


def test_installer_is_uv_only_for_the_engines_platform() -> None:
    installer, binary = choose_installer(LOCAL)
    if sys.platform == "linux":  # uv is a dependency: its binary runs in this host's engine
        assert installer == "uv" and binary is not None and binary.is_file()
    else:
        assert (installer, binary) == ("pip", None)
    other_arch = "aarch64" if HOST_ARCH != "aarch64" else "x86_64"
    assert choose_installer(EngineInfo("tcp://x:2376", "x", "linux", other_arch, False)) == ("pip", None)
    assert choose_installer(EngineInfo("tcp://x:2376", "x", "windows", HOST_ARCH, False)) == ("pip", None)


def test_input_server_serves_its_bundles_only() -> None:
    bundle = make_bundle("frameworks", {"/opt/dlenv-build/pip.conf": b"[global]\n"}, frozenset())
    with InputServer() as server:
        server.serve([bundle])
        assert server.address.startswith("127.") and server.address != "127.0.0.1"
        assert server.extra_hosts == {INPUTS_HOST: server.address}
        base = f"http://{server.address}:{server.port}"
        with urllib.request.urlopen(f"{base}/{bundle.name}", timeout=5) as response:
            assert response.read() == bundle.data
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{base}/../etc/passwd", timeout=5)
        assert missing.value.code == 404
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{base}/{bundle.name}", timeout=2)  # stopped


def test_input_server_takes_the_fixed_port_on_another_address_when_one_is_busy() -> None:
    with InputServer() as first, InputServer() as second:
        assert first.port == second.port == INPUTS_PORT
        assert first.address != second.address


@pytest.mark.parametrize("locked", [False, True])
@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_served_dockerfiles_pass_hadolint(tmp_path: Path, locked: bool, installer: str) -> None:
    from builder.render.dockerfile import LockedBuild

    lock = LockedBuild("debian@sha256:" + "a" * 64, "sha256:" + "a" * 64, "sha256:" + "b" * 64, 1700000000)
    layout = Layout("served", installer, bundles=(("frameworks", "f.tar"), ("extras", "e.tar")))  # type: ignore[arg-type]
    path = tmp_path / "Dockerfile"
    path.write_text(render_dockerfile(_spec(), lock if locked else None, layout))
    result = subprocess.run([HADOLINT, "--no-color", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_uv_hash_mismatch_is_reported_per_package() -> None:
    chunks = [
        {"stream": "Step 5/14 : RUN python3 -c 'import sys' http://dlenv-inputs:8700/f.tar\n"},
        {"stream": "  × Failed to download `six==1.17.0`\n"},
        {"stream": "  ╰─▶ Hash mismatch for `six==1.17.0`\n"},
        {"stream": "      Expected:\n"},
        {"stream": "        sha256:" + "a" * 64 + "\n"},
        {"stream": "      Computed:\n"},
        {"stream": "        sha256:" + "b" * 64 + "\n"},
        {"error": "The command returned a non-zero code: 1"},
    ]
    with pytest.raises(BuildFailed) as info:
        list(build_events(chunks, ""))
    assert "six==1.17.0 (lock aaaaaaaaaaaa..., downloaded bbbbbbbbbbbb...)" in str(info.value)


def test_unreachable_input_server_suggests_staged_inputs() -> None:
    chunks = [
        {"stream": "Step 5/14 : RUN python3 -c 'import sys' http://dlenv-inputs:8700/f.tar\n"},
        {"stream": "urllib.error.URLError: <urlopen error [Errno 111] Connection refused>\n"},
        {"error": "The command returned a non-zero code: 1"},
    ]
    with pytest.raises(BuildFailed) as info:
        list(build_events(chunks, ""))
    assert "could not fetch its inputs" in str(info.value) and "--inputs staged" in str(info.value.hint)


def _wheelhouse(tmp_path: Path, content: bytes = b"wheel") -> Path:
    wheels = tmp_path / "wheels"
    wheels.mkdir(exist_ok=True)
    (wheels / "demo-1.0-py3-none-any.whl").write_bytes(content)
    return wheels


def test_served_wheelhouse_is_a_find_links_page_and_its_digest_keys_the_step(tmp_path: Path) -> None:
    """Wheels are served over HTTP (uv would stamp locally installed ones with the time)."""

    def prepared(content: bytes) -> Any:
        spec = _spec()
        pip = spec.pip.model_copy(update={"find_links": (str(_wheelhouse(tmp_path, content)),)})
        return prepare_build(
            spec.model_copy(update={"pip": pip}),
            BuildOptions(),
            tmp_path,
            layout=Layout("served", "uv"),
            uv_binary=_fake_uv(tmp_path),
        )

    one = prepared(b"wheel")
    assert one.wheels == {"demo-1.0-py3-none-any.whl": b"wheel"}
    members = _members(one.bundles[0].data)
    assert not [m for m in members if "/wheels/" in m] and "opt/dlenv-build/wheels.sha256" in members
    with tarfile.open(fileobj=io.BytesIO(one.bundles[0].data)) as tar:
        conf = tar.extractfile("opt/dlenv-build/pip.conf").read().decode()  # type: ignore[union-attr]
    assert f"find-links = http://{INPUTS_HOST}:{INPUTS_PORT}/wheels/" in conf
    two = prepared(b"another wheel")
    assert one.bundles[0].name != two.bundles[0].name  # a new wheel: a new cache key


def test_staged_wheelhouse_installs_with_pip(tmp_path: Path) -> None:
    spec = _spec()
    pip = spec.pip.model_copy(update={"find_links": (str(_wheelhouse(tmp_path)),)})
    prepared = prepare_build(
        spec.model_copy(update={"pip": pip}),
        BuildOptions(),
        tmp_path,
        layout=Layout("staged", "uv"),
        uv_binary=_fake_uv(tmp_path),
    )
    assert "/opt/venv/bin/pip install --no-cache-dir" in prepared.dockerfile
    assert "uv pip install" not in prepared.dockerfile
    assert "dlenv/build/uv" not in _members(prepared.context)
    assert any("pip installs the frameworks" in note for note in prepared.notes)


def test_input_server_serves_the_wheelhouse_as_a_find_links_page() -> None:
    with InputServer() as server:
        server.serve([], {"demo-1.0-py3-none-any.whl": b"wheel"})
        base = f"http://{server.address}:{server.port}/wheels/"
        with urllib.request.urlopen(base, timeout=5) as response:
            assert '<a href="demo-1.0-py3-none-any.whl">' in response.read().decode()
        with urllib.request.urlopen(base + "demo-1.0-py3-none-any.whl", timeout=5) as response:
            assert response.read() == b"wheel"
        head = urllib.request.Request(base + "demo-1.0-py3-none-any.whl", method="HEAD")  # uv asks first
        with urllib.request.urlopen(head, timeout=5) as response:
            assert response.headers["Content-Length"] == "5" and response.read() == b""


def test_an_emulated_image_gets_a_static_uv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """For an image of another CPU (QEMU), only a statically linked uv of the host's runs in it."""
    from builder.inputs import installer

    static = tmp_path / "uv"
    static.write_bytes(b"\x7fELF")
    monkeypatch.setattr(installer, "static_uv", lambda: static)
    foreign = "linux/arm64" if HOST_ARCH == "x86_64" else "linux/amd64"
    if sys.platform == "linux":
        assert installer.choose_installer(LOCAL, foreign) == ("uv", static)
    monkeypatch.setattr(installer, "static_uv", lambda: None)  # not to be had: pip, only slower
    assert installer.choose_installer(LOCAL, foreign) == ("pip", None)


def test_the_static_uv_is_cached_per_version(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from importlib.metadata import version

    from builder.inputs import installer

    monkeypatch.setenv("DLENV_CACHE_DIR", str(tmp_path))
    cached = tmp_path / "uv-static" / f"{version('uv')}-{HOST_ARCH}" / "uv"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"static")
    assert installer.static_uv() == cached  # no download when it is there
