"""Build context, host pip forwarding, and the engine's event translation (fake engine)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from builder.engine.build_stream import build_events
from builder.engine.docker_engine import DockerEngine
from builder.engine.protocol import BuildContainer, BuildLayer, BuiltImage
from builder.errors import BuildFailed, ProfileError
from builder.events import BuildOutput, BuildStep
from builder.inputs.context import make_context
from builder.inputs.pip_settings import build_inputs, read_host_pip
from builder.inputs.prepare import BuildOptions, prepare_build
from builder.profile.load import load_profile
from builder.resolve.decide import resolve
from tests.fakes import FakeClient, successful_build


def test_context_is_deterministic_and_normalised() -> None:
    files = {"b.txt": b"b", "dir/a.txt": b"a"}
    one, two = make_context(files), make_context(dict(reversed(list(files.items()))))
    assert one == two
    with tarfile.open(fileobj=io.BytesIO(one)) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["dir", "b.txt", "dir/a.txt"]
    assert {m.mtime for m in members} == {0} and {m.uid for m in members} == {0}


def test_host_pip_reads_conf_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_text(
        "[global]\nindex-url = https://mirror.example/simple\n"
        "extra-index-url = file:///opt/local/simple https://extra.example/simple\n"
        "find-links = /opt/wheels\ncert = /etc/ca.pem\n"
    )
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    for var in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_CERT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PIP_FIND_LINKS", "/srv/wheels")
    host = read_host_pip()
    assert host.index_url == "https://mirror.example/simple"
    assert host.extra_index_urls == ("https://extra.example/simple",)
    assert host.find_links == ("/srv/wheels",)  # the environment wins, as in pip
    assert host.cert == "/etc/ca.pem"
    assert any("file:///opt/local/simple" in s for s in host.skipped)


def test_build_inputs_copy_wheelhouse_and_ca(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "demo-1.0-py3-none-any.whl").write_bytes(b"wheel")
    (wheels / "notes.txt").write_text("ignored")
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    inputs = build_inputs(
        index_url="https://user:secret@mirror/simple",
        extra_index_urls=(),
        find_links=("wheels", "https://links.example/"),
        ca_bundle=ca,
        base_dir=tmp_path,
    )
    conf = inputs.files["dlenv/build/pip.conf"].decode()
    assert "find-links = /opt/dlenv-build/wheels https://links.example/" in conf
    assert "cert = /opt/dlenv-build/ca.pem" in conf
    assert "dlenv/build/wheels/demo-1.0-py3-none-any.whl" in inputs.files
    assert "dlenv/build/wheels/notes.txt" not in inputs.files


def test_build_inputs_missing_wheelhouse_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="pip.find_links"):
        build_inputs(
            index_url=None, extra_index_urls=(), find_links=("nope",), ca_bundle=None, base_dir=tmp_path
        )


def test_credentials_stay_out_of_the_dockerfile(tmp_path: Path) -> None:
    spec = resolve(load_profile("pytorch-cpu")[0])
    spec = spec.model_copy(
        update={"pip": spec.pip.model_copy(update={"index_url": "https://user:secret@mirror/simple"})}
    )
    prepared = prepare_build(spec, BuildOptions(), tmp_path)
    assert "secret" not in prepared.dockerfile
    with tarfile.open(fileobj=io.BytesIO(prepared.context)) as tar:
        conf = tar.extractfile("dlenv/build/pip.conf").read().decode()  # type: ignore[union-attr]
    assert "user:secret@mirror" in conf  # only in the build stage's pip.conf


def test_pip_from_host_drops_vendor_indexes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wheels = tmp_path / "w"
    wheels.mkdir()
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    spec = resolve(load_profile("pytorch-cpu")[0])
    prepared = prepare_build(spec, BuildOptions(pip_from_host=True), tmp_path)
    assert "download.pytorch.org" not in prepared.dockerfile
    assert "torch==2.13.0+cpu" in prepared.dockerfile


def test_engine_translates_steps_and_never_tags() -> None:
    client = FakeClient(successful_build())
    events = list(DockerEngine(client).build(b"", base_image="debian"))
    steps = [(e.step, e.total, e.text) for e in events if isinstance(e, BuildStep)]
    assert steps == [(1, 2, "FROM debian"), (2, 2, "RUN true")]
    assert BuildContainer("0123456789ab") in events
    assert BuildLayer("abcdef012345") in events  # step 2's container starts from it
    assert events[-1] == BuiltImage("sha256:feed")
    assert client.api.tags == {}, "tags are applied by the pipeline after success"
    assert "tag" not in client.api.build_kwargs


def test_engine_failure_names_step_and_tail() -> None:
    chunks = [
        {"stream": "Step 3/9 : RUN apt-get install nope\n"},
        {"stream": "E: Unable to locate package nope\n"},
        {"error": "The command '/bin/sh -c apt-get install nope' returned a non-zero code: 100"},
    ]
    with pytest.raises(BuildFailed) as info:
        list(build_events(chunks, "debian"))
    assert "Step 3/9 : RUN apt-get install nope" in str(info.value)
    assert "Unable to locate package nope" in str(info.value)


def test_engine_missing_base_image_says_how_to_fix() -> None:
    chunks = [
        {"stream": "Step 1/9 : FROM nvidia/cuda:13.0.2-base-ubuntu24.04 AS system\n"},
        {
            "error": "Get https://registry-1.docker.io/v2/: dial tcp: lookup "
            "registry-1.docker.io: no such host"
        },
    ]
    with pytest.raises(BuildFailed) as info:
        list(build_events(chunks, "nvidia/cuda:13.0.2-base-ubuntu24.04"))
    assert "cannot be pulled" in str(info.value) and "make-base-image.sh" in str(info.value)


def test_step_containers_are_told_from_users_containers_by_image_id_and_age() -> None:
    client = FakeClient([])
    full = "sha256:abcdef012345" + "0" * 52
    client.api.containers_table = [
        {"Id": "step", "Names": ["/x"], "Image": full, "Created": 100, "Labels": {}},
        {"Id": "old-step", "Names": ["/y"], "Image": full, "Created": 10, "Labels": {}},
        {"Id": "users", "Names": ["/z"], "Image": "debian:bookworm-slim", "Created": 100, "Labels": {}},
    ]
    assert DockerEngine(client).containers_from("abcdef012345", created_since=50) == ["step"]


def test_emulated_steps_platform_warning_is_left_out() -> None:
    warning = (
        " ---> [Warning] The requested image's platform (linux/arm64) does not match the detected "
        "host platform (linux/amd64) and no specific platform was requested"
    )
    chunks = [{"stream": "Step 1/1 : RUN true\n"}, {"stream": warning + "\n"}, *successful_build()[3:]]
    events = list(DockerEngine(FakeClient(chunks)).build(b"", base_image="debian"))
    assert not any(isinstance(e, BuildOutput) and "[Warning]" in e.text for e in events)
