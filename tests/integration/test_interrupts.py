"""Ctrl-C at any moment: exit 130, no traceback, nothing left behind, never a hang.

Each command that creates something (smoke, build, build --smoke, dev up, lock, push) is
interrupted at random moments and right after an engine object appears (the engine's own
container-create event). Afterwards nothing of that run may remain: no container, no tag, no
half-written lock file, no uv process. A command that already finished when the signal came
counts as such, and must have left exactly its result.

CI runs DLENV_INTERRUPT_TRIALS (default 3) trials per command and moment kind; run more locally:
    DLENV_INTERRUPT_TRIALS=20 .venv/bin/pytest tests/integration/test_interrupts.py
"""

from __future__ import annotations

import os
import random
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .conftest import REPO

TRIALS = int(os.environ.get("DLENV_INTERRUPT_TRIALS", "3"))
EXIT_BOUND = 90  # seconds from the signal to the process's exit; a hang fails with a stack dump
COUNTS: dict[str, dict[str, int]] = {}


@dataclass
class Outcome:
    code: int
    stderr: str
    seconds_to_exit: float
    signalled: bool
    created: list[str] = field(default_factory=list)


def _record(kind: str, outcome: Outcome) -> None:
    counts = COUNTS.setdefault(kind, {"interrupted": 0, "finished first": 0})
    counts["interrupted" if outcome.code == 130 else "finished first"] += 1


