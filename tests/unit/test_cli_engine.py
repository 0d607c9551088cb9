"""build/smoke through the CLI against a fake engine: exit codes 3/4/5, --smoke, progress modes.

The integration tests run the same commands against the real engine; these pin down the CLI's
mapping from what the engine says to what the user sees, quickly and without Docker.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from builder import pipeline
from builder.cli import app
from builder.engine import docker_engine as engine
from builder.errors import EngineUnavailable
from builder.smoke.run import SmokeReport, SmokeResult
from tests.fakes import FakeClient, successful_build

GOOD = SmokeResult(
    ok=True,
    framework="pytorch",
    framework_version="2.13.0+cpu",
    device="cpu",
    device_name="cpu",
    model="lstm",
    steps=200,
    loss_first=0.4,
    loss_last=0.01,
    samples_per_s=1000.0,
    seconds=1.0,
)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeClient:
    client = FakeClient(successful_build("feedbeef"), image_id="sha256:feedbeef")
    monkeypatch.setattr(engine, "connect", lambda timeout=60: client)
    return client


def _smoke_returns(monkeypatch: pytest.MonkeyPatch, *results: SmokeResult, code: int = 0) -> list[Any]:
    calls: list[Any] = []

    def run_smoke(image: str, **kwargs: Any) -> SmokeReport:
        calls.append((image, kwargs))
        return SmokeReport(image, code, results, "stderr tail")

    monkeypatch.setattr(pipeline, "run_smoke", run_smoke)
    return calls


def test_engine_unreachable_is_exit_3(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(timeout: int = 60) -> Any:
        raise EngineUnavailable("The Docker engine at unix:///nope cannot be reached: no socket.")

    monkeypatch.setattr(engine, "connect", unreachable)
    result = runner.invoke(app, ["build", "pytorch-cpu"])
    assert result.exit_code == 3 and "cannot be reached" in result.output


def test_build_tags_after_success_and_prints_the_image_id(runner: CliRunner, fake: FakeClient) -> None:
    result = runner.invoke(app, ["build", "pytorch-cpu", "--progress", "plain"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "sha256:feedbeef"
    assert fake.api.tags["dlenv/pytorch-cpu:latest"] == "sha256:feedbeef"
    assert "[1/2] FROM debian" in result.stderr and "built dlenv/pytorch-cpu:latest" in result.stderr


def test_failed_build_is_exit_4_and_tags_nothing(runner: CliRunner, fake: FakeClient) -> None:
    fake.api.chunks = [
        {"stream": "Step 1/2 : FROM debian\n"},
        {"stream": "Step 2/2 : RUN false\n"},
        {"error": "The command '/bin/sh -c false' returned a non-zero code: 1"},
    ]
    result = runner.invoke(app, ["build", "pytorch-cpu", "--progress", "plain"])
    assert result.exit_code == 4
    assert "The build failed at Step 2/2 : RUN false" in result.output
    assert fake.api.tags == {}


def test_disk_full_says_so(runner: CliRunner, fake: FakeClient) -> None:
    fake.api.chunks = [
        {"stream": "Step 1/1 : RUN dd if=/dev/zero of=/big\n"},
        {"error": "write /var/lib/docker/overlay2/x/diff/big: no space left on device"},
    ]
    result = runner.invoke(app, ["build", "pytorch-cpu", "--progress", "plain"])
    assert result.exit_code == 4
    assert "ran out of disk space" in result.output and "docker builder prune" in result.output


def test_build_smoke_passes_the_typed_runtime_options(
    runner: CliRunner, fake: FakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _smoke_returns(monkeypatch, GOOD)
    result = runner.invoke(app, ["build", "pytorch-cpu", "--smoke", "--progress", "plain"])
    assert result.exit_code == 0, result.output
    image, kwargs = calls[0]
    assert image == "dlenv/pytorch-cpu:latest"
    assert kwargs["runtime"].shm_size == "2g" and kwargs["runtime"].gpus is False
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines == [GOOD.as_json()]


def test_failed_smoke_is_exit_5_with_the_reason(
    runner: CliRunner, fake: FakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = SmokeResult(
        ok=False,
        framework="pytorch",
        model="lstm",
        device="cpu",
        error="loss did not fall clearly: 0.4 -> 0.39",
    )
    _smoke_returns(monkeypatch, bad, code=1)
    result = runner.invoke(app, ["build", "pytorch-cpu", "--smoke", "--progress", "plain"])
    assert result.exit_code == 5
    assert "pytorch/lstm: loss did not fall clearly" in result.output


def test_smoke_of_an_image_reads_its_labels(
    runner: CliRunner, fake: FakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = {"gpus": True, "devices": [], "group_add": [], "security_opt": [], "shm_size": "8g"}
    fake.api.images["sha256:feedbeef"].labels.update(
        {"io.dlenv.accelerator": "cuda", "io.dlenv.runtime": json.dumps(runtime)}
    )
    fake.api.tags["team/img:1"] = "sha256:feedbeef"
    calls = _smoke_returns(monkeypatch, GOOD)
    result = runner.invoke(app, ["smoke", "team/img:1", "--allow-cpu", "--json"])
    assert result.exit_code == 0, result.output
    _, kwargs = calls[0]
    assert kwargs["runtime"].gpus is True and kwargs["allow_cpu"] is True


def test_json_progress_is_one_object_per_event(runner: CliRunner, fake: FakeClient) -> None:
    result = runner.invoke(app, ["build", "pytorch-cpu", "--progress", "json"])
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    kinds = [e["event"] for e in events]
    assert kinds[-1] == "BuildFinished"
    # Notes (how the inputs reach the build) come first, then the build itself.
    started = kinds.index("BuildStarted")
    assert set(kinds[:started]) == {"Note"} and "staged" in events[0]["text"]
    assert {"step": 1, "total": 2, "text": "FROM debian"}.items() <= next(
        e for e in events if e["event"] == "BuildStep"
    ).items()


def test_auto_progress_off_a_terminal_is_plain(runner: CliRunner, fake: FakeClient) -> None:
    result = runner.invoke(app, ["build", "pytorch-cpu"])
    assert result.exit_code == 0 and "[2/2] RUN true" in result.stderr


def test_bad_progress_mode_is_a_usage_error_before_the_engine(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "connect", lambda timeout=60: pytest.fail("engine contacted"))
    result = runner.invoke(app, ["build", "pytorch-cpu", "--progress", "fancy"])
    assert result.exit_code == 2 and "--progress" in result.output
