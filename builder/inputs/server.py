"""Served build inputs: choose the layout of a build, and serve its step bundles while it runs.

The server listens on a random 127.x.y.z address of this host's loopback, on a fixed port, so
the URL in the Dockerfile (http://dlenv-inputs:8700/<step>-<digest>.tar, the name mapped to
that address through the build's extra_hosts) is the same from build to build and the layer
cache keeps working. It serves exactly the bundles of one build and nothing else; bundles never
carry credentials (a profile with credentials in an index URL is built staged).
"""

from __future__ import annotations

import errno
import http.server
import random
import socket
import threading
from collections.abc import Iterable, Mapping
from types import TracebackType

from builder.engine.protocol import EngineInfo
from builder.errors import UsageError
from builder.names import INPUTS_HOST
from builder.render.layout import INPUTS_PORT, Bundle, Delivery


def choose_delivery(requested: str, facts: EngineInfo, credentials: bool) -> tuple[Delivery, str]:
    """served when the engine runs on this host in its network namespace and nothing secret
    would be served; staged otherwise. Returns the choice and why."""
    reasons = []
    if credentials:
        reasons.append("an index URL carries credentials, which are never served")
    if facts.name != socket.gethostname():
        reasons.append(f"the engine runs on another host ({facts.name or 'unknown'})")
    if facts.rootless:
        reasons.append("the engine is rootless (its host network is not this host's)")
    if requested == "staged":
        return "staged", "build inputs staged (--inputs staged)"
    if reasons:
        if requested == "served":
            raise UsageError("--inputs served is not possible here: " + "; ".join(reasons))
        return "staged", "build inputs staged in a build stage: " + "; ".join(reasons)
    return "served", "build inputs served to the install steps from this host's loopback"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    _body = True

    def do_HEAD(self) -> None:  # uv asks before it downloads a wheel
        self._answer(body=False)

    def do_GET(self) -> None:  # http.server's naming
        self._answer(body=True)

    def _answer(self, *, body: bool) -> None:
        self._body = body
        path = self.path.lstrip("/")
        if path == "wheels/":  # a find-links page, as pip and uv read them
            links = "".join(f'<a href="{name}">{name}</a><br>\n' for name in sorted(self.server.wheels))
            self._send(f"<!DOCTYPE html><html><body>\n{links}</body></html>\n".encode(), "text/html")
        elif path.startswith("wheels/") and path.removeprefix("wheels/") in self.server.wheels:
            self._send(self.server.wheels[path.removeprefix("wheels/")], "application/octet-stream")
        elif path in self.server.bundles:
            self._send(self.server.bundles[path], "application/x-tar")
        else:
            self.send_error(404)

    def _send(self, data: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self._body:
            self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # base signature
        """Silent: the build's own output says what each step did."""


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    bundles: dict[str, bytes]
    wheels: dict[str, bytes]

    def handle_error(self, request: object, client_address: object) -> None:
        """Silent: a build step that dies mid-download (full disk, Ctrl-C) drops its connection,
        and the build's own error says why; a printed traceback would only bury it."""


class InputServer:
    """Serves one build's bundles on this host's loopback; a context manager stops it."""

    def __init__(self, port: int = INPUTS_PORT, tries: int = 32) -> None:
        self._server = self._bind(port, tries)
        self._server.bundles = {}
        self._server.wheels = {}
        self._thread: threading.Thread | None = None

    @staticmethod
    def _bind(port: int, tries: int) -> _Server:
        rng = random.SystemRandom()
        for attempt in range(tries):
            # The fixed port keeps the Dockerfile (and so the layer cache) stable; only when it
            # is taken on every address tried does a random port (one uncached build) stand in.
            address = f"127.{rng.randint(1, 254)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
            try:
                return _Server((address, port if attempt < tries - 1 else 0), _Handler)
            except OSError as exc:
                if exc.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL):
                    raise
        raise OSError(errno.EADDRINUSE, "no free loopback address for the input server")

    @property
    def address(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def extra_hosts(self) -> dict[str, str]:
        return {INPUTS_HOST: self.address}

    def serve(self, bundles: Iterable[Bundle], wheels: Mapping[str, bytes] | None = None) -> None:
        """Serve the step bundles by name, and the wheelhouse as a find-links page at /wheels/."""
        self._server.bundles = {bundle.name: bundle.data for bundle in bundles}
        self._server.wheels = dict(wheels or {})
        self._thread = threading.Thread(target=self._server.serve_forever, name="dlenv-inputs", daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> InputServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