def _run(args: list[str], client: Any, *, delay: float | None, on_create: bool, cwd: Path = REPO) -> Outcome:
    """Start `dlenv ARGS`, send SIGINT after `delay` s or when a container is created."""
    env = {**os.environ, "PYTHONFAULTHANDLER": "1", "COLUMNS": "200"}
    created: list[str] = []
    since = int(time.time()) - 1
    started_ns = time.time_ns()
    proc = subprocess.Popen(
        [sys.executable, "-m", "builder", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    fired = threading.Event()

    def watch() -> None:
        for event in client.events(
            since=since, decode=True, filters={"type": "container", "event": "create"}
        ):
            if int(event.get("timeNano", 0)) < started_ns:
                continue  # an earlier trial's
            created.append(event.get("id", ""))
            if on_create and not fired.is_set() and proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                fired.set()
            if fired.is_set() and not on_create:
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    sent_at = time.monotonic()
    if delay is not None:
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            fired.set()
            sent_at = time.monotonic()
    elif on_create:
        deadline = time.monotonic() + 120
        while not fired.is_set() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        sent_at = time.monotonic()
    try:
        _, stderr = proc.communicate(timeout=EXIT_BOUND)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack
        _, stderr = proc.communicate(timeout=30)
        pytest.fail(f"dlenv {' '.join(args)} did not exit within {EXIT_BOUND}s of SIGINT:\n{stderr}")
    return Outcome(proc.returncode, stderr, time.monotonic() - sent_at, fired.is_set(), created)


def _check(outcome: Outcome, client: Any, leftovers: Callable[[], list[str]]) -> None:
    assert "Traceback" not in outcome.stderr, outcome.stderr[-3000:]
    assert outcome.code in (0, 130), f"exit {outcome.code}: {outcome.stderr[-3000:]}"
    if outcome.code == 130:
        assert "interrupted (SIGINT)" in outcome.stderr
    time.sleep(0.3)  # the engine finishes removing what the cleanup asked it to remove
    alive = [c for c in outcome.created if _exists(client, c)]
    assert not alive, f"containers left behind: {alive}\n{outcome.stderr[-2000:]}"
    left = leftovers()
    assert not left, f"left behind: {left}\n{outcome.stderr[-2000:]}"


def _exists(client: Any, container: str) -> bool:
    from docker.errors import NotFound

    try:
        client.api.inspect_container(container)
    except NotFound:
        return False
    return True


def _moments(typical: float) -> Iterator[tuple[float | None, bool]]:
    rng = random.Random(int(os.environ.get("DLENV_INTERRUPT_SEED", "0")) or None)
    for _ in range(TRIALS):
        yield rng.uniform(0.3, typical), False
    for _ in range(max(1, TRIALS // 2)):
        yield None, True


@pytest.fixture(scope="module")
def slow_smoke(docker_client: Any, pytorch_cpu: str) -> Iterator[str]:
    import io

    dockerfile = f"FROM {pytorch_cpu}\nENV DLENV_SMOKE_STEPS=1000000 DLENV_SMOKE_MODELS=lstm\n"
    docker_client.images.build(
        fileobj=io.BytesIO(dockerfile.encode()), tag="dlenv-test/slow-smoke:1", rm=True
    )
    yield "dlenv-test/slow-smoke:1"
    docker_client.images.remove("dlenv-test/slow-smoke:1", force=True)


def test_ctrl_c_during_smoke_removes_its_container(docker_client: Any, slow_smoke: str) -> None:
    for delay, on_create in _moments(3.0):
        outcome = _run(["smoke", slow_smoke], docker_client, delay=delay, on_create=on_create)
        _check(outcome, docker_client, lambda: [])
        assert outcome.code == 130  # this smoke test never finishes on its own
        if delay is not None and delay > 2.5:
            assert "removed container dlenv-smoke-" in outcome.stderr
        _record("smoke", outcome)


def _profile(folder: Path, *, extras: bool = True) -> tuple[Path, str]:
    name = f"irq-{secrets.token_hex(3)}"
    text = f'name: {name}\naccelerator: cpu\nos: debian12\nframeworks: {{pytorch: "2.13"}}\n'
    if extras:  # a requirement unique to this run: the extras step really runs pip
        text += f'packages: ["idna!=0.0.{secrets.randbelow(10**9)}"]\n'
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return path, name


def _tags_of(client: Any, name: str) -> Callable[[], list[str]]:
    return lambda: [t for image in client.images.list(name=f"dlenv/{name}") for t in image.tags]


@pytest.mark.parametrize("smoke", [False, True], ids=["build", "build-smoke"])
def test_ctrl_c_during_build_leaves_no_tag_and_no_build_container(
    docker_client: Any, pytorch_cpu: str, tmp_path: Path, smoke: bool
) -> None:
    for delay, on_create in _moments(6.0):
        path, name = _profile(tmp_path)
        args = ["build", str(path), "--pip-from-host", "--progress", "plain", *(["--smoke"] if smoke else [])]
        outcome = _run(args, docker_client, delay=delay, on_create=on_create)
        built = outcome.code == 0 or f"built dlenv/{name}:latest" in outcome.stderr
        if built:  # the build finished before the signal: its image stays, reported as kept
            assert _tags_of(docker_client, name)()
            if outcome.code == 130:
                assert f"kept dlenv/{name}:latest" in outcome.stderr
            for tag in _tags_of(docker_client, name)():
                docker_client.images.remove(tag, force=True)
        _check(outcome, docker_client, _tags_of(docker_client, name))
        _record("build --smoke" if smoke else "build", outcome)


def test_ctrl_c_during_dev_up_removes_the_dev_container(
    docker_client: Any, pytorch_cpu: str, tmp_path: Path
) -> None:
    from builder import names

    warm = subprocess.run(
        [
            sys.executable,
            "-m",
            "builder",
            "dev",
            "up",
            "pytorch-cpu",
            "--workspace",
            str(tmp_path),
            "--detach",
            "--pip-from-host",
            "--progress",
            "plain",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )  # builds the dev image once
    assert warm.returncode == 0, warm.stderr[-2000:]
    container = names.dev_container("pytorch-cpu")
    subprocess.run(
        [sys.executable, "-m", "builder", "dev", "down", "pytorch-cpu"], cwd=REPO, capture_output=True
    )
    for delay, on_create in _moments(1.5):
        outcome = _run(
            ["dev", "up", "pytorch-cpu", "--workspace", str(tmp_path), "--detach"],
            docker_client,
            delay=delay,
            on_create=on_create,
        )
        if outcome.code == 0:
            subprocess.run(
                [sys.executable, "-m", "builder", "dev", "down", "pytorch-cpu"], cwd=REPO, capture_output=True
            )
        _check(outcome, docker_client, lambda: [container] if _exists(docker_client, container) else [])
        _record("dev up", outcome)


def test_ctrl_c_during_lock_leaves_no_lock_and_no_resolver(docker_client: Any, tmp_path: Path) -> None:
    for delay, on_create in _moments(2.0):
        if on_create:
            continue  # lock creates no engine objects
        path, name = _profile(tmp_path)
        lock = tmp_path / f"{name}.dlenv.lock"
        outcome = _run(["lock", str(path), "--pip-from-host"], docker_client, delay=delay, on_create=False)

        def leftovers(lock: Path = lock, code: int = outcome.code) -> list[str]:
            left = [] if code == 0 else [str(lock)] if lock.exists() else []
            left += [str(p) for p in tmp_path.glob(f".{lock.name}.*")]
            uv = subprocess.run(["pgrep", "-f", "dlenv-resolve-"], capture_output=True, text=True)
            return left + [f"uv process {pid}" for pid in uv.stdout.split()]

        _check(outcome, docker_client, leftovers)
        _record("lock", outcome)


def test_ctrl_c_during_push_removes_the_new_tag(docker_client: Any, registry: str, pytorch_cpu: str) -> None:
    for delay, on_create in _moments(6.0):
        if on_create:
            continue  # push creates no container
        ref = f"{registry}/irq/push:{secrets.token_hex(3)}"
        outcome = _run(["push", pytorch_cpu, ref], docker_client, delay=delay, on_create=False)

        def leftovers(ref: str = ref, code: int = outcome.code) -> list[str]:
            tags = [
                t for i in docker_client.images.list(name=ref.rsplit(":", 1)[0]) for t in i.tags if t == ref
            ]
            return [] if code == 0 else tags

        if outcome.code == 0:
            docker_client.images.remove(ref)
        _check(outcome, docker_client, leftovers)
        _record("push", outcome)


def test_report_counts() -> None:
    """Print what the trials above saw (pytest -s shows it; the note quotes it)."""
    total = sum(sum(c.values()) for c in COUNTS.values())
    print(f"\ninterrupt trials: {total}")
    for kind, counts in sorted(COUNTS.items()):
        print(f"  {kind:14} {counts}")
    assert total > 0
