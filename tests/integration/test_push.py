"""Push by digest to a real registry (Debian's docker-registry on 127.0.0.1), and its failures."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from .conftest import dlenv, free_port


@pytest.fixture(scope="module")
def small_image(docker_client: Any) -> str:
    dockerfile = b"FROM debian:bookworm-slim\nRUN echo dlenv-push-test > /pushed\n"
    image, _ = docker_client.images.build(fileobj=io.BytesIO(dockerfile), tag="dlenv-test/push:1", rm=True)
    return "dlenv-test/push:1"


def test_push_reports_the_digest_and_pulling_it_gives_the_same_image(
    registry: str, small_image: str, docker_client: Any
) -> None:
    ref = f"{registry}/team/push-test:v1"
    run = dlenv("push", small_image, ref, "--json")
    assert run.code == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["reference"] == ref and result["digest"].startswith("sha256:")
    assert result["pinned"] == f"{registry}/team/push-test@{result['digest']}"
    image_id = docker_client.images.get(small_image).id
    assert result["image_id"] == image_id
    docker_client.images.remove(ref, force=True)
    docker_client.images.remove(small_image, force=True)
    pulled = docker_client.images.pull(result["pinned"])
    assert pulled.id == image_id
    docker_client.images.get(image_id).tag("dlenv-test/push", "1")


def test_plain_output_is_repo_at_digest(registry: str, small_image: str) -> None:
    run = dlenv("push", small_image, f"{registry}/team/push-test:plain")
    assert run.code == 0, run.stderr
    assert run.stdout.strip().startswith(f"{registry}/team/push-test@sha256:")


def test_wrong_credentials_exit_6_with_a_login_hint(
    auth_registry: str, small_image: str, docker_client: Any
) -> None:
    ref = f"{auth_registry}/team/push-test:v1"
    run = dlenv("push", small_image, ref)
    assert run.code == 6, run.stderr
    assert "failed" in run.stderr and "docker login" in run.stderr and "Traceback" not in run.stderr
    assert not docker_client.images.list(name=f"{auth_registry}/team/push-test"), "tag left behind"


def test_registry_down_exits_6(small_image: str) -> None:
    run = dlenv("push", small_image, f"127.0.0.1:{free_port()}/team/push-test:v1")
    assert run.code == 6, run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("ref", ["Team/Upper:1", "repo:bad tag", "x/-leading:1", "a//b:1"])
def test_invalid_reference_is_an_input_error(ref: str) -> None:
    run = dlenv("push", "dlenv-test/push:1", ref)
    assert run.code == 2 and "not a valid image reference" in run.stderr


def test_build_push_prints_the_pinned_reference(registry: str, pytorch_cpu: str) -> None:
    ref = f"{registry}/team/pytorch-cpu:ci"
    run = dlenv("build", "pytorch-cpu", "--pip-from-host", "--progress", "plain", "--push", ref)
    assert run.code == 0, run.stderr[-3000:]
    assert run.stdout.strip().splitlines()[-1].startswith(f"{registry}/team/pytorch-cpu@sha256:")
