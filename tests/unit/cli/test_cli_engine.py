"""build/smoke through the CLI against a fake engine: exit codes 3/4/5, --smoke, progress modes.

The integration tests run the same commands against the real engine; these pin down the CLI's
mapping from what the engine says to what the user sees, quickly and without Docker. The fake
implements the engine seam (builder.engine.protocol) and is handed in as the CLI's context
object: nothing inside dlenv is patched.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from builder.cli.app import app
from builder.cli.common import CliDeps
from builder.errors import BuildFailed, EngineUnavailable
from builder.events import BuildStep
from builder.smoke.report import SmokeResult
from tests.fakes import FakeEngine, scripted_build

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
def fake() -> FakeEngine:
    return FakeEngine(scripted_build("sha256:feedbeef"))


def invoke(runner: CliRunner, engine: Any, *args: str) -> Any:
    """Run the CLI with `engine` as its engine (a FakeEngine, or a callable that raises)."""
    connect = engine if callable(engine) and not isinstance(engine, FakeEngine) else (lambda timeout: engine)
    return runner.invoke(app, list(args), obj=CliDeps(connect))


def _smoke_prints(fake: FakeEngine, *results: SmokeResult, code: int = 0) -> None:
    stdout = "".join(json.dumps(r.as_json()) + "\n" for r in results)
    fake.outputs["dlenv-smoke"] = (code, stdout, "stderr tail")


def test_engine_unreachable_is_exit_3(runner: CliRunner) -> None:
    def unreachable(timeout: int = 60) -> Any:
        raise EngineUnavailable("The Docker engine at unix:///nope cannot be reached: no socket.")

    result = invoke(runner, unreachable, "build", "pytorch-cpu")
    assert result.exit_code == 3 and "cannot be reached" in result.output


def test_build_tags_after_success_and_prints_the_image_id(runner: CliRunner, fake: FakeEngine) -> None:
    result = invoke(runner, fake, "build", "pytorch-cpu", "--progress", "plain")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "sha256:feedbeef"
    assert fake.tags["dlenv/pytorch-cpu:latest"] == "sha256:feedbeef"
    assert "[1/2] FROM debian" in result.stderr and "built dlenv/pytorch-cpu:latest" in result.stderr


def test_failed_build_is_exit_4_and_tags_nothing(runner: CliRunner) -> None:
    failing = FakeEngine(
        [BuildStep(1, 2, "FROM debian"), BuildStep(2, 2, "RUN false")],
        build_error=BuildFailed("The build failed at Step 2/2 : RUN false"),
    )
    result = invoke(runner, failing, "build", "pytorch-cpu", "--progress", "plain")
    assert result.exit_code == 4
    assert "The build failed at Step 2/2 : RUN false" in result.output
    assert failing.tags == {}


def test_a_build_that_yields_no_image_is_exit_4(runner: CliRunner) -> None:
    empty = FakeEngine([BuildStep(1, 1, "FROM debian")])
    result = invoke(runner, empty, "build", "pytorch-cpu", "--progress", "plain")
    assert result.exit_code == 4 and "produced no image" in result.output and empty.tags == {}


def test_build_smoke_passes_the_typed_runtime_options(runner: CliRunner, fake: FakeEngine) -> None:
    _smoke_prints(fake, GOOD)
    result = invoke(runner, fake, "build", "pytorch-cpu", "--smoke", "--progress", "plain")
    assert result.exit_code == 0, result.output
    request = next(r for r in fake.runs if r.command[0] == "dlenv-smoke")
    assert request.image == "dlenv/pytorch-cpu:latest"
    assert request.runtime is not None and request.runtime.shm_size == "2g" and request.runtime.gpus is False
    assert request.labels["io.dlenv.run-id"] and request.name in fake.removed  # removed after the run
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines == [GOOD.as_json()]


def test_failed_smoke_is_exit_5_with_the_reason(runner: CliRunner, fake: FakeEngine) -> None:
    bad = SmokeResult(
        ok=False,
        framework="pytorch",
        model="lstm",
        device="cpu",
        error="loss did not fall clearly: 0.4 -> 0.39",
    )
    _smoke_prints(fake, bad, code=1)
    result = invoke(runner, fake, "build", "pytorch-cpu", "--smoke", "--progress", "plain")
    assert result.exit_code == 5
    assert "pytorch/lstm: loss did not fall clearly" in result.output


def test_smoke_of_an_image_reads_its_labels(runner: CliRunner, fake: FakeEngine) -> None:
    runtime = {"gpus": True, "devices": [], "group_add": [], "security_opt": [], "shm_size": "8g"}
    fake.add_image(
        "sha256:feedbeef",
        labels={"io.dlenv.accelerator": "cuda", "io.dlenv.runtime": json.dumps(runtime)},
        tags=("team/img:1",),
    )
    _smoke_prints(fake, GOOD)
    result = invoke(runner, fake, "smoke", "team/img:1", "--allow-cpu", "--json")
    assert result.exit_code == 0, result.output
    request = fake.runs[-1]
    assert request.runtime is not None and request.runtime.gpus is True
    assert request.devices is False and "--allow-cpu" in request.command


def test_json_progress_is_one_object_per_event(runner: CliRunner, fake: FakeEngine) -> None:
    result = invoke(runner, fake, "build", "pytorch-cpu", "--progress", "json")
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


def test_auto_progress_off_a_terminal_is_plain(runner: CliRunner, fake: FakeEngine) -> None:
    result = invoke(runner, fake, "build", "pytorch-cpu")
    assert result.exit_code == 0 and "[2/2] RUN true" in result.stderr


def test_bad_progress_mode_is_a_usage_error_before_the_engine(runner: CliRunner) -> None:
    result = invoke(
        runner, lambda timeout: pytest.fail("engine contacted"), "build", "pytorch-cpu", "--progress", "fancy"
    )
    assert result.exit_code == 2 and "--progress" in result.output
