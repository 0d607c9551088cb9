"""DOCKER_HOST=tcp://…: build, smoke and doctor through the SDK's remote (TCP) transport.

The "remote" engine is this host's engine behind a loopback TCP relay, so the test needs no
second machine but exercises exactly what a tcp:// DOCKER_HOST does.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import dlenv


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Relay(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        engine = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        engine.connect("/var/run/docker.sock")
        back = threading.Thread(target=_pump, args=(engine, self.request), daemon=True)
        back.start()
        _pump(self.request, engine)
        back.join(timeout=5)
        engine.close()


@pytest.fixture(scope="module")
def tcp_host(docker_client: Any) -> Iterator[str]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Relay)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"tcp://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_build_and_smoke_over_tcp(tcp_host: str) -> None:
    env = {"DOCKER_HOST": tcp_host}
    build = dlenv("build", "pytorch-cpu", "--pip-from-host", "--progress", "plain", env=env)
    assert build.code == 0, build.stderr[-3000:]
    assert f"on {tcp_host}" in build.stderr
    smoke = dlenv("smoke", "pytorch-cpu", "--json", env=env)
    assert smoke.code == 0, smoke.stderr[-3000:]
    assert all(r["ok"] for r in smoke.json_lines())


def test_doctor_reports_the_remote_engine(tcp_host: str) -> None:
    run = dlenv("doctor", "--profile", "pytorch-cpu", "--json", env={"DOCKER_HOST": tcp_host})
    assert run.code == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["host"]["docker"]["address"] == tcp_host
    assert report["host"]["docker"]["reachable"] is True
