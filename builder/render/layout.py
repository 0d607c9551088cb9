"""How a build receives its inputs and installs the frameworks: what the template renders.

Two ways to keep build inputs (pip.conf, CA bundle, wheelhouse, lock files) out of every image
layer with the classic builder, which has no `RUN --mount`:

* staged: the inputs are copied into a build stage, the virtual environment is built there and
  `COPY --from` brings it into the image. Works with any engine and with plain `docker build`
  (the checked-in `dockerfiles/`), but the environment is written, and committed, twice.
* served: `dlenv build` serves each step's inputs as a tar over this host's loopback; the step
  fetches, uses and deletes them in one `RUN`, so the environment is installed in place and
  written once. Needs an engine on this host (the RUN steps use the host's network).

The installer of the frameworks is uv when dlenv can hand the engine a uv binary for its
platform (parallel downloads and byte-compilation), pip otherwise. Extras always use pip.
"""

from __future__ import annotations

import hashlib
import io
import shlex
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from builder import names

INPUTS_PORT = 8700

Installer = Literal["pip", "uv"]
Delivery = Literal["staged", "served"]

# The served step's first command: stream its bundle from dlenv and unpack it below `/`. The
# URL is the same for the same inputs, so the engine's layer cache works as with COPY.
_FETCH = (
    "import sys, tarfile, urllib.request as r; "
    't = tarfile.open(fileobj=r.urlopen(sys.argv[1], timeout=120), mode="r|"); '
    't.extraction_filter = getattr(tarfile, "data_filter", None); '
    't.extractall("/")'
)


@dataclass(frozen=True)
class Layout:
    """The build's delivery of inputs and its framework installer (rendered, so pure data)."""

    delivery: Delivery = "staged"
    installer: Installer = "pip"
    port: int = INPUTS_PORT
    bundles: tuple[tuple[str, str], ...] = ()  # served: (step, bundle file name)

    @property
    def served(self) -> bool:
        return self.delivery == "served"

    @property
    def wheelhouse_url(self) -> str:
        """Where a served build finds the wheelhouse (a find-links page of the input server)."""
        return f"http://{names.INPUTS_HOST}:{self.port}/wheels/"

    def fetch(self, step: str) -> str:
        """The shell command that unpacks a served step's inputs (staged: none needed)."""
        name = dict(self.bundles)[step]
        url = f"http://{names.INPUTS_HOST}:{self.port}/{name}"
        return f"python3 -c {shlex.quote(_FETCH)} {url}"


STANDALONE = Layout()  # `dlenv render` and dockerfiles/: plain `docker build` must work


@dataclass(frozen=True)
class Bundle:
    """One served step's inputs: a tar of files by their absolute path in the image."""

    step: str
    data: bytes

    @property
    def name(self) -> str:
        digest = hashlib.sha256(self.data).hexdigest()
        return f"{self.step}-{digest[:32]}.tar"


def make_bundle(step: str, files: Mapping[str, bytes], executables: frozenset[str]) -> Bundle:
    """Files only, sorted, fixed owner and time: the same inputs give the same name.

    No directory entries, so unpacking below `/` never touches the metadata of `/opt`.
    """
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(files):
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size = len(files[path])
            info.mode = 0o755 if path in executables else 0o644
            tar.addfile(info, io.BytesIO(files[path]))
    return Bundle(step, buf.getvalue())
