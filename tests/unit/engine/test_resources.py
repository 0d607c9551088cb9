"""Cleanup bookkeeping: what a run created is removed, what it handed over stays, and an engine
that went away is reported with the commands that finish the job (fake engine)."""

from __future__ import annotations

from typing import Any

import pytest

from builder.engine.protocol import ContainerInfo
from builder.engine.resources import Resources
from builder.errors import EngineUnavailable, Interrupted
from tests.fakes import FakeEngine


def _engine_with(containers: set[str], tags: set[str]) -> FakeEngine:
    engine = FakeEngine()
    for name in containers:
        engine.containers_by_name[name] = ContainerInfo(id=name, name=name, status="running")
    for ref in tags:
        engine.tags[ref] = "sha256:feed"
    return engine


def test_cleanup_removes_what_exists_and_keeps_what_was_handed_over() -> None:
    client = _engine_with({"0123456789abcdef0123"}, {"dlenv/x:latest"})
    resources = Resources(connect=lambda timeout: client)
    name = resources.container_name("smoke")
    resources.container("0123456789abcdef0123")  # a build step's container, by ID
    resources.container("never-created")
    resources.tag("dlenv/x:latest")
    resources.tag("dlenv/kept:latest")
    resources.keep("dlenv/kept:latest")
    client.containers_by_name[name] = ContainerInfo(id="feed" * 16, name=name, status="running")
    report = resources.cleanup()
    assert client.removed == [name, "0123456789abcdef0123", "dlenv/x:latest"]
    assert report.removed == [f"container {name}", "container 0123456789ab", "tag dlenv/x:latest"]
    assert report.kept == ["dlenv/kept:latest"] and not report.failed
    assert "kept dlenv/kept:latest (finished before the interrupt)" in report.summary()


def test_an_engine_that_went_away_is_reported_with_the_fix() -> None:
    def gone(timeout: int) -> Any:
        raise EngineUnavailable("The Docker engine at unix:///run/docker.sock cannot be reached: refused.")

    resources = Resources(connect=gone)
    resources.container("0123456789abcdef0123")
    resources.tag("dlenv/x:latest")
    summary = resources.cleanup().summary()
    assert "could not be reached" in summary
    assert "docker rm -f 0123456789ab" in summary and "docker rmi dlenv/x:latest" in summary
    assert "unix" not in summary.split("back:")[1]  # no mangled engine address in the fix


def test_interrupt_carries_the_report_and_nothing_created_says_so() -> None:
    resources = Resources(connect=lambda timeout: FakeEngine())
    with pytest.raises(Interrupted) as info, resources.cleaned_up():
        raise Interrupted("SIGINT")
    assert info.value.cleanup is not None
    assert info.value.cleanup.summary() == "nothing had been created yet"


def test_a_container_the_engine_cannot_start_is_exit_3_with_what_to_do() -> None:
    """dev up's container start fails inside the engine: a clear error, never a traceback."""
    from docker.errors import APIError

    from builder.engine.docker_engine import DockerEngine
    from builder.engine.protocol import RunRequest
    from builder.errors import ContainerStartFailed

    class Containers:
        def run(self, *args: object, **kwargs: object) -> None:
            raise APIError(
                "500 Server Error",
                explanation="failed to create endpoint x on network bridge: adding interface veth1 to bridge "
                "docker0 failed: could not find bridge docker0: route ip+net: no such network interface",
            )

    class Client:
        containers = Containers()

    engine = DockerEngine(Client())
    with pytest.raises(ContainerStartFailed) as caught:
        engine.run(RunRequest(image="img", command=("sleep",), name="dlenv-dev-x", labels={}))
    assert caught.value.exit_code == 3
    assert "could not start container dlenv-dev-x" in caught.value.message
    assert caught.value.hint is not None and "restart dockerd" in caught.value.hint


def test_an_interrupted_build_step_container_is_found_by_its_parent_image() -> None:
    # The engine creates a step's container before the stream says "Running in <id>".
    client = FakeEngine()
    client.containers_by_name["step"] = ContainerInfo(id="c0ffee", name="step", status="created", image="abc")
    client.containers_by_name["users"] = ContainerInfo(
        id="f00d", name="users", status="running", image="debian:bookworm-slim"
    )
    resources = Resources(connect=lambda timeout: client)
    resources.build_parent("abc", since=0.0)
    assert resources.cleanup().removed == ["container c0ffee"]
    assert "users" in client.containers_by_name
    resources.build_parent("abc", since=0.0)
    resources.build_done()  # a finished build's steps are the builder's to remove
    client.containers_by_name["step2"] = ContainerInfo(id="beef", name="step2", status="created", image="abc")
    assert resources.cleanup().removed == []
