"""Files every build context carries besides the Dockerfile: the smoke scripts baked into the
image, and the stand-in pip.conf of a plain `docker build` (dockerfiles/, .devcontainer/)."""

from __future__ import annotations

from builder import paths
from builder.image_paths import CONTEXT_SMOKE

PIP_CONF_PLACEHOLDER = (
    "# pip settings for the build stage only; `dlenv build` writes the real one\n"
    "# (index URLs, find-links wheelhouse, CA bundle). Empty means pip's defaults.\n"
    "[global]\n"
)


def smoke_files() -> dict[str, bytes]:
    """The smoke scripts baked into every image, by path inside the build context."""
    out: dict[str, bytes] = {}
    for path in sorted(paths.smoke_scripts_dir().iterdir()):
        if path.is_file() and not path.name.startswith((".", "__")) and path.suffix != ".pyc":
            out[f"{CONTEXT_SMOKE}/{path.name}"] = path.read_bytes()
    return out
